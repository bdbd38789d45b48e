// Parallel loops over independent work items (planes, chunks) on the CPU.
#pragma once

#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace walloc {

// Runs body(scratch, i) for i in [0, count) on up to `threads` threads. Each thread builds one Scratch with
// make_scratch() and reuses it for all its items, so per-item allocations stay out of the hot loop.
template <typename MakeScratch, typename Body>
void parallel_for_with_scratch(int64_t count, int threads, MakeScratch make_scratch, Body body) {
  if (count <= 0) return;
  if (threads < 1) threads = 1;
  if (threads > count) threads = static_cast<int>(count);
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    {
      auto scratch = make_scratch();
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < count; ++i) body(scratch, i);
    }
    return;
  }
#endif
  auto scratch = make_scratch();
  for (int64_t i = 0; i < count; ++i) body(scratch, i);
}

}  // namespace walloc
