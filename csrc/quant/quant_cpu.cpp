// CPU quantization kernels: the formulas of quant_math.h over blocks of elements on threads (the compander's
// forward map in compander_cpu.cpp, one copy per instruction set).
#include <algorithm>

#include "../common/cpu_isa.h"
#include "../common/parallel.h"
#include "compander_isa.h"
#include "quant_math.h"

namespace walloc {
namespace quant {
namespace {
struct NoScratch {};
constexpr int64_t kBlock = 1 << 12;
}  // namespace

// The copy of the compander for this machine's instruction set.
template <typename T>
void to_uniform_span(const T* x, T* y, int64_t begin, int64_t end, const Params& p) {
#if defined(WALLOC_X86_ISAS)
  const Isa isa = cpu_isa();
  if (isa == Isa::Avx512) return avx512::to_uniform_span(x, y, begin, end, p);
  if (isa == Isa::Avx2) return avx2::to_uniform_span(x, y, begin, end, p);
#endif
  baseline::to_uniform_span(x, y, begin, end, p);
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
