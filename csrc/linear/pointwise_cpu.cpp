// CPU pointwise map (see pointwise.h). Work items are tiles of one item's samples, on threads; a tile's outputs
// are computed kRows at a time, over blocks of kVectorsPerRow vectors of samples, whose kRows x kVectorsPerRow
// accumulators stay in registers while every input channel's vectors stream past once. A tile is as wide as lets
// its inputs (in_channels rows) take a quarter of L2 (common/cpu_cache.h), so every group of outputs reads them
// from there. Samples past the last whole vector are copied into a vector's width and computed as one: every
// lane runs the same operations in the same order, so all bits match.
//
// This file is compiled once per instruction set (see pointwise_isa.h), like csrc/wavelets/wpt_cpu.cpp, and
// with -ffp-contract=off: every copy gives the same bits, wider vectors only hold more samples.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../common/cpu_cache.h"
#include "../common/parallel.h"
#include "pointwise_isa.h"
#include "../common/cpu_target.h"  // last but cpu_vector.h: the target applies to what follows
#include "../common/cpu_vector.h"  // vectors as wide as this copy's registers

namespace walloc {
namespace linear {
namespace WALLOC_CPU_ISA {
namespace {

using namespace ::walloc::WALLOC_CPU_ISA;  // this copy's vectors (common/cpu_vector.h)

// Accumulators a block keeps: kRows x kVectorsPerRow, plus that many input vectors, within the 16 vector
// registers of SSE2 and AVX2 (32 with AVX-512, which takes four vectors a row).
#ifdef WALLOC_CPU_VECTORS_PER_ROW
constexpr int kVectorsPerRow = WALLOC_CPU_VECTORS_PER_ROW;
#else
constexpr int kVectorsPerRow = 2;
#endif
constexpr int kRows = 6;
constexpr int64_t kMaxTile = 1024;  // samples a work item at most, so that an item's tiles share out on threads
// Each channel row's lines are read once a block, from L2 or L3, at another page each: no hardware prefetcher
// follows that many streams, so blocks of AVX2 and SSE2, short enough to wait on them, ask for their rows' lines
// this many blocks ahead. AVX-512 blocks (four lines a row) run as fast without, and slower with on two threads.
constexpr int kPrefetchBlocks = kVectorBytes < 64 ? 4 : 0;

template <typename T>
inline Vec<T> broadcast(T value) {
  Vec<T> v;
  for (int l = 0; l < kLanesOf<T>; ++l) v[l] = value;  // not 0 + value, which would turn a -0 bias into +0
  return v;
}

// Outputs [0, G) of weight rows w (stride in_channels) at samples [0, U lanes) of x (channel stride size).
template <typename T, int G, int U>
inline __attribute__((always_inline)) void block(const T* x, const T* w, const T* b, T* y, int64_t in_channels,
                                                 int64_t size) {
  constexpr int L = kLanesOf<T>;
  Vec<T> acc[G][U];
  for (int g = 0; g < G; ++g) {
    for (int u = 0; u < U; ++u) acc[g][u] = broadcast(b[g]);
  }
  for (int64_t c = 0; c < in_channels; ++c) {
    Vec<T> in[U];
    for (int u = 0; u < U; ++u) in[u] = load(x + c * size + u * L);
    if constexpr (kPrefetchBlocks > 0) {
      // An address past the input's end is harmless to prefetch; taken as an integer, as it is no pointer.
      const uintptr_t ahead = reinterpret_cast<uintptr_t>(x + c * size) + kPrefetchBlocks * U * sizeof(Vec<T>);
      for (int64_t u = 0; u < U * int64_t(sizeof(Vec<T>)); u += kCacheLineBytes) {
        __builtin_prefetch(reinterpret_cast<const void*>(ahead + u));
      }
    }
    for (int g = 0; g < G; ++g) {
      const T weight = w[g * in_channels + c];
      for (int u = 0; u < U; ++u) acc[g][u] = acc[g][u] + weight * in[u];
    }
  }
  for (int g = 0; g < G; ++g) {
    for (int u = 0; u < U; ++u) store(y + g * size + u * L, acc[g][u]);
  }
}

// Outputs [0, G) at samples [begin, end) of one item: whole blocks, whole vectors, then the rest from `staged`
// (the rest's inputs, in_channels rows of one vector; lanes past the rest are computed and dropped).
template <typename T, int G>
void rows(const T* x, const T* w, const T* b, T* y, int64_t in_channels, int64_t size, int64_t begin, int64_t end,
          const T* staged) {
  constexpr int L = kLanesOf<T>;
  int64_t s = begin;
  for (; s + kVectorsPerRow * L <= end; s += kVectorsPerRow * L) {
    block<T, G, kVectorsPerRow>(x + s, w, b, y + s, in_channels, size);
  }
  for (; s + L <= end; s += L) block<T, G, 1>(x + s, w, b, y + s, in_channels, size);
  if (s < end) {
    T out[G * L];
    block<T, G, 1>(staged, w, b, out, in_channels, L);
    for (int g = 0; g < G; ++g) std::memcpy(y + g * size + s, out + g * L, sizeof(T) * (end - s));
  }
}

template <typename T, int G>
void rows_of_group(int group, const T* x, const T* w, const T* b, T* y, int64_t in_channels, int64_t size,
                   int64_t begin, int64_t end, const T* staged) {
  if constexpr (G > 1) {
    if (group < G) return rows_of_group<T, G - 1>(group, x, w, b, y, in_channels, size, begin, end, staged);
  }
  rows<T, G>(x, w, b, y, in_channels, size, begin, end, staged);
}

// Samples a work item: whole blocks whose inputs fill at most a quarter of L2, at least one block.
template <typename T>
int64_t tile_samples(int64_t in_channels) {
  const int64_t block = kVectorsPerRow * kLanesOf<T>;
  const int64_t fit = l2_cache_bytes() / 4 / (std::max<int64_t>(in_channels, 1) * int64_t(sizeof(T)));
  return std::clamp<int64_t>(fit / block * block, block, kMaxTile);
}

}  // namespace

template <typename T>
void pointwise_cpu(const T* x, const T* weight, const T* bias, T* y, const PointwiseShape& shape, int threads) {
  constexpr int L = kLanesOf<T>;
  const int64_t in_channels = shape.in_channels, size = shape.size, tile = tile_samples<T>(in_channels);
  const int64_t tiles = (size + tile - 1) / tile;
  auto make_staging = [&] { return std::vector<T>(size_t(in_channels * L), T(0)); };
  parallel_for_with_scratch(shape.batch * tiles, threads, make_staging, [&](std::vector<T>& staged, int64_t item) {
    const int64_t n = item / tiles, begin = (item % tiles) * tile, end = std::min(size, begin + tile);
    const T* in = x + n * in_channels * size;
    T* out = y + n * shape.out_channels * size;
    if (const int64_t rest = (end - begin) % L) {
      for (int64_t c = 0; c < in_channels; ++c) {
        std::memcpy(staged.data() + c * L, in + c * size + end - rest, sizeof(T) * rest);
      }
    }
    for (int64_t o = 0; o < shape.out_channels; o += kRows) {
      const int group = int(std::min<int64_t>(kRows, shape.out_channels - o));
      rows_of_group<T, kRows>(group, in, weight + o * in_channels, bias + o, out + o * size, in_channels, size,
                              begin, end, staged.data());
    }
  });
}

template void pointwise_cpu<float>(const float*, const float*, const float*, float*, const PointwiseShape&, int);
template void pointwise_cpu<double>(const double*, const double*, const double*, double*, const PointwiseShape&,
                                    int);

}  // namespace WALLOC_CPU_ISA
}  // namespace linear
}  // namespace walloc
