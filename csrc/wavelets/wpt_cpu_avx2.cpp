// wpt_cpu.cpp for CPUs with AVX2 (x86-64-v3).
#define WALLOC_CPU_ISA avx2
#define WALLOC_CPU_TARGET "arch=x86-64-v3"
#define WALLOC_CPU_VECTOR_BYTES 32
#define WALLOC_CPU_BAND_ROWS 2
#include "wpt_cpu.cpp"
