// pointwise_cpu.cpp for CPUs with AVX2 (x86-64-v3).
#define WALLOC_CPU_ISA avx2
#define WALLOC_CPU_TARGET "arch=x86-64-v3"
#define WALLOC_CPU_VECTOR_BYTES 32
#include "pointwise_cpu.cpp"
