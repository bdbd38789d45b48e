// The CPU pointwise map exists in one copy per instruction set, each in its own namespace (pointwise_cpu.cpp
// compiled with different flags); pointwise_cpu_dispatch.cpp picks the one of common/cpu_isa.h.
#pragma once

#include "pointwise.h"

namespace walloc {
namespace linear {

#define WALLOC_DECLARE_POINTWISE_CPU(isa)                                                                      \
  namespace isa {                                                                                             \
  template <typename T>                                                                                       \
  void pointwise_cpu(const T* x, const T* weight, const T* bias, T* y, const PointwiseShape& shape,           \
                     int threads);                                                                            \
  }

WALLOC_DECLARE_POINTWISE_CPU(baseline)
#if defined(WALLOC_X86_ISAS)
WALLOC_DECLARE_POINTWISE_CPU(avx2)
WALLOC_DECLARE_POINTWISE_CPU(avx512)
#endif

#undef WALLOC_DECLARE_POINTWISE_CPU

}  // namespace linear
}  // namespace walloc
