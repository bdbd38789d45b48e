#include "cpu_isa.h"

#include <cstdlib>
#include <cstring>

namespace walloc {
namespace {

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
  // WALLOC_CPU_ISA, WALLOC_ISA's earlier name, takes baseline | avx2; walloc's Python side rejects other values
  // before any kernel runs.
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

}  // namespace

Isa cpu_isa() {
  static const Isa chosen = detect();
  return chosen;
}

const char* cpu_isa_name() {
  switch (cpu_isa()) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    default:
      return "baseline";
  }
}

}  // namespace walloc
