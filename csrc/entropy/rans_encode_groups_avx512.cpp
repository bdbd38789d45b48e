// See rans_encode_groups.h. Compiled for x86-64-v4 by pragma (after every include, as common/cpu_target.h
// explains); GroupEncoder (rans_cpu.cpp) calls it only where cpu_isa() is AVX-512.
#include "rans_encode_groups.h"

#include <immintrin.h>

#define WALLOC_CPU_ISA avx512
#define WALLOC_CPU_TARGET "arch=x86-64-v4"
#include "../common/cpu_target.h"  // last: the target applies to what follows

// GCC 12's AVX-512 headers start gathers and 256-bit extracts from a deliberately undefined vector, which
// -Wmaybe-uninitialized reports inside the headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace walloc {
namespace rans {
namespace avx512 {

int64_t encode_groups(const int32_t* symbols, const int32_t* indexes, int64_t last, const GroupTables& t,
                      uint32_t state[kLanes], uint16_t*& word) {
  static_assert(kLanes == 16, "one lane per 32-bit element of a 512-bit vector");
  const __m512i reversed = _mm512_set_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  const __m512i total = _mm512_set1_epi32(int32_t(kTotal));
  __m512i x = _mm512_loadu_si512(state);
  uint16_t* out = word;
  constexpr int kUp = _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC;
  for (; last >= 0; last -= kLanes) {
    const int64_t first = last - (kLanes - 1);
    const __m512i row = _mm512_loadu_si512(indexes + first);
    const __m512i symbol = _mm512_loadu_si512(symbols + first);
    // Per lane: the renormalisation limit (freq << 16), start, 2^16 - freq and 1 / freq rounded up (8 lanes each).
    __m512i limit, start, complement;
    __m512d r_low, r_high;
    const SymbolCodes::Row* one_row = nullptr;
    if (t.codes != nullptr) {
      const int32_t row0 = indexes[first];
      const SymbolCodes::Row& r = t.codes->rows[size_t(row0)];
      if (r.plain_max != 0 && _mm512_cmpneq_epi32_mask(row, _mm512_set1_epi32(row0)) == 0) one_row = &r;
    }
    if (one_row != nullptr) {
      // The row's entries (SymbolCodes): no row gathers, no division. In range: symbol - offset below plain_max
      // in 32-bit arithmetic (SymbolCodes::Row).
      const __m512i value = _mm512_sub_epi32(symbol, _mm512_set1_epi32(one_row->offset));
      if (_mm512_cmpge_epu32_mask(value, _mm512_set1_epi32(int32_t(one_row->plain_max))) != 0) break;
      const int* entries = reinterpret_cast<const int*>(one_row->entries);
      const __m512i at = _mm512_slli_epi32(value, 2);  // in ints: values below 2^28
      limit = _mm512_i32gather_epi32(at, entries + 2, 4);
      const __m512i packed = _mm512_i32gather_epi32(at, entries + 3, 4);
      start = _mm512_and_si512(packed, _mm512_set1_epi32(0xFFFF));
      complement = _mm512_srli_epi32(packed, 16);
      const __m512i at_doubles = _mm512_slli_epi32(value, 1);
      const double* reciprocals = reinterpret_cast<const double*>(entries);
      r_low = _mm512_i32gather_pd(_mm512_castsi512_si256(at_doubles), reciprocals, 8);
      r_high = _mm512_i32gather_pd(_mm512_extracti64x4_epi64(at_doubles, 1), reciprocals, 8);
    } else {
      const __m512i offset = _mm512_i32gather_epi32(row, t.offset.data(), 4);
      const __m512i escape = _mm512_i32gather_epi32(row, t.escape.data(), 4);
      // In range: 0 <= symbol - offset < escape, one unsigned compare (offsets within +-2^30: no wrap-around).
      const __m512i value = _mm512_sub_epi32(symbol, offset);
      if (_mm512_cmpge_epu32_mask(value, escape) != 0) break;
      const __m512i at = _mm512_add_epi32(_mm512_i32gather_epi32(row, t.row_start.data(), 4), value);
      const __m256i at_low = _mm512_castsi512_si256(at), at_high = _mm512_extracti64x4_epi64(at, 1);
      const __m512i cdf_low = _mm512_i32gather_epi64(at_low, t.cdfs, 4);  // (cdf[v], cdf[v + 1]) per lane
      const __m512i cdf_high = _mm512_i32gather_epi64(at_high, t.cdfs, 4);
      start = _mm512_permutex2var_epi32(cdf_low, evens, cdf_high);
      const __m512i freq = _mm512_sub_epi32(_mm512_permutex2var_epi32(cdf_low, odds, cdf_high), start);
      if (_mm512_cmpeq_epi32_mask(freq, _mm512_setzero_si512()) != 0) break;
      limit = _mm512_slli_epi32(freq, 16);
      complement = _mm512_sub_epi32(total, freq);
      const __m512d one = _mm512_set1_pd(1.0);
      r_low = _mm512_div_round_pd(one, _mm512_cvtepu32_pd(_mm512_castsi512_si256(freq)), kUp);
      r_high = _mm512_div_round_pd(one, _mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(freq, 1)), kUp);
    }
    // Renormalise: lanes 15 down to 0 emit their low words in that order, as the scalar loop meets them. All 16
    // words are stored: the word buffer has room for one word per symbol, and these symbols have not yet emitted.
    const __mmask16 emit = _mm512_cmpge_epu32_mask(x, limit);
    const __m512i x_reversed = _mm512_permutexvar_epi32(reversed, x);
    const __mmask16 emit_reversed = _mm512_cmpge_epu32_mask(x_reversed, _mm512_permutexvar_epi32(reversed, limit));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                        _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(emit_reversed, x_reversed)));
    out += _mm_popcnt_u32(emit);
    x = _mm512_mask_srli_epi32(x, emit, x, 16);
    // q = floor(x / freq) as floor(x * r), the product rounded up (AVX-512's rounding override), with r in
    // [1 / freq, (1 + 2^-51) / freq]: x / freq <= x * r <= x / freq + 2^-34 (x < 2^32, freq < 2^16), and a
    // non-integer x / freq lies at least 2^-16 below the next integer, so the floor is exact, the scalar step's
    // quotient. The reciprocal depends on the tables alone, so only the multiply lies on the states' chain.
    const __m256i q_low =
        _mm512_cvttpd_epu32(_mm512_mul_round_pd(_mm512_cvtepu32_pd(_mm512_castsi512_si256(x)), r_low, kUp));
    const __m256i q_high =
        _mm512_cvttpd_epu32(_mm512_mul_round_pd(_mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(x, 1)), r_high, kUp));
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q_low), q_high, 1);
    // (q << 16) + x % freq + start
    x = _mm512_add_epi32(_mm512_add_epi32(x, start), _mm512_mullo_epi32(q, complement));
  }
  _mm512_storeu_si512(state, x);
  word = out;
  return last;
}

}  // namespace avx512
}  // namespace rans
}  // namespace walloc
