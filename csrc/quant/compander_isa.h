// The compander's forward map (ToUniform) exists in one copy per instruction set, each in its own namespace
// (compander_cpu.cpp compiled with different flags); quant_cpu.cpp calls the one of common/cpu_isa.h.
#pragma once

#include <cstdint>

#include "quant.h"

namespace walloc {
namespace quant {

#define WALLOC_DECLARE_COMPANDER_CPU(isa)                                                   \
  namespace isa {                                                                           \
  template <typename T>                                                                     \
  void to_uniform_span(const T* x, T* y, int64_t begin, int64_t end, const Params& p);     \
  }

WALLOC_DECLARE_COMPANDER_CPU(baseline)
#if defined(WALLOC_X86_ISAS)
WALLOC_DECLARE_COMPANDER_CPU(avx2)
WALLOC_DECLARE_COMPANDER_CPU(avx512)
#endif

#undef WALLOC_DECLARE_COMPANDER_CPU

}  // namespace quant
}  // namespace walloc
