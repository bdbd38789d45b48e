// predictive_encode_cpu.cpp for CPUs with AVX2 (x86-64-v3), in 128-bit vectors: three-operand forms and
// pmulld for the baseline's 16-byte loops. 256-bit loops made the analysis faster alone but the rest of the
// encoder slower on the Xeon measured (lower clocks after wide integer multiplies), and the whole no faster.
#define WALLOC_CPU_ISA avx2
#define WALLOC_CPU_TARGET "arch=x86-64-v3,prefer-vector-width=128"
#include "predictive_encode_cpu.cpp"
