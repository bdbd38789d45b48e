// The instruction set the CPU kernels that exist in several copies (the wavelet packets, the predictive
// encoder's analysis) run on this machine: the widest the CPU runs, unless the environment variable
// WALLOC_ISA=sse2|avx2|avx512 lowers it (for tests and comparisons; it never raises it past the CPU).
#pragma once

namespace walloc {

enum class Isa { Baseline = 0, Avx2 = 1, Avx512 = 2 };

// Chosen once, at the first call.
Isa cpu_isa();

// "avx512", "avx2" or "baseline" (x86-64's SSE2).
const char* cpu_isa_name();

}  // namespace walloc
