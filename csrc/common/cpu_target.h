// For a kernel file compiled once per instruction set (wpt_cpu.cpp, predictive_encode_cpu.cpp): its copy's
// namespace, WALLOC_CPU_ISA (baseline unless the including wrapper names another), and its target,
// WALLOC_CPU_TARGET, set by pragma for every function defined after this header. Include it after every other
// header, so inline library code shared with other files (std::vector) stays baseline and the linker can never
// pick a wider copy of it for a CPU without the instructions. Deliberately without an include guard.
#ifndef WALLOC_CPU_ISA
#define WALLOC_CPU_ISA baseline
#endif
#ifdef WALLOC_CPU_TARGET
#define WALLOC_PRAGMA(x) _Pragma(#x)
#define WALLOC_TARGET_PRAGMA(flags) WALLOC_PRAGMA(GCC target(flags))
WALLOC_TARGET_PRAGMA(WALLOC_CPU_TARGET)
#endif
