// The compander's forward map (ToUniform, as quant_math.h's apply() computes it) over a span of elements, in
// loops that vectorise. Compiled for the baseline and for AVX2 and AVX-512 like wpt_cpu.cpp (WALLOC_CPU_ISA names
// this copy's namespace, WALLOC_CPU_TARGET its target) and without FMAs: one fixed sequence of double operations,
// so every copy gives the same bits; wider vectors hold more of the doubles the polynomial is evaluated in.
#include <type_traits>

#include "compander_isa.h"
#include "quant_math.h"
#include "../common/cpu_target.h"  // last: the target applies to what follows

namespace walloc {
namespace quant {
namespace WALLOC_CPU_ISA {

// Vectorised when no |x| in the span is past erf_small's bound (the test in flags as wide as x, so SSE2 vectorises
// it too); a span with one goes element by element.
template <typename T>
void to_uniform_span(const T* x, T* y, int64_t begin, int64_t end, const Params& p) {
  const T bound = erf_small_bound<T>(p);
  std::conditional_t<sizeof(T) == 4, int32_t, int64_t> beyond = 0;
  for (int64_t i = begin; i < end; ++i) beyond |= (x[i] > bound) | (x[i] < -bound);
  if (beyond) {
    for (int64_t i = begin; i < end; ++i) y[i] = to_uniform(x[i], p);
    return;
  }
  for (int64_t i = begin; i < end; ++i) y[i] = T(p.latent_max * erf_small(compander_z(double(x[i]), p)));
}

template void to_uniform_span<float>(const float*, float*, int64_t, int64_t, const Params&);
template void to_uniform_span<double>(const double*, double*, int64_t, int64_t, const Params&);

}  // namespace WALLOC_CPU_ISA
}  // namespace quant
}  // namespace walloc
