// wpt_cpu.cpp for CPUs with AVX-512 (x86-64-v4).
#define WALLOC_CPU_ISA avx512
#define WALLOC_CPU_TARGET "arch=x86-64-v4,prefer-vector-width=512"
#define WALLOC_CPU_VECTOR_BYTES 64
#include "wpt_cpu.cpp"
