// The per-core L2 cache size the CPU kernels block for: WALLOC_L2_BYTES if set (bytes, or with a K or M suffix:
// "512K"), else what Linux reports for this CPU (sysfs), else 512 KiB. Read once, at the first call, so tests
// and benches can block every kernel as for another CPU.
#pragma once

#include <cstdint>

namespace walloc {

// The cache line of every x86-64 CPU (and most others): what one prefetch brings in.
constexpr int64_t kCacheLineBytes = 64;

int64_t l2_cache_bytes();

}  // namespace walloc
