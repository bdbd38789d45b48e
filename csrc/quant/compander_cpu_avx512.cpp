// compander_cpu.cpp for CPUs with AVX-512 (x86-64-v4): eight doubles a vector.
#define WALLOC_CPU_ISA avx512
#define WALLOC_CPU_TARGET "arch=x86-64-v4,prefer-vector-width=512"
#include "compander_cpu.cpp"
