// pixels_cpu.cpp for CPUs with AVX2 and FMA (x86-64-v3).
#define WALLOC_CPU_ISA avx2
#define WALLOC_CPU_TARGET "arch=x86-64-v3"
#include "pixels_cpu.cpp"
