// CPU quantization kernels: the formulas of quant_math.h over blocks of elements on threads.
#include <algorithm>
#include <type_traits>

#include "../common/parallel.h"
#include "quant_math.h"

namespace walloc {
namespace quant {
namespace {
struct NoScratch {};
constexpr int64_t kBlock = 1 << 12;
}  // namespace

// ToUniform as apply() computes it, in loops that vectorise when no |x| in the span is past erf_small's bound (the
// test in flags as wide as x, so SSE2 vectorises it too); a span with one goes element by element.
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

template <typename T>
void elementwise_cpu(Op op, const T* x, const T* g, T* y, int64_t n, const Params& p, int threads) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for_with_scratch(blocks, threads, [] { return NoScratch{}; }, [&](NoScratch&, int64_t b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    if (op == Op::ToUniform) return to_uniform_span(x, y, b * kBlock, end, p);
    for (int64_t i = b * kBlock; i < end; ++i) y[i] = apply<T>(op, x[i], g ? g[i] : T(0), i, p);
  });
}

template void elementwise_cpu<float>(Op, const float*, const float*, float*, int64_t, const Params&, int);
template void elementwise_cpu<double>(Op, const double*, const double*, double*, int64_t, const Params&, int);

}  // namespace quant
}  // namespace walloc
