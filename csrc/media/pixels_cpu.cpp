// CPU: a run of image rows, of every channel, per thread. Interleaved rows (channel stride 1, column stride C, the
// layout of decoded files) are read once, in order: uint8 ones widened to float and mapped in a row buffer (one
// loop over the row, in the widest vectors: the map is the same for every channel), then dealt out to the planes,
// RGB four pixels at a time by SSE2 shuffles (x86-64's baseline); float ones mapped as they are dealt out. Other
// layouts go element by element. Every value is float(pixel) / divisor - shift, both operations rounded, in
// vectors or not; a divisor of 1 (float pixels already in [0, 1]) skips the division, which leaves every value as
// it is.
//
// This file is compiled once per instruction set (see pixels_isa.h). The division bounds the uint8 pass, at one a
// sample; the AVX2 copy replaces it by a multiplication with the reciprocal corrected by two FMAs (Markstein's
// correctly rounded quotient) when a check of all 256 values shows that gives the division's bits.
#include <algorithm>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "../common/parallel.h"
#include "pixels_isa.h"
#include "../common/cpu_target.h"  // last: the target applies to what follows

namespace walloc {
namespace media {
namespace WALLOC_CPU_ISA {
namespace {

// float(pixel) / divisor - shift, with the division only where kDivide (a divisor other than 1).
template <bool kDivide>
struct ToPlane {
  float divisor, shift;

  template <typename In>
  float operator()(In x) const {
    return kDivide ? float(x) / divisor - shift : float(x) - shift;
  }
#if defined(__SSE2__)
  __m128 operator()(__m128 x) const {
    return _mm_sub_ps(kDivide ? _mm_div_ps(x, _mm_set1_ps(divisor)) : x, _mm_set1_ps(shift));
  }
#endif
};

// The values as they are: the map of pixels whose row buffer already holds their planes' values.
struct AsIs {
  float operator()(float x) const { return x; }
#if defined(__SSE2__)
  __m128 operator()(__m128 x) const { return x; }
#endif
};

#if defined(__FMA__)
// ToPlane<true> for uint8 pixels where quotient() gives the division's bits for each of the 256: q = x r with r =
// 1 / divisor rounded, then q + (x - q divisor) r, each FMA rounded once (the same operations in the loops the
// compiler vectorises).
struct ToPlaneByReciprocal {
  float divisor, shift, reciprocal = 1.0f / divisor;

  float quotient(float x) const {
    const float q = x * reciprocal;
    return __builtin_fmaf(__builtin_fmaf(-q, divisor, x), reciprocal, q);
  }

  bool exact() const {
    for (int x = 0; x < 256; ++x) {
      if (quotient(float(x)) != float(x) / divisor) return false;
    }
    return true;
  }

  float operator()(float x) const { return quotient(x) - shift; }
};
#endif

// Columns [0, width) of interleaved float RGB pixels into three planes; returns how many it did.
template <class Map>
int64_t rgb_columns_vectorised(const float* x, float* const* out, int64_t width, const Map& map) {
#if defined(__SSE2__)
  int64_t w = 0;
  for (; w + 4 <= width; w += 4) {
    const __m128 a0 = _mm_loadu_ps(x + 3 * w), a1 = _mm_loadu_ps(x + 3 * w + 4), a2 = _mm_loadu_ps(x + 3 * w + 8);
    // a0 = r0 g0 b0 r1, a1 = g1 b1 r2 g2, a2 = b2 r3 g3 b3
    const __m128 r = _mm_shuffle_ps(a0, _mm_shuffle_ps(a1, a2, _MM_SHUFFLE(1, 1, 2, 2)), _MM_SHUFFLE(2, 0, 3, 0));
    const __m128 g = _mm_shuffle_ps(_mm_shuffle_ps(a0, a1, _MM_SHUFFLE(0, 0, 1, 1)),
                                    _mm_shuffle_ps(a1, a2, _MM_SHUFFLE(2, 2, 3, 3)), _MM_SHUFFLE(2, 0, 2, 0));
    const __m128 b = _mm_shuffle_ps(_mm_shuffle_ps(a0, a1, _MM_SHUFFLE(1, 1, 2, 2)), a2, _MM_SHUFFLE(3, 0, 2, 0));
    _mm_storeu_ps(out[0] + w, map(r));
    _mm_storeu_ps(out[1] + w, map(g));
    _mm_storeu_ps(out[2] + w, map(b));
  }
  return w;
#else
  return 0;
#endif
}

template <int C, class Map>
void interleaved_row(const float* x, float* const* out, int64_t width, const Map& map) {
  const int64_t done = C == 3 ? rgb_columns_vectorised(x, out, width, map) : 0;
  for (int64_t w = done; w < width; ++w) {
    for (int c = 0; c < C; ++c) out[c][w] = map(x[w * C + c]);
  }
}

template <class Map>
void deal_out(const float* x, float* const* out, int64_t channels, int64_t width, const Map& map) {
  switch (channels) {
    case 1: return interleaved_row<1>(x, out, width, map);
    case 2: return interleaved_row<2>(x, out, width, map);
    case 3: return interleaved_row<3>(x, out, width, map);
    default: return interleaved_row<4>(x, out, width, map);
  }
}

template <typename In, class Map>
void strided_row(const In* x, float* const* out, int64_t channels, const PixelLayout& l, const Map& map) {
  for (int64_t c = 0; c < channels; ++c) {
    const In* row = x + c * l.stride_channel;
    if (l.stride_column == 1) {  // planar: a loop that vectorises
      for (int64_t w = 0; w < l.width; ++w) out[c][w] = map(row[w]);
    } else {
      for (int64_t w = 0; w < l.width; ++w) out[c][w] = map(row[w * l.stride_column]);
    }
  }
}

// Image row r (of all batch * height) of every channel into the planes; `row` is a buffer of the row's floats for
// interleaved uint8 pixels.
template <typename In, class Map>
void row_to_planes(const In* pixels, const PixelLayout& l, bool interleaved, std::vector<float>& row, int64_t r,
                   const Map& map, float* planes) {
  const int64_t n = r / l.height, h = r % l.height;
  const In* x = pixels + n * l.stride_batch + h * l.stride_row;
  float* const first = planes + (n * l.channels * l.height + h) * l.width;
  float* out[4];
  if (!interleaved) {
    for (int64_t c0 = 0; c0 < l.channels; c0 += 4) {  // more than four channels: none of walloc's images
      const int64_t channels = std::min<int64_t>(4, l.channels - c0);
      for (int64_t c = 0; c < channels; ++c) out[c] = first + (c0 + c) * l.height * l.width;
      strided_row(x + c0 * l.stride_channel, out, channels, l, map);
    }
    return;
  }
  for (int64_t c = 0; c < l.channels; ++c) out[c] = first + c * l.height * l.width;
  if constexpr (std::is_same<In, float>::value) {
    deal_out(x, out, l.channels, l.width, map);
  } else {
    for (size_t i = 0; i < row.size(); ++i) row[i] = map(x[i]);
    deal_out(row.data(), out, l.channels, l.width, AsIs{});
  }
}

// Each thread takes one run of consecutive rows: its reads and writes stay sequential for the prefetchers (rows
// handed out one by one, alternating between threads, made two threads 1.4x slower on a Kodak image).
template <typename In, class Map>
void planes_from(const In* pixels, const PixelLayout& l, const Map& map, float* planes, int threads) {
  const bool interleaved = l.stride_channel == 1 && l.stride_column == l.channels && l.channels <= 4;
  const int64_t row_floats = std::is_same<In, uint8_t>::value && interleaved ? l.width * l.channels : 0;
  const auto make_row = [&] { return std::vector<float>(row_floats); };
  const int64_t rows = l.batch * l.height, runs = std::min<int64_t>(rows, std::max(threads, 1));
  parallel_for_with_scratch(runs, threads, make_row, [&](std::vector<float>& row, int64_t run) {
    for (int64_t r = rows * run / runs; r < rows * (run + 1) / runs; ++r) {
      row_to_planes(pixels, l, interleaved, row, r, map, planes);
    }
  });
}

}  // namespace

void planes_from_pixels_cpu(PixelType type, const void* pixels, const PixelLayout& layout, float divisor,
                            float shift, float* planes, int threads) {
  const auto run = [&](const auto& map) {
    if (type == PixelType::UInt8) {
      planes_from(static_cast<const uint8_t*>(pixels), layout, map, planes, threads);
    } else {
      planes_from(static_cast<const float*>(pixels), layout, map, planes, threads);
    }
  };
  if (divisor == 1.0f) return run(ToPlane<false>{divisor, shift});
#if defined(__FMA__)
  const ToPlaneByReciprocal by_reciprocal{divisor, shift};
  if (type == PixelType::UInt8 && by_reciprocal.exact()) {
    return planes_from(static_cast<const uint8_t*>(pixels), layout, by_reciprocal, planes, threads);
  }
#endif
  run(ToPlane<true>{divisor, shift});
}

}  // namespace WALLOC_CPU_ISA
}  // namespace media
}  // namespace walloc
