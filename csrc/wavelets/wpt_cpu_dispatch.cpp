// Runtime choice among the per-instruction-set copies of the CPU packet-transform kernels.
#include "../common/cpu_isa.h"
#include "wpt_cpu_isa.h"

namespace walloc {

template <typename T>
void wpt1d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t length, const PolyphaseBank& bank,
               const LiftingScheme& lifting, int levels, int threads) {
#if defined(WALLOC_X86_ISAS)
  const Isa isa = cpu_isa();
  if (isa == Isa::Avx512) return avx512::wpt1d_cpu<T>(kind, x, y, planes, length, bank, lifting, levels, threads);
  if (isa == Isa::Avx2) return avx2::wpt1d_cpu<T>(kind, x, y, planes, length, bank, lifting, levels, threads);
#endif
  baseline::wpt1d_cpu<T>(kind, x, y, planes, length, bank, lifting, levels, threads);
}

template <typename T>
void wpt2d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t height, int64_t width,
               const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads, T shift) {
#if defined(WALLOC_X86_ISAS)
  const Isa isa = cpu_isa();
  if (isa == Isa::Avx512) {
    return avx512::wpt2d_cpu<T>(kind, x, y, planes, height, width, bank, lifting, levels, threads, shift);
  }
  if (isa == Isa::Avx2) {
    return avx2::wpt2d_cpu<T>(kind, x, y, planes, height, width, bank, lifting, levels, threads, shift);
  }
#endif
  baseline::wpt2d_cpu<T>(kind, x, y, planes, height, width, bank, lifting, levels, threads, shift);
}

template void wpt1d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, const PolyphaseBank&,
                                const LiftingScheme&, int, int);
template void wpt1d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, const PolyphaseBank&,
                                 const LiftingScheme&, int, int);
template void wpt2d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, int64_t, const PolyphaseBank&,
                                const LiftingScheme&, int, int, float);
template void wpt2d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, int64_t, const PolyphaseBank&,
                                 const LiftingScheme&, int, int, double);

}  // namespace walloc
