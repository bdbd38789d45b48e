// pointwise_cpu.cpp for CPUs with AVX-512 (x86-64-v4): 32 vector registers, so four vectors a row of outputs.
#define WALLOC_CPU_ISA avx512
#define WALLOC_CPU_TARGET "arch=x86-64-v4,prefer-vector-width=512"
#define WALLOC_CPU_VECTOR_BYTES 64
#define WALLOC_CPU_VECTORS_PER_ROW 4
#include "pointwise_cpu.cpp"
