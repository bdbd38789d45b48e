// CPU wavelet packet transforms: each plane (one channel of one item) runs its whole packet tree while it is
// hot in cache, so memory traffic is one read of the input and one write of the output per transform.
// Threads take whole planes. Two kernels run the levels: the polyphase taps of any wavelet, and, for a wavelet
// with a lifting scheme (CDF 9/7 in float32), its lifting steps fused so intermediates stay in registers.
//
// This file is compiled once per instruction set (see wpt_cpu_isa.h): WALLOC_CPU_ISA names the namespace of
// this copy and WALLOC_CPU_TARGET its target. The target is set by pragma after the includes, so only this
// file's own functions use the wider instructions; inline library code shared with other files (std::vector)
// stays baseline and can never be picked by the linker for a CPU without them. Every copy is built with
// -ffp-contract=off: all perform the same operations in the same order and give bit-identical results.
#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "../common/cpu_cache.h"
#include "../common/memory.h"
#include "../common/parallel.h"
#include "lifting.h"
#include "wpt_cpu_isa.h"
#include "../common/cpu_target.h"  // last but cpu_vector.h: the target applies to what follows
#include "../common/cpu_vector.h"  // vectors as wide as this copy's registers

namespace walloc {
namespace WALLOC_CPU_ISA {
namespace {

// Rows of a 2-D band that the row lifting packs into one vector (see RowLanes): 2 in the AVX2 copy, so its
// shuffles stay within 128-bit lanes; 1 elsewhere.
#ifdef WALLOC_CPU_BAND_ROWS
constexpr int kBandRows = WALLOC_CPU_BAND_ROWS;
#else
constexpr int kBandRows = 1;
#endif

// out[i] = sum_t c[t] * p[t][i] for i in [0, n), taps added in list order. Blocks of kUnroll vectors keep
// their accumulators in registers across all taps: one load and one multiply-add per tap and vector.
template <typename T>
void combine(T* __restrict out, const T* const* p, const T* c, int ntaps, int64_t n) {
  constexpr int64_t kLanes = kLanesOf<T>;
  constexpr int kUnroll = 4;
  if (ntaps == 0) {
    std::memset(out, 0, sizeof(T) * n);
    return;
  }
  int64_t i = 0;
  for (; i + kUnroll * kLanes <= n; i += kUnroll * kLanes) {
    Vec<T> acc[kUnroll];
    for (int u = 0; u < kUnroll; ++u) acc[u] = c[0] * load(p[0] + i + u * kLanes);
    for (int t = 1; t < ntaps; ++t) {
      const T ct = c[t];
      const T* q = p[t] + i;
      for (int u = 0; u < kUnroll; ++u) acc[u] += ct * load(q + u * kLanes);
    }
    for (int u = 0; u < kUnroll; ++u) store(out + i + u * kLanes, acc[u]);
  }
  for (; i + kLanes <= n; i += kLanes) {
    Vec<T> acc = c[0] * load(p[0] + i);
    for (int t = 1; t < ntaps; ++t) acc += c[t] * load(p[t] + i);
    store(out + i, acc);
  }
  for (; i < n; ++i) {
    T acc = c[0] * p[0][i];
    for (int t = 1; t < ntaps; ++t) acc += c[t] * p[t][i];
    out[i] = acc;
  }
}

// The polyphase-tap kernel: taps of a bank converted to T, plus per-thread buffers for pointer tables and
// padded rows.
template <typename T>
struct TapKernel {
  const PolyphaseBank& bank;
  std::vector<T> coef[2];
  std::vector<const T*> ptrs;
  std::vector<T> ext[2];   // periodically padded copies of the two input channels of a row
  std::vector<T> row[2];   // a row-pass result before interleaving, or a column-pass result
  std::vector<T> shifted;  // a band read as x - shift (see split_band)

  explicit TapKernel(const PolyphaseBank& b) : bank(b) {
    for (int k = 0; k < 2; ++k) coef[k].assign(b.coef[k].begin(), b.coef[k].end());
    ptrs.resize(std::max(b.src[0].size(), b.src[1].size()) + 1);
  }

  int pad_left() const { return std::max(0, -bank.min_shift); }
  int pad_right() const { return std::max(0, bank.max_shift); }

  // Sizes ext[0], ext[1] for rows of m samples and returns pointers to their sample 0.
  std::array<T*, 2> ext_rows(int64_t m) {
    std::array<T*, 2> e;
    for (int k = 0; k < 2; ++k) {
      ext[k].resize(m + pad_left() + pad_right());
      e[k] = ext[k].data() + pad_left();
    }
    return e;
  }

  // Periodic padding around the m samples of both ext rows, so taps read them without index wrapping.
  void wrap_ext(const std::array<T*, 2>& e, int64_t m) {
    for (T* r : e) {
      for (int64_t i = -pad_left(); i < 0; ++i) r[i] = r[positive_mod(i, m)];
      for (int64_t i = m; i < m + pad_right(); ++i) r[i] = r[positive_mod(i, m)];
    }
  }

  T* row_buffer(int k, int64_t n) {
    row[k].resize(n);
    return row[k].data();
  }

  void combine_from_ext(int out, T* dst, int64_t m) {
    const int n = static_cast<int>(bank.src[out].size());
    for (int t = 0; t < n; ++t) {
      ptrs[t] = ext[bank.src[out][t]].data() + pad_left() + bank.shift[out][t];
    }
    combine(dst, ptrs.data(), coef[out].data(), n, m);
  }

  // Output channel `out` of a bank whose input channel k, row q (q mod m), starts at in[k] + q * ld.
  void combine_rows(int out, const T* const in[2], int64_t ld, int64_t q, int64_t m, T* dst, int64_t width) {
    const int n = static_cast<int>(bank.src[out].size());
    for (int t = 0; t < n; ++t) {
      ptrs[t] = in[bank.src[out][t]] + positive_mod(q + bank.shift[out][t], m) * ld;
    }
    combine(dst, ptrs.data(), coef[out].data(), n, width);
  }

  // One row of length 2m -> two bands of length m.
  void split_row(const T* __restrict src, T* lo, T* hi, int64_t m) {
    const auto e = ext_rows(m);
    T* __restrict even = e[0];
    T* __restrict odd = e[1];
    for (int64_t i = 0; i < m; ++i) {
      even[i] = src[2 * i];
      odd[i] = src[2 * i + 1];
    }
    wrap_ext(e, m);
    combine_from_ext(0, lo, m);
    combine_from_ext(1, hi, m);
  }

  // The two bands of length m already in ext -> one row of length 2m.
  void merge_ext_row(T* dst, int64_t m) {
    wrap_ext({ext[0].data() + pad_left(), ext[1].data() + pad_left()}, m);
    T* even = row_buffer(0, m);
    T* odd = row_buffer(1, m);
    combine_from_ext(0, even, m);
    combine_from_ext(1, odd, m);
    T* __restrict out = dst;
    for (int64_t i = 0; i < m; ++i) {
      out[2 * i] = even[i];
      out[2 * i + 1] = odd[i];
    }
  }

  void merge_row(const T* lo, const T* hi, T* dst, int64_t m) {
    const auto e = ext_rows(m);
    std::memcpy(e[0], lo, sizeof(T) * m);
    std::memcpy(e[1], hi, sizeof(T) * m);
    merge_ext_row(dst, m);
  }

  // 2-D split of one (2m x 2w) band with row stride ld into its four (m x w) children (a, h, v, d). Each
  // pair of column-pass rows is split along the row right away, so nothing band-sized is written twice.
  // kShifted: the band is read as in - shift (a copy first: the taps read each sample several times).
  template <bool kShifted = false>
  void split_band(const T* in, int64_t ld, int64_t m, int64_t w, T* const kids[4], T shift = T(0)) {
    if constexpr (kShifted) {
      shifted.resize(4 * m * w);
      for (int64_t r = 0; r < 2 * m; ++r) {
        for (int64_t c = 0; c < 2 * w; ++c) shifted[r * 2 * w + c] = in[r * ld + c] - shift;
      }
      return split_band(shifted.data(), 2 * w, m, w, kids);
    }
    const T* phases[2] = {in, in + ld};  // even and odd rows
    for (int64_t o = 0; o < m; ++o) {
      for (int kc = 0; kc < 2; ++kc) {
        T* column = row_buffer(kc, 2 * w);
        combine_rows(kc, phases, 2 * ld, o, m, column, 2 * w);
        // Natural order a, h, v, d: child index = column band + 2 * row band.
        split_row(column, kids[kc] + o * w, kids[kc + 2] + o * w, w);
      }
    }
  }

  // 2-D merge of four (m x w) children into one (2m x 2w) band: merge along columns into the two padded ext
  // rows of an output row, then merge those along the row.
  void merge_band(const T* const kids[4], int64_t m, int64_t w, T* out) {
    for (int64_t r = 0; r < 2 * m; ++r) {
      const auto e = ext_rows(w);
      for (int kr = 0; kr < 2; ++kr) {
        const T* pair[2] = {kids[2 * kr], kids[2 * kr + 1]};
        combine_rows(static_cast<int>(r % 2), pair, w, r / 2, m, e[kr], w);
      }
      merge_ext_row(out + r * 2 * w, w);
    }
  }
};

#define WALLOC_INLINE inline __attribute__((always_inline))

// Row kernels see a vector as R rows of L = N / R consecutive samples each (N lanes; R = 1: one row across the
// whole vector). Every shuffle below moves samples within a row's block of L lanes, so with L = 4 floats they
// are in-lane shuffles (shufps, palignr), which AMD's Zen 1 runs four to eight times faster than the
// cross-lane ones (vpermps, vperm2f128) a whole-vector row of 8 floats needs.
template <typename T, int R>
struct RowLanes {
  static constexpr int N = kLanesOf<T>;
  static constexpr int L = N / R;
  static_assert(R >= 1 && N % R == 0, "rows must divide the lanes");
  using Mask = typename VecOf<T>::mask;

  // Lane i of each row's block takes lane source(i) of the concatenation (a's block, b's block), 0 <= source < 2L.
  template <class Source>
  static WALLOC_INLINE Vec<T> blockwise(const Vec<T>& a, const Vec<T>& b, Source source) {
    Mask mask;
    for (int l = 0; l < N; ++l) {
      const int base = l / L * L, s = source(l % L);
      mask[l] = s < L ? base + s : N + base + s - L;
    }
    return __builtin_shuffle(a, b, mask);
  }

  // With 4 lanes a row, shuffles that take lanes 0-1 from a and lanes 2-3 from b: one shufps each. (GCC lowers a
  // general two-vector shuffle of SSE2 floats to eight instructions.)
  template <int A0, int A1, int B0, int B1>
  static WALLOC_INLINE Vec<T> pick(const Vec<T>& a, const Vec<T>& b) {
    static_assert(L == 4, "pick works on rows of 4 lanes");
    return blockwise(a, b, [](int i) { return i == 0 ? A0 : i == 1 ? A1 : i == 2 ? 4 + B0 : 4 + B1; });
  }

  // The even and odd samples of a row's 2L samples, a's block followed by b's.
  static WALLOC_INLINE Vec<T> evens(const Vec<T>& a, const Vec<T>& b) {
    if constexpr (L == 4) return pick<0, 2, 0, 2>(a, b);
    return blockwise(a, b, [](int i) { return 2 * i; });
  }
  static WALLOC_INLINE Vec<T> odds(const Vec<T>& a, const Vec<T>& b) {
    if constexpr (L == 4) return pick<1, 3, 1, 3>(a, b);
    return blockwise(a, b, [](int i) { return 2 * i + 1; });
  }

  // Each sample's successor (a chunk a followed by chunk b) and predecessor (b preceded by a). For AVX2's rows of
  // 4 lanes, GCC makes each blockwise form one palignr.
  static WALLOC_INLINE Vec<T> successors(const Vec<T>& a, const Vec<T>& b) {
    if constexpr (L == 4 && N == 4) return pick<1, 2, 0, 2>(a, pick<3, 3, 0, 0>(a, b));  // (a1, a2) and (a3, b0)
    return blockwise(a, b, [](int i) { return i + 1; });
  }
  static WALLOC_INLINE Vec<T> predecessors(const Vec<T>& a, const Vec<T>& b) {
    if constexpr (L == 4 && N == 4) return pick<0, 2, 1, 2>(pick<3, 3, 0, 0>(a, b), b);  // (a3, b0) and (b1, b2)
    return blockwise(a, b, [](int i) { return L - 1 + i; });
  }

  // Lane i of each row's block is lane i/2 of a (i even) or of b (i odd), from the first or second half of the
  // block: the even and odd samples a, b interleaved back into a row.
  template <int Half>
  static WALLOC_INLINE Vec<T> interleaved(const Vec<T>& a, const Vec<T>& b) {
    return blockwise(a, b, [](int i) { return (i % 2) * L + Half * L / 2 + i / 2; });
  }

  // Samples [offset, offset + L) of each row r[k] into block k, and back.
  static WALLOC_INLINE Vec<T> load(const T* const r[R], int64_t offset) {
    if constexpr (R == 1) {
      return walloc::WALLOC_CPU_ISA::load(r[0] + offset);
    } else {
#if defined(__x86_64__) || defined(_M_X64)
      // One load and one vinsertf128 (assembled through memory instead, the vector stalls on store forwarding).
      static_assert(R == 2 && kVectorBytes == 32, "two rows of 16 bytes");
      if constexpr (std::is_same_v<T, float>) {
        return Vec<T>(_mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r[0] + offset)),
                                           _mm_loadu_ps(r[1] + offset), 1));
      } else {
        return Vec<T>(_mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(r[0] + offset)),
                                           _mm_loadu_pd(r[1] + offset), 1));
      }
#else
      static_assert(R == 1, "rows packed into one vector need x86's 32-byte vectors");
#endif
    }
  }
  static WALLOC_INLINE void store(T* const r[R], int64_t offset, const Vec<T>& v, int64_t count = L) {
    for (int k = 0; k < R; ++k) {
      std::memcpy(r[k] + offset, reinterpret_cast<const char*>(&v) + k * L * sizeof(T), count * sizeof(T));
    }
  }

  // A vector whose block k is value(k) in every lane.
  template <class Value>
  static WALLOC_INLINE Vec<T> per_row(Value value) {
    Vec<T> v;
    for (int l = 0; l < N; ++l) v[l] = value(l / L);
    return v;
  }
};

// The lifting steps on one position, written once for vectors and scalars so every instruction set and every
// tail performs the same operations in the same order: predict then update, and their inverses.
template <class V, typename T>
inline V predicted(const V& odd, const V& even, const V& next_even, T c) {
  return odd + c * (even + next_even);
}
template <class V, typename T>
inline V updated(const V& even, const V& prev_odd, const V& odd, T c) {
  return even + c * (prev_odd + odd);
}
template <class V, typename T>
inline V unpredicted(const V& odd, const V& even, const V& next_even, T c) {
  return odd - c * (even + next_even);
}
template <class V, typename T>
inline V unupdated(const V& even, const V& prev_odd, const V& odd, T c) {
  return even - c * (prev_odd + odd);
}

// The lifting kernel for schemes of P (predict, update) pairs (see lifting.h).
//
// Rows are lifted in chunks of one vector (or of a 16-byte block of it, see RowLanes), all pairs at once: a pair's
// predict needs the next even sample, so each pair runs chunks behind the previous one (lift_step), and
// successors/predecessors come from neighbouring chunks held in registers. Columns are lifted the same way with
// rows in place of chunks, each pair one row behind the previous: the band streams through in blocks of row
// pairs, each vector of columns carrying its values in registers through a block and in one row per version
// between blocks, so a band is read once and its lifted rows written once. (The columns' unrolled blocks keep
// the short skew: the rows' longer one, tried there, spilled registers and ran slower.) Periodic boundaries: the
// sweeps start a few chunks (rows) early on periodically wrapped samples; what those warm-up steps compute from
// not-yet-valid carries never reaches an output (tests check every boundary).
template <typename T, int P>
class LiftingKernel {
 public:
  explicit LiftingKernel(const LiftingScheme& s) {
    for (int j = 0; j < P; ++j) {
      steps_.predict[j] = static_cast<T>(s.predict[j]);
      steps_.update[j] = static_cast<T>(s.update[j]);
    }
    scale_[0] = s.scale[0];
    scale_[1] = s.scale[1];
  }

  // One row of length 2m -> two bands of length m (the 1-D packet trees).
  void split_row(const T* src, T* lo, T* hi, int64_t m) {
    const double outer = 1.0;
    split_rows<1>(&src, &lo, &hi, m, &outer);
  }

  // Two bands of length m -> one row of length 2m.
  void merge_row(const T* lo, const T* hi, T* dst, int64_t m) {
    const double outer = 1.0;
    merge_rows<1>(&lo, &hi, &dst, m, &outer);
  }

  // R rows of length 2m -> their two bands of length m, row k's also multiplied by outer[k].
  //
  // A sweep runs steps i = -lead .. chunks + D - 1 (see lift_step). Whole chunks inside the rows are loaded from
  // them and split into even and odd samples in registers; the periodic margins and a partial last chunk come from
  // the rows' own chunks or, for bands too short or not of whole chunks, from margin buffers.
  template <int R>
  void split_rows(const T* const src[R], T* const lo[R], T* const hi[R], int64_t m, const double outer[R]) {
    using Lanes = RowLanes<T, R>;
    constexpr int L = Lanes::L;
    const int64_t whole = m / L;
    const bool margins = needs_margins<L>(m);
    const T* e = margins ? fill_margins<R>(0, m, [&](int k, int64_t n) { return src[k][2 * n]; }) : nullptr;
    const T* o = margins ? fill_margins<R>(1, m, [&](int k, int64_t n) { return src[k][2 * n + 1]; }) : nullptr;
    const Vec<T> s0 = Lanes::per_row([&](int k) { return static_cast<T>(scale_[0] * outer[k]); });
    const Vec<T> s1 = Lanes::per_row([&](int k) { return static_cast<T>(scale_[1] * outer[k]); });
    const Steps steps = steps_;  // a local copy: stores through T* could otherwise alias it
    Vec<T> even[P + 1][kHistory] = {}, odd[P + 1][kHistory] = {};
    auto step = [&](int64_t i, int64_t c, auto kind) __attribute__((always_inline)) {
      Vec<T> e_new[P + 1], o_new[P + 1];
      if (kind != kChecked || (i >= 0 && i < whole)) {
        const Vec<T> a = Lanes::load(src, 2 * c * L), b = Lanes::load(src, (2 * c + 1) * L);
        e_new[0] = Lanes::evens(a, b);
        o_new[0] = Lanes::odds(a, b);
      } else {
        e_new[0] = load(e + i * Lanes::N);
        o_new[0] = load(o + i * Lanes::N);
      }
      lift_step(steps, even, odd, e_new, o_new, Lanes::successors, Lanes::predecessors);
      const int64_t k = i - kRowDelay;
      if (kind == kStore || (kind == kChecked && k >= 0)) {
        const int64_t count = kind == kStore ? L : std::min<int64_t>(L, m - k * L);
        Lanes::store(lo, k * L, s0 * e_new[P], count);
        Lanes::store(hi, k * L, s1 * odd[P][0], count);
      }
      shift(even, e_new);
      shift(odd, o_new);
    };
    sweep_chunks<L>(m, step);
  }

  // R pairs of bands of length m, row k's first multiplied by outer[k], -> R rows of length 2m (see split_rows and
  // unlift_step).
  template <int R>
  void merge_rows(const T* const lo[R], const T* const hi[R], T* const dst[R], int64_t m, const double outer[R]) {
    using Lanes = RowLanes<T, R>;
    constexpr int L = Lanes::L;
    const int64_t whole = m / L;
    T f0[R], f1[R];
    for (int k = 0; k < R; ++k) {
      f0[k] = static_cast<T>(outer[k] / scale_[0]);
      f1[k] = static_cast<T>(outer[k] / scale_[1]);
    }
    const Vec<T> a0 = Lanes::per_row([&](int k) { return f0[k]; });
    const Vec<T> a1 = Lanes::per_row([&](int k) { return f1[k]; });
    const bool margins = needs_margins<L>(m);
    const T* e = margins ? fill_margins<R>(0, m, [&](int k, int64_t n) { return f0[k] * lo[k][n]; }) : nullptr;
    const T* o = margins ? fill_margins<R>(1, m, [&](int k, int64_t n) { return f1[k] * hi[k][n]; }) : nullptr;
    const Steps steps = steps_;
    Vec<T> even[P + 1][kHistory] = {}, odd[P + 1][kHistory] = {};
    auto step = [&](int64_t i, int64_t c, auto kind) __attribute__((always_inline)) {
      Vec<T> e_new[P + 1], o_new[P + 1];
      if (kind != kChecked || (i >= 0 && i < whole)) {
        e_new[P] = a0 * Lanes::load(lo, c * L);
        o_new[P] = a1 * Lanes::load(hi, c * L);
      } else {
        e_new[P] = load(e + i * Lanes::N);
        o_new[P] = load(o + i * Lanes::N);
      }
      unlift_step(steps, even, odd, e_new, o_new, Lanes::successors, Lanes::predecessors);
      const int64_t k = i - kRowDelay;
      if (kind == kStore || (kind == kChecked && k >= 0)) {
        const Vec<T> first = Lanes::template interleaved<0>(even[0][1], o_new[0]);
        const Vec<T> second = Lanes::template interleaved<1>(even[0][1], o_new[0]);
        const int64_t count = kind == kStore ? 2 * L : std::min<int64_t>(2 * L, 2 * (m - k * L));
        Lanes::store(dst, 2 * k * L, first, std::min<int64_t>(L, count));
        if (count > L) Lanes::store(dst, 2 * k * L + L, second, count - L);
      }
      shift(even, e_new);
      shift(odd, o_new);
    };
    sweep_chunks<L>(m, step);
  }

  // 2-D split of one (2m x 2w) band with row stride ld into its four (m x w) children (a, h, v, d). Blocks of
  // kBlockRows row pairs stream through the column lifting, then each resulting row is split along the row
  // (which also applies the column scales). kShifted: the band is read as in - shift, as the columns load it.
  template <bool kShifted = false>
  void split_band(const T* in, int64_t ld, int64_t m, int64_t w, T* const kids[4], T shift = T(0)) {
    const int64_t width = 2 * w, stride = round_up(width);
    const Steps steps = steps_;
    T* const buffer = aligned(rows_, (2 * P + 2 + 2 * kBlockRows) * stride);
    const Carry carry(buffer, stride);
    T* lifted = buffer + (2 * P + 2) * stride;  // version P of the block's rows, even and odd
    for (int64_t first = -(P + 1); first < m + P; first += kBlockRows) {
      const int64_t rows = std::min<int64_t>(kBlockRows, m + P - first);
      const T* even_rows[kBlockRows];  // iteration i = first + r: version j at row i - j, version 0 the input
      for (int64_t r = 0; r < rows; ++r) even_rows[r] = in + 2 * positive_mod(first + r, m) * ld;
      auto column = [&](auto zero, int64_t c) {
        using V = decltype(zero);
        V e_old[P + 1], o_old[P + 1];
        carry.load(c, e_old, o_old);
        for (int64_t r = 0; r < rows; ++r) {
          V e_new[P + 1], o_new[P + 1];
          e_new[0] = at<V>(even_rows[r], c);
          o_new[0] = at<V>(even_rows[r] + ld, c);
          if constexpr (kShifted) {
            e_new[0] = e_new[0] - shift;
            o_new[0] = o_new[0] - shift;
          }
          for (int j = 1; j <= P; ++j) {
            o_new[j] = predicted(o_old[j - 1], e_old[j - 1], e_new[j - 1], steps.predict[j - 1]);
            e_new[j] = updated(e_old[j - 1], o_old[j], o_new[j], steps.update[j - 1]);
          }
          put(lifted + 2 * r * stride, c, e_new[P]);
          put(lifted + (2 * r + 1) * stride, c, o_new[P]);
          advance(e_old, o_old, e_new, o_new);
        }
        carry.save(c, e_old, o_old);
      };
      sweep(column, width);
      // The lifted rows that reach the output: row band b (even rows 0, odd 1) of pair r splits into children b
      // and b + 2, scaled by the column scale.
      const T* src[2 * kBlockRows];
      T* lo[2 * kBlockRows];
      T* hi[2 * kBlockRows];
      double outer[2 * kBlockRows];
      int count = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t k = first + r - P;
        for (int b = 0; k >= 0 && b < 2; ++b, ++count) {
          src[count] = lifted + (2 * r + b) * stride;
          lo[count] = kids[b] + k * w;
          hi[count] = kids[b + 2] + k * w;
          outer[count] = scale_[b];
        }
      }
      for (int g = 0; g < count; g += kBandRows) split_rows<kBandRows>(src + g, lo + g, hi + g, w, outer + g);
    }
  }

  // 2-D merge of four (m x w) children into one (2m x 2w) band: each child row pair is merged along the row
  // (with the column scales), then blocks of rows stream back through the inverse column lifting, whose
  // version 0 goes straight to the output rows.
  void merge_band(const T* const kids[4], int64_t m, int64_t w, T* out) {
    const int64_t width = 2 * w, stride = round_up(width);
    const Steps steps = steps_;
    const double unscale[2] = {1.0 / scale_[0], 1.0 / scale_[1]};
    T* const buffer = aligned(rows_, (2 * P + 3 + 2 * kBlockRows + 2 * kWrapPairs) * stride);
    const Carry carry(buffer, stride);
    T* merged = buffer + (2 * P + 2) * stride;      // version P: the block's rows merged along the row
    T* scratch = merged + 2 * kBlockRows * stride;  // where warm-up rows of version 0 go
    // The sweep visits the row pairs near both ends of the band twice (its periodic warm-up before pair 0 and
    // drain after pair m - 1): their merged rows are kept here from the first visit.
    T* wrapped = scratch + stride;
    bool kept[kWrapPairs] = {};
    for (int64_t first = -(P + 1); first < m + P; first += kBlockRows) {
      const int64_t rows = std::min<int64_t>(kBlockRows, m + P - first);
      // Row band b (even rows 0, odd 1) of pair r merges from children b and b + 2, unscaled by the column scale.
      const T* lo[2 * kBlockRows];
      const T* hi[2 * kBlockRows];
      T* dst[2 * kBlockRows];
      double outer[2 * kBlockRows];
      const T* version_p[2 * kBlockRows];  // where the column pass reads pair r's merged rows
      int64_t count = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t q = positive_mod(first + r, m);
        const int64_t slot = wrap_slot(q, m);
        T* rows_of_pair = slot < 0 ? merged + 2 * r * stride : wrapped + 2 * slot * stride;
        version_p[2 * r] = rows_of_pair;
        version_p[2 * r + 1] = rows_of_pair + stride;
        if (slot >= 0 && kept[slot]) continue;
        if (slot >= 0) kept[slot] = true;
        for (int b = 0; b < 2; ++b, ++count) {
          lo[count] = kids[b] + q * w;
          hi[count] = kids[b + 2] + q * w;
          dst[count] = rows_of_pair + b * stride;
          outer[count] = unscale[b];
        }
      }
      for (int64_t g = 0; g < count; g += kBandRows) merge_rows<kBandRows>(lo + g, hi + g, dst + g, w, outer + g);
      // Iteration i = first + r: version j - 1 even at row i - (P - j), odd one row behind; so version 0
      // gives output rows 2 (i - P + 1) and 2 (i - P) + 1.
      T* even_out[kBlockRows];
      T* odd_out[kBlockRows];
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t k_even = first + r - P + 1, k_odd = first + r - P;
        even_out[r] = k_even >= 0 && k_even < m ? out + 2 * k_even * width : scratch;
        odd_out[r] = k_odd >= 0 && k_odd < m ? out + (2 * k_odd + 1) * width : scratch;
      }
      auto column = [&](auto zero, int64_t c) {
        using V = decltype(zero);
        if (c % kLineSamples == 0) {
          prefetch_lines_for_write(even_out, rows, c);
          prefetch_lines_for_write(odd_out, rows, c);
        }
        V e_old[P + 1], o_old[P + 1];
        carry.load(c, e_old, o_old);
        for (int64_t r = 0; r < rows; ++r) {
          V e_new[P + 1], o_new[P + 1];
          e_new[P] = at<V>(version_p[2 * r], c);
          o_new[P] = at<V>(version_p[2 * r + 1], c);
          for (int j = P; j >= 1; --j) {
            e_new[j - 1] = unupdated(j == P ? e_new[P] : e_old[j], o_old[j], o_new[j], steps.update[j - 1]);
            o_new[j - 1] = unpredicted(o_old[j], e_old[j - 1], e_new[j - 1], steps.predict[j - 1]);
          }
          put(even_out[r], c, e_new[0]);
          put(odd_out[r], c, o_new[0]);
          advance(e_old, o_old, e_new, o_new);
        }
        carry.save(c, e_old, o_old);
      };
      sweep(column, width);
    }
  }

 private:
  // The lifting coefficients, which sweeps copy into locals.
  struct Steps {
    T predict[P], update[P];
  };

  // The values a row sweep carries from step to step: even[j][d], odd[j][d] hold version j (after j pairs of
  // lifting steps) of the even and odd samples at the d-th newest chunk lifted so far.
  static constexpr int kHistory = 3;

  // One step of a forward row sweep, all versions at once but each at its own chunk: from version 0 just loaded at
  // chunk i (e_new[0], o_new[0]), version j's odd samples at chunk i - (3j - 2) and its even ones a chunk behind.
  // So every value a step computes depends only on values loaded now or computed by earlier steps: its arithmetic
  // is one lifting step deep, not 2P, and the chains of neighbouring steps overlap (one long chain a step
  // instead fills small out-of-order windows, such as Zen 1's floating-point scheduler, with waiting
  // operations). Version P of chunk i - D (D = kRowDelay) is then (e_new[P], odd[P][0]). next(a, b) and prev(a, b)
  // give each sample's successor in chunk a followed by chunk b, and its predecessor in b preceded by a.
  template <class V, class Next, class Prev>
  static WALLOC_INLINE void lift_step(const Steps& steps, const V even[P + 1][kHistory], const V odd[P + 1][kHistory],
                                     V e_new[P + 1], V o_new[P + 1], Next next, Prev prev) {
    for (int j = 1; j <= P; ++j) {
      // Odd samples of version j at chunk c: version j - 1 at c and c + 1 (for j = 1, c + 1 is the chunk just
      // loaded).
      const V& e_at = j == 1 ? even[0][0] : even[j - 1][1];
      const V& e_next = j == 1 ? e_new[0] : even[j - 1][0];
      const V& o_at = j == 1 ? odd[0][0] : odd[j - 1][2];
      o_new[j] = predicted(o_at, e_at, next(e_at, e_next), steps.predict[j - 1]);
      // Even samples of version j at c - 1: version j - 1's there, and version j's odd ones at c - 2 and c - 1.
      const V& e_before = j == 1 ? even[0][1] : even[j - 1][2];
      e_new[j] = updated(e_before, prev(odd[j][1], odd[j][0]), odd[j][0], steps.update[j - 1]);
    }
  }

  // One step of an inverse row sweep, as lift_step backwards through the versions: from version P just loaded at
  // chunk i (e_new[P], o_new[P]), version j - 1's even samples at chunk i - (3 (P - j)) and its odd ones two chunks
  // behind. Version 0 of chunk i - D is then (even[0][1], o_new[0]).
  template <class V, class Next, class Prev>
  static WALLOC_INLINE void unlift_step(const Steps& steps, const V even[P + 1][kHistory],
                                       const V odd[P + 1][kHistory], V e_new[P + 1], V o_new[P + 1], Next next,
                                       Prev prev) {
    for (int j = P; j >= 1; --j) {
      // Even samples of version j - 1 at chunk c: version j's even ones at c, odd ones at c - 1 and c (for j = P,
      // c is the chunk just loaded).
      const V& e_at = j == P ? e_new[P] : even[j][2];
      const V& o_at = j == P ? o_new[P] : odd[j][0];
      const V& o_before = j == P ? odd[P][0] : odd[j][1];
      e_new[j - 1] = unupdated(e_at, prev(o_before, o_at), o_at, steps.update[j - 1]);
      // Odd samples of version j - 1 at c - 2: version j's there, and version j - 1's even ones at c - 2, c - 1.
      const V& o_two_before = j == P ? odd[P][1] : odd[j][2];
      o_new[j - 1] = unpredicted(o_two_before, even[j - 1][1], next(even[j - 1][1], even[j - 1][0]),
                                 steps.predict[j - 1]);
    }
  }

  // Steps between loading a chunk and storing it in a row sweep.
  static constexpr int64_t kRowDelay = 3 * P - 1;

  // The newest step's values enter the history; the oldest leave it.
  template <class V>
  static WALLOC_INLINE void shift(V history[P + 1][kHistory], const V newest[P + 1]) {
    for (int j = 0; j <= P; ++j) {
      for (int d = kHistory - 1; d > 0; --d) history[j][d] = history[j][d - 1];
      history[j][0] = newest[j];
    }
  }

  // Each version's even and odd values from the last row pair a block lifted, one row each: where the next
  // block's column sweep starts from.
  struct Carry {
    T* rows[2][P + 1];

    Carry(T* first, int64_t stride) {
      for (int b = 0; b < 2; ++b)
        for (int j = 0; j <= P; ++j) rows[b][j] = first + (b * (P + 1) + j) * stride;
    }

    template <class V>
    void load(int64_t c, V even[P + 1], V odd[P + 1]) const {
      for (int j = 0; j <= P; ++j) {
        even[j] = at<V>(rows[0][j], c);
        odd[j] = at<V>(rows[1][j], c);
      }
    }

    template <class V>
    void save(int64_t c, const V even[P + 1], const V odd[P + 1]) const {
      for (int j = 0; j <= P; ++j) {
        put(rows[0][j], c, even[j]);
        put(rows[1][j], c, odd[j]);
      }
    }
  };

  // The values just computed become the previous ones of the next row.
  template <class V>
  static void advance(V even_old[P + 1], V odd_old[P + 1], const V even_new[P + 1], const V odd_new[P + 1]) {
    for (int j = 0; j <= P; ++j) {
      even_old[j] = even_new[j];
      odd_old[j] = odd_new[j];
    }
  }

  // Chunks of L samples covering m, and how many chunks a row sweep starts early: enough that the lanes a
  // missing carry spoils (at most one per step, 2P) lie before chunk 0.
  template <int L>
  static int64_t chunks_of(int64_t m) { return (m + L - 1) / L; }
  template <int L>
  static constexpr int64_t lead_chunks() { return (2 * P + L) / L; }

  // n rounded up to whole vectors: the stride of the column passes' row buffers.
  static int64_t round_up(int64_t n) { return chunks_of<kLanesOf<T>>(n) * kLanesOf<T>; }

  // What a step of a row sweep does besides lifting: load chunk c of the rows and store nothing (kLoad) or a
  // whole chunk (kStore); or (kChecked) load chunk i from the rows or the margin buffers and store what part of
  // its output chunk lies in the band.
  enum StepKind { kLoad, kStore, kChecked };
  template <StepKind K>
  using Kind = std::integral_constant<StepKind, K>;

  // Whether a row sweep over bands of m samples reads margin buffers: not when m is whole chunks and at least
  // as long as the sweep's lead and delay, whose periodic margins are then the rows' own chunks.
  template <int L>
  static bool needs_margins(int64_t m) {
    return m % L != 0 || m / L < std::max<int64_t>(lead_chunks<L>(), kRowDelay);
  }

  // A row sweep: step(i, c, kind) for i = -lead .. chunks + D - 1 (D = kRowDelay), where step i loads chunk i
  // (chunk c of the rows) and stores chunk i - D.
  template <int L, class Step>
  static WALLOC_INLINE void sweep_chunks(int64_t m, Step& step) {
    const int64_t whole = m / L, chunks = chunks_of<L>(m);
    constexpr int64_t lead = lead_chunks<L>();
    if (!needs_margins<L>(m)) {
      for (int64_t i = -lead; i < 0; ++i) step(i, i + chunks, Kind<kLoad>{});
      for (int64_t i = 0; i < kRowDelay; ++i) step(i, i, Kind<kLoad>{});
      for (int64_t i = kRowDelay; i < chunks; ++i) step(i, i, Kind<kStore>{});
      for (int64_t i = chunks; i < chunks + kRowDelay; ++i) step(i, i - chunks, Kind<kStore>{});
      return;
    }
    int64_t i = -lead;
    for (; i < std::min<int64_t>(kRowDelay, whole); ++i) step(i, i, Kind<kChecked>{});
    for (; i < whole; ++i) step(i, i, Kind<kStore>{});
    for (; i < chunks + kRowDelay; ++i) step(i, i, Kind<kChecked>{});
  }


  // buf sized for n elements from a vector-aligned start, which it returns: aligned loads never straddle
  // cache lines.
  static T* aligned(std::vector<T>& buf, int64_t n) {
    if (static_cast<int64_t>(buf.size()) < n + kLanesOf<T>) buf.resize(n + kLanesOf<T>);  // grow only: no refills
    const auto misalign = reinterpret_cast<uintptr_t>(buf.data()) % kVectorBytes / sizeof(T);
    return buf.data() + (misalign ? kLanesOf<T> - misalign : 0);
  }

  // Margin buffer b (0: even, 1: odd samples) of R rows of bands of m samples, laid out as the row kernels'
  // vectors hold them (chunk i at i N, row k's samples i L .. i L + L - 1 in block k), filled where sweeps read
  // it: the periodic margins before chunk 0 and from the last whole chunk on. sample(k, n) is sample n of row
  // k's band (0 <= n < m). Returns chunk 0, vector-aligned.
  template <int R, class Sample>
  const T* fill_margins(int b, int64_t m, Sample&& sample) {
    constexpr int N = kLanesOf<T>, L = N / R;
    constexpr int64_t lead = lead_chunks<L>();
    const int64_t end = chunks_of<L>(m) + kRowDelay;
    T* x = aligned(margins_[b], (lead + end) * N);  // chunk -lead
    auto fill = [&](int64_t from, int64_t to) {  // positions [from, to) of the periodically extended rows
      for (int k = 0; k < R; ++k) {
        T* row = x + k * L;
        for (int64_t p = from + lead * L, n = positive_mod(from, m); p < to + lead * L; ++p) {
          row[p / L * N + p % L] = sample(k, n);
          n = n + 1 == m ? 0 : n + 1;
        }
      }
    };
    fill(-lead * L, 0);
    fill(m / L * L, end * L);
    return x + lead * N;
  }

  template <class V>
  static V at(const T* row, int64_t c) {
    if constexpr (std::is_same_v<V, T>) {
      return row[c];
    } else {
      return load(row + c);
    }
  }

  template <class V>
  static void put(T* row, int64_t c, const V& v) {
    if constexpr (std::is_same_v<V, T>) {
      row[c] = v;
    } else {
      store(row + c, v);
    }
  }

  // Row pairs a merge's sweep visits twice, and where it keeps their merged rows: slot q for the first P
  // pairs, then the last P + 1 (all pairs of a band too short to tell them apart); -1 for the others.
  static constexpr int64_t kWrapPairs = 2 * P + 1;
  static int64_t wrap_slot(int64_t q, int64_t m) {
    if (m <= kWrapPairs || q < P) return q;
    return q >= m - (P + 1) ? q - (m - kWrapPairs) : -1;
  }

  // The column pass of a merge stores to 2 kBlockRows output rows at a time, more scattered lines than the
  // store buffer fetches ahead on its own: on a fresh output the stores wait for each line in turn (the batch
  // of 16 images' inverse took 23 ms against the forward's 15 on AVX-512). So as the pass reaches a cache line
  // of the rows, it prefetches that line of each and the one two lines on, to be written.
  static constexpr int64_t kLineSamples = kCacheLineBytes / sizeof(T);

  // (The line two on may lie past the last row's end: its address is formed as an integer, and prefetches
  // never fault.)
  static void prefetch_lines_for_write(T* const rows[], int64_t count, int64_t c) {
    for (int64_t r = 0; r < count; ++r) {
      const uintptr_t line = reinterpret_cast<uintptr_t>(rows[r] + c);
      __builtin_prefetch(reinterpret_cast<const void*>(line), 1);
      __builtin_prefetch(reinterpret_cast<const void*>(line + 2 * kCacheLineBytes), 1);
    }
  }

  // column(zero, c) over a row of `width` samples: whole vectors, then single samples.
  template <class Column>
  static void sweep(Column&& column, int64_t width) {
    int64_t c = 0;
    for (; c + kLanesOf<T> <= width; c += kLanesOf<T>) column(Vec<T>{}, c);
    for (; c < width; ++c) column(T{}, c);
  }

  static constexpr int64_t kBlockRows = 8;  // rows lifted per column visit: carries stay in registers between them

  Steps steps_;
  double scale_[2];
  std::vector<T> margins_[2];
  std::vector<T> rows_;
};

// Where a level of a packet tree writes: alternating between the output and a scratch plane, so the last
// level lands in the output and no level reads and writes the same buffer.
template <typename T>
T* level_target(int steps_left, T* output, T* scratch) {
  return steps_left % 2 == 0 ? output : scratch;
}

// The packet tree of one plane, depth first: each band's whole subtree is done while the band is hot in
// cache (breadth first, a 512x768 plane and its scratch plane overflow L2 at every level). Every band runs
// exactly as breadth first would, at the same place, so the results are the same. step(level, band, kids)
// splits `band` (at `level`) into its children, stored from `kids` on, or merges them back into it. The
// subtrees of a band's children use disjoint parts of every buffer, so different threads may walk them.
template <typename T, class Step>
struct TreeWalk {
  bool split;
  const T* in;
  T* out;
  T* scratch;
  int levels;
  int fanout_bits;  // 1 (1-D) or 2 (2-D)
  int64_t size;     // samples in a plane
  Step step;

  // The buffer holding the bands of level j (level 0: the plane itself).
  T* level(int j) const {
    if (split) return j == 0 ? const_cast<T*>(in) : level_target(levels - j, out, scratch);
    return j == levels ? const_cast<T*>(in) : level_target(j, out, scratch);
  }

  // Band b of level j alone: split into its children, or merged from them.
  void node(int j, int64_t b) {
    const int64_t band = size >> (fanout_bits * j);  // a band's children together are as large as the band
    step(j, level(j) + b * band, level(j + 1) + b * band);
  }

  // Band b of level j and everything below it.
  void visit(int j, int64_t b) {
    if (split) node(j, b);
    if (j + 1 < levels) {
      for (int64_t k = 0; k < (int64_t(1) << fanout_bits); ++k) visit(j + 1, (b << fanout_bits) + k);
    }
    if (!split) node(j, b);
  }
};

// A kernel (TapKernel or LiftingKernel) and a plane for intermediate levels: one per thread. The plane is
// uninitialized (every level writes all of it before the next reads it) and the thread's reused scratch.
template <typename T, class Kernel>
struct PlaneWorkspace {
  PlaneWorkspace(const Kernel& prototype, int64_t plane_size) : kernel(prototype), plane(size_t(plane_size)) {}
  Kernel kernel;
  ThreadScratch<T> plane;
};

// One item of a packet tree shared out between threads: a plane's root level (child -1), or the subtree of
// one of its root's children.
struct TreeItem {
  int64_t plane;
  int64_t child;
};

// The order threads take the items of `planes` packet trees in, each root before its children's subtrees
// (split) or after them (merge). A split's roots come first, all of them: its subtrees then keep every thread
// busy to the end. A merge's roots cannot all come last: with more planes than threads, the roots left over
// when the threads take the last ones together (3 planes on 2 threads: one) would run alone at the end (a third
// of a plane's work on one thread of two). So those first roots go early, each after the next plane's subtrees
// (by when its own have finished), and the last `threads` roots end the loop side by side.
inline std::vector<TreeItem> shared_tree_order(bool split, int64_t planes, int64_t fanout, int threads) {
  std::vector<TreeItem> order;
  auto subtrees = [&](int64_t p) {
    for (int64_t k = 0; k < fanout; ++k) order.push_back({p, k});
  };
  if (split) {
    for (int64_t p = 0; p < planes; ++p) order.push_back({p, -1});
    for (int64_t p = 0; p < planes; ++p) subtrees(p);
    return order;
  }
  const int64_t early = std::max<int64_t>(0, planes - threads);
  for (int64_t p = 0; p < planes; ++p) {
    subtrees(p);
    if (p >= 1 && p - 1 < early) order.push_back({p - 1, -1});
  }
  for (int64_t p = early; p < planes; ++p) order.push_back({p, -1});
  return order;
}

// The packet trees of all planes. step(kernel, level, band, kids) is one split or merge (see TreeWalk).
// Threads take whole planes; when that leaves threads idle (one image: three planes on two threads), the
// children's subtrees are shared out as well, after each plane's first split or before its last merge, and
// the scratch planes then belong to the planes rather than to the threads.
template <typename T, class Kernel, class Step>
void packet_trees(BankKind kind, const T* x, T* y, int64_t planes, int64_t size, int levels, int fanout_bits,
                  int threads, const Kernel& prototype, const Step& step) {
  const bool split = kind == BankKind::Split;
  const bool share_subtrees = levels > 1 && planes < 2 * int64_t(threads) && planes % threads != 0;
  const ThreadScratch<T> plane_scratch(share_subtrees ? size_t(planes * size) : 0);
  auto make = [&] { return PlaneWorkspace<T, Kernel>(prototype, levels > 1 && !share_subtrees ? size : 0); };
  auto walk = [&](PlaneWorkspace<T, Kernel>& ws, int64_t p) {
    auto bound = [&ws, &step](int level, T* band, T* kids) { step(ws.kernel, level, band, kids); };
    T* scratch = share_subtrees ? plane_scratch.get() + p * size : ws.plane.get();
    return TreeWalk<T, decltype(bound)>{split, x + p * size, y + p * size, scratch, levels, fanout_bits, size, bound};
  };
  if (!share_subtrees) {
    parallel_for_with_scratch(planes, threads, make, [&](auto& ws, int64_t p) { walk(ws, p).visit(0, 0); });
    return;
  }
  // One loop over the planes' roots and their children's subtrees (shared_tree_order), each item waiting for
  // what it needs. The loop hands items out in order (one thread: in sequence; OpenMP's dynamic schedule: to each
  // thread as it asks), so what an item waits for has always been taken by a running thread before it, and the
  // wait ends.
  const int64_t fanout = int64_t(1) << fanout_bits;
  const std::vector<TreeItem> order = shared_tree_order(split, planes, fanout, threads);
  std::vector<std::atomic<int64_t>> pending(static_cast<size_t>(planes));  // per plane: items to finish first
  for (auto& count : pending) count.store(split ? 1 : fanout, std::memory_order_relaxed);
  auto wait_for = [&](int64_t p) {
    while (pending[p].load(std::memory_order_acquire) != 0) std::this_thread::yield();
  };
  auto finished = [&](int64_t p) { pending[p].fetch_sub(1, std::memory_order_release); };
  parallel_for_with_scratch(static_cast<int64_t>(order.size()), threads, make, [&](auto& ws, int64_t i) {
    const TreeItem item = order[i];
    const bool root = item.child < 0;
    if (root != split) wait_for(item.plane);
    if (root) {
      walk(ws, item.plane).node(0, 0);
    } else {
      walk(ws, item.plane).visit(1, item.child);
    }
    if (root == split) finished(item.plane);
  });
}

template <typename T, class Kernel>
void packet_tree_1d(BankKind kind, const T* x, T* y, int64_t planes, int64_t length, int levels, int threads,
                    const Kernel& prototype) {
  packet_trees<T>(kind, x, y, planes, length, levels, 1, threads, prototype,
                  [&](Kernel& kernel, int level, T* band, T* kids) {
                    const int64_t m = (length >> level) / 2;
                    if (kind == BankKind::Split) {
                      kernel.split_row(band, kids, kids + m, m);
                    } else {
                      kernel.merge_row(kids, kids + m, band, m);
                    }
                  });
}

template <typename T, class Kernel>
void packet_tree_2d(BankKind kind, const T* x, T* y, int64_t planes, int64_t height, int64_t width, int levels,
                    int threads, const Kernel& prototype, T shift) {
  packet_trees<T>(kind, x, y, planes, height * width, levels, 2, threads, prototype,
                  [&](Kernel& kernel, int level, T* band, T* first_kid) {
                    const int64_t h = height >> level, w = width >> level, child = (h / 2) * (w / 2);
                    T* const kids[4] = {first_kid, first_kid + child, first_kid + 2 * child, first_kid + 3 * child};
                    if (kind == BankKind::Split && level == 0 && shift != T(0)) {
                      kernel.template split_band<true>(band, w, h / 2, w / 2, kids, shift);
                    } else if (kind == BankKind::Split) {
                      kernel.split_band(band, w, h / 2, w / 2, kids);
                    } else {
                      kernel.merge_band(kids, h / 2, w / 2, band);
                    }
                  });
}

// Calls run(kernel) with the lifting kernel for the scheme's number of pairs, or the tap kernel without one.
template <typename T, class Run>
void with_kernel(const PolyphaseBank& bank, const LiftingScheme& lifting, Run&& run) {
  switch (lifting.pairs()) {
    case 0:
      return run(TapKernel<T>(bank));
    case 1:
      return run(LiftingKernel<T, 1>(lifting));
    case 2:
      return run(LiftingKernel<T, 2>(lifting));
    default:
      throw std::invalid_argument("lifting scheme: the kernels take 1 or 2 (predict, update) pairs");
  }
}

}  // namespace

template <typename T>
void wpt1d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t length, const PolyphaseBank& bank,
               const LiftingScheme& lifting, int levels, int threads) {
  advise_huge_pages(y, sizeof(T) * planes * length);
  with_kernel<T>(bank, lifting, [&](const auto& kernel) {
    packet_tree_1d(kind, x, y, planes, length, levels, threads, kernel);
  });
}

template <typename T>
void wpt2d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t height, int64_t width,
               const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads, T shift) {
  advise_huge_pages(y, sizeof(T) * planes * height * width);
  with_kernel<T>(bank, lifting, [&](const auto& kernel) {
    packet_tree_2d(kind, x, y, planes, height, width, levels, threads, kernel, shift);
  });
}

template void wpt1d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, const PolyphaseBank&,
                                const LiftingScheme&, int, int);
template void wpt1d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, const PolyphaseBank&,
                                 const LiftingScheme&, int, int);
template void wpt2d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, int64_t, const PolyphaseBank&,
                                const LiftingScheme&, int, int, float);
template void wpt2d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, int64_t, const PolyphaseBank&,
                                 const LiftingScheme&, int, int, double);

}  // namespace WALLOC_CPU_ISA
}  // namespace walloc
