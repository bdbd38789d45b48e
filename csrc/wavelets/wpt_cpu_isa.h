// The CPU packet-transform kernels exist in one copy per instruction set, each in its own namespace
// (wpt_cpu.cpp compiled with different flags); wpt_cpu_dispatch.cpp picks the widest the CPU runs.
#pragma once

#include "polyphase.h"

namespace walloc {

#define WALLOC_DECLARE_WPT_CPU(isa)                                                                           \
  namespace isa {                                                                                             \
  template <typename T>                                                                                       \
  void wpt1d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t length, const PolyphaseBank& bank,  \
                 const LiftingScheme& lifting, int levels, int threads);                                       \
  template <typename T>                                                                                       \
  void wpt2d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t height, int64_t width,              \
                 const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads);            \
  }

WALLOC_DECLARE_WPT_CPU(baseline)
#if defined(WALLOC_X86_ISAS)
WALLOC_DECLARE_WPT_CPU(avx2)
WALLOC_DECLARE_WPT_CPU(avx512)
#endif

#undef WALLOC_DECLARE_WPT_CPU

// The instruction set the dispatcher uses on this CPU: "avx512", "avx2" or "baseline" (x86-64's SSE2). The
// environment variable WALLOC_ISA=sse2|avx2|avx512 can lower it (for tests and comparisons), never raise it past
// what the CPU runs.
const char* wpt_cpu_isa();

}  // namespace walloc
