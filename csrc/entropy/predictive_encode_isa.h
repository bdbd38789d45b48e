// The predictive encoder's analysis exists in a baseline and an AVX2 copy, each in its own namespace
// (predictive_encode_cpu.cpp compiled with different flags); predictive_cpu.cpp calls the AVX2 one on CPUs
// with AVX2 or AVX-512 (an AVX-512 copy was slower on a Xeon that has it). The functions are those of
// predictive.h.
#pragma once

#include "predictive.h"

namespace walloc {
namespace predictive {

#define WALLOC_DECLARE_PREDICTIVE_ENCODE_CPU(isa)                                                           \
  namespace isa {                                                                                         \
  void fit_weights_cpu(const int32_t* symbols, const Planes& planes, int8_t* weights, int threads);       \
  void analyse_cpu(const int32_t* symbols, const Planes& planes, int32_t* errors, int32_t* contexts,      \
                   int threads);                                                                          \
  void choose_scales_cpu(const int32_t* errors, const int32_t* contexts, const Planes& planes,            \
                         const int32_t* cost, int reach, int scales, int32_t* chosen, int32_t* rows,      \
                         int threads);                                                                    \
  }

WALLOC_DECLARE_PREDICTIVE_ENCODE_CPU(baseline)
#if defined(WALLOC_X86_ISAS)
WALLOC_DECLARE_PREDICTIVE_ENCODE_CPU(avx2)
#endif

#undef WALLOC_DECLARE_PREDICTIVE_ENCODE_CPU

}  // namespace predictive
}  // namespace walloc
