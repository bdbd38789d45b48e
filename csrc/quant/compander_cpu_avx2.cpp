// compander_cpu.cpp for CPUs with AVX2 (x86-64-v3): four doubles a vector instead of two.
#define WALLOC_CPU_ISA avx2
#define WALLOC_CPU_TARGET "arch=x86-64-v3"
#include "compander_cpu.cpp"
