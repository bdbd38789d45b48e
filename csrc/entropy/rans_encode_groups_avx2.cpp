// See rans_encode_groups.h: the one-row groups in 256-bit vectors, for CPUs with AVX2. Compiled for x86-64-v3 by
// pragma (after every include, as common/cpu_target.h explains); GroupEncoder (rans_cpu.cpp) calls it only where
// cpu_isa() is AVX2.
#include "rans_encode_groups.h"

#include <immintrin.h>

#include <array>

#define WALLOC_CPU_ISA avx2
#define WALLOC_CPU_TARGET "arch=x86-64-v3"
#include "../common/cpu_target.h"  // last: the target applies to what follows

namespace walloc {
namespace rans {
namespace avx2 {
namespace {

// For each 8-bit mask of emitting words, the byte shuffle that moves those 16-bit words, in order, to the front.
constexpr std::array<std::array<int8_t, 16>, 256> make_compress_shuffles() {
  std::array<std::array<int8_t, 16>, 256> table{};
  for (int mask = 0; mask < 256; ++mask) {
    int to = 0;
    for (int from = 0; from < 8; ++from) {
      if ((mask >> from & 1) == 0) continue;
      table[mask][2 * to] = int8_t(2 * from);
      table[mask][2 * to + 1] = int8_t(2 * from + 1);
      ++to;
    }
    for (int b = 2 * to; b < 16; ++b) table[mask][b] = -1;  // zeroed: written past the words kept, then overwritten
  }
  return table;
}
alignas(64) constexpr auto kCompressShuffles = make_compress_shuffles();

}  // namespace

int64_t encode_row_groups(const int32_t* symbols, const int32_t* indexes, int64_t last, const GroupTables& t,
                          uint32_t state[kLanes], uint16_t*& word) {
  static_assert(kLanes == 16 && sizeof(SymbolCodes::Entry) == 16, "two halves of 8 lanes; entries of 16 bytes");
  const SymbolCodes::Row* rows = t.codes->rows.data();
  // Lanes in reverse within each half (element j of half h is lane 8h + 7 - j): the words then leave in the order
  // the scalar loop emits them, lanes 15 down to 0.
  const __m256i reverse = _mm256_set_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i low_words = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,  //
                                             0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i sign = _mm_set1_epi32(INT32_MIN);
  const __m256d two_31 = _mm256_set1_pd(2147483648.0);
  const __m256i low_16 = _mm256_set1_epi32(0xFFFF);
  __m256i x[2];
  for (int h = 0; h < 2; ++h) {
    x[h] = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(state + 8 * h)), reverse);
  }
  uint16_t* out = word;
  for (; last >= 0; last -= kLanes) {
    const int64_t first = last - (kLanes - 1);
    const int32_t row = indexes[first];
    const __m256i same = _mm256_set1_epi32(row);
    const __m256i rows_low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(indexes + first));
    const __m256i rows_high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(indexes + first + 8));
    const __m256i other = _mm256_or_si256(_mm256_xor_si256(rows_low, same), _mm256_xor_si256(rows_high, same));
    if (!_mm256_testz_si256(other, other)) break;
    const SymbolCodes::Row& r = rows[row];
    if (r.plain_max == 0) break;
    // In the row's range: symbol - offset below plain_max, in 32-bit arithmetic (SymbolCodes::Row).
    const __m256i offset = _mm256_set1_epi32(r.offset), top = _mm256_set1_epi32(int32_t(r.plain_max - 1));
    __m256i value[2];
    __m256i outside = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i v = _mm256_sub_epi32(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(symbols + first + 8 * h)), offset);
      outside = _mm256_or_si256(outside, _mm256_xor_si256(_mm256_min_epu32(v, top), v));
      value[h] = _mm256_permutevar8x32_epi32(v, reverse);
    }
    if (!_mm256_testz_si256(outside, outside)) break;
    const int* entries = reinterpret_cast<const int*>(r.entries);
    for (int h = 1; h >= 0; --h) {  // lanes 15-8 first
      // Each lane's entry: reciprocal (8 bytes), limit (4), start and complement (2 + 2).
      const __m256i at = _mm256_slli_epi32(value[h], 2);  // in ints; values below 2^28 (SymbolCodes::Row)
      const __m256i limit = _mm256_i32gather_epi32(entries + 2, at, 4);
      const __m256i packed = _mm256_i32gather_epi32(entries + 3, at, 4);
      const __m256i at_doubles = _mm256_slli_epi32(value[h], 1);
      const __m256d r_low = _mm256_i32gather_pd(reinterpret_cast<const double*>(entries),
                                                _mm256_castsi256_si128(at_doubles), 8);
      const __m256d r_high = _mm256_i32gather_pd(reinterpret_cast<const double*>(entries),
                                                 _mm256_extracti128_si256(at_doubles, 1), 8);
      // Renormalise: x >= limit (unsigned) emits its low word; all 8 words are stored at `out`, which has room
      // for one word per symbol not yet coded, and only the emitted ones are kept.
      const __m256i emit = _mm256_cmpeq_epi32(_mm256_max_epu32(x[h], limit), x[h]);
      const unsigned mask = unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(emit)));
      const __m256i words = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(x[h], low_words), 0x08);
      const __m128i shuffle = _mm_load_si128(reinterpret_cast<const __m128i*>(kCompressShuffles[mask].data()));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi8(_mm256_castsi256_si128(words), shuffle));
      out += _mm_popcnt_u32(mask);
      const __m256i y = _mm256_blendv_epi8(x[h], _mm256_srli_epi32(x[h], 16), emit);
      // q = floor(y / freq) = floor(y * reciprocal), SymbolCodes::quotient in 4-lane doubles (y as unsigned).
      const __m256d y_low = _mm256_add_pd(_mm256_cvtepi32_pd(_mm_xor_si128(_mm256_castsi256_si128(y), sign)), two_31);
      const __m256d y_high =
          _mm256_add_pd(_mm256_cvtepi32_pd(_mm_xor_si128(_mm256_extracti128_si256(y, 1), sign)), two_31);
      const __m256i q = _mm256_set_m128i(_mm256_cvttpd_epi32(_mm256_mul_pd(y_high, r_high)),
                                         _mm256_cvttpd_epi32(_mm256_mul_pd(y_low, r_low)));
      const __m256i start = _mm256_and_si256(packed, low_16), complement = _mm256_srli_epi32(packed, 16);
      x[h] = _mm256_add_epi32(_mm256_add_epi32(y, start), _mm256_mullo_epi32(q, complement));
    }
  }
  for (int h = 0; h < 2; ++h) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(state + 8 * h), _mm256_permutevar8x32_epi32(x[h], reverse));
  }
  word = out;
  return last;
}

}  // namespace avx2
}  // namespace rans
}  // namespace walloc
