// CPU quantization kernels: the formulas of quant_math.h over blocks of elements on threads.
#include <algorithm>

#include "../common/parallel.h"
#include "quant_math.h"

namespace walloc {
namespace quant {
namespace {
struct NoScratch {};
constexpr int64_t kBlock = 1 << 12;
}  // namespace

template <typename T>
void elementwise_cpu(Op op, const T* x, const T* g, T* y, int64_t n, const Params& p, int threads) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for_with_scratch(blocks, threads, [] { return NoScratch{}; }, [&](NoScratch&, int64_t b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    for (int64_t i = b * kBlock; i < end; ++i) y[i] = apply<T>(op, x[i], g ? g[i] : T(0), i, p);
  });
}

template void elementwise_cpu<float>(Op, const float*, const float*, float*, int64_t, const Params&, int);
template void elementwise_cpu<double>(Op, const double*, const double*, double*, int64_t, const Params&, int);

}  // namespace quant
}  // namespace walloc
