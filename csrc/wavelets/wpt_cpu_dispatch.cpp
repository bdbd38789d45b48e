// Runtime choice among the per-instruction-set copies of the CPU packet-transform kernels.
#include <cstdlib>
#include <cstring>

#include "wpt_cpu_isa.h"

namespace walloc {
namespace {

enum class Isa { Baseline = 0, Avx2 = 1, Avx512 = 2 };

Isa detect() {
  Isa best = Isa::Baseline;
#if defined(WALLOC_X86_ISAS)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2")) {
    best = Isa::Avx2;
  }
  if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    best = Isa::Avx512;
  }
#endif
  // WALLOC_ISA (sse2 | avx2 | avx512; WALLOC_CPU_ISA, its earlier name, takes baseline | avx2) caps the choice;
  // walloc's Python side rejects other values before any kernel runs.
  const char* requested = std::getenv("WALLOC_ISA");
  if (requested == nullptr) requested = std::getenv("WALLOC_CPU_ISA");
  if (requested != nullptr) {
    Isa cap = best;
    if (std::strcmp(requested, "sse2") == 0 || std::strcmp(requested, "baseline") == 0) cap = Isa::Baseline;
    if (std::strcmp(requested, "avx2") == 0) cap = Isa::Avx2;
    if (cap < best) best = cap;
  }
  return best;
}

Isa isa() {
  static const Isa chosen = detect();
  return chosen;
}

}  // namespace

const char* wpt_cpu_isa() {
  switch (isa()) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    default:
      return "baseline";
  }
}

template <typename T>
void wpt1d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t length, const PolyphaseBank& bank,
               const LiftingScheme& lifting, int levels, int threads) {
#if defined(WALLOC_X86_ISAS)
  if (isa() == Isa::Avx512) return avx512::wpt1d_cpu<T>(kind, x, y, planes, length, bank, lifting, levels, threads);
  if (isa() == Isa::Avx2) return avx2::wpt1d_cpu<T>(kind, x, y, planes, length, bank, lifting, levels, threads);
#endif
  baseline::wpt1d_cpu<T>(kind, x, y, planes, length, bank, lifting, levels, threads);
}

template <typename T>
void wpt2d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t height, int64_t width,
               const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads) {
#if defined(WALLOC_X86_ISAS)
  if (isa() == Isa::Avx512) return avx512::wpt2d_cpu<T>(kind, x, y, planes, height, width, bank, lifting, levels, threads);
  if (isa() == Isa::Avx2) return avx2::wpt2d_cpu<T>(kind, x, y, planes, height, width, bank, lifting, levels, threads);
#endif
  baseline::wpt2d_cpu<T>(kind, x, y, planes, height, width, bank, lifting, levels, threads);
}

template void wpt1d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, const PolyphaseBank&,
                                const LiftingScheme&, int, int);
template void wpt1d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, const PolyphaseBank&,
                                 const LiftingScheme&, int, int);
template void wpt2d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, int64_t, const PolyphaseBank&,
                                const LiftingScheme&, int, int);
template void wpt2d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, int64_t, const PolyphaseBank&,
                                 const LiftingScheme&, int, int);

}  // namespace walloc
