// Runtime choice among the per-instruction-set copies of the CPU pointwise map.
#include "../common/cpu_isa.h"
#include "pointwise_isa.h"

namespace walloc {
namespace linear {

template <typename T>
void pointwise_cpu(const T* x, const T* weight, const T* bias, T* y, const PointwiseShape& shape, int threads) {
#if defined(WALLOC_X86_ISAS)
  const Isa isa = cpu_isa();
  if (isa == Isa::Avx512) return avx512::pointwise_cpu<T>(x, weight, bias, y, shape, threads);
  if (isa == Isa::Avx2) return avx2::pointwise_cpu<T>(x, weight, bias, y, shape, threads);
#endif
  baseline::pointwise_cpu<T>(x, weight, bias, y, shape, threads);
}

template void pointwise_cpu<float>(const float*, const float*, const float*, float*, const PointwiseShape&, int);
template void pointwise_cpu<double>(const double*, const double*, const double*, double*, const PointwiseShape&,
                                    int);

}  // namespace linear
}  // namespace walloc
