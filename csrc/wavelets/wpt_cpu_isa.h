// The CPU packet-transform kernels exist in one copy per instruction set, each in its own namespace
// (wpt_cpu.cpp compiled with different flags); wpt_cpu_dispatch.cpp picks the one of common/cpu_isa.h.
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
                 const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads, T shift);   \
  }

WALLOC_DECLARE_WPT_CPU(baseline)
#if defined(WALLOC_X86_ISAS)
WALLOC_DECLARE_WPT_CPU(avx2)
WALLOC_DECLARE_WPT_CPU(avx512)
#endif

#undef WALLOC_DECLARE_WPT_CPU

}  // namespace walloc
