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
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "../common/memory.h"
#include "../common/parallel.h"
#include "lifting.h"
#include "wpt_cpu_isa.h"

#ifndef WALLOC_CPU_ISA
#define WALLOC_CPU_ISA baseline
#endif
#ifdef WALLOC_CPU_TARGET
#define WALLOC_PRAGMA(x) _Pragma(#x)
#define WALLOC_TARGET_PRAGMA(flags) WALLOC_PRAGMA(GCC target(flags))
WALLOC_TARGET_PRAGMA(WALLOC_CPU_TARGET)
#endif

namespace walloc {
namespace WALLOC_CPU_ISA {
namespace {

// Vectors as wide as the registers of the target (GCC/Clang vector extensions), so four of them stay
// in registers as accumulators: 64 bytes with AVX-512, 32 with AVX, 16 (SSE2) otherwise.
#ifdef WALLOC_CPU_VECTOR_BYTES
constexpr int kVectorBytes = WALLOC_CPU_VECTOR_BYTES;
#else
constexpr int kVectorBytes = 16;  // SSE2, part of every x86-64 CPU; also fine for other architectures
#endif

// Each with the integer vector of as many lanes, the masks of __builtin_shuffle.
template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  typedef float type __attribute__((vector_size(kVectorBytes)));
  typedef int32_t mask __attribute__((vector_size(kVectorBytes)));
};
template <>
struct VecOf<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
  typedef int64_t mask __attribute__((vector_size(kVectorBytes)));
};
template <typename T>
using Vec = typename VecOf<T>::type;
template <typename T>
constexpr int kLanesOf = kVectorBytes / sizeof(T);

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
inline void store(T* p, const Vec<T>& v) {
  std::memcpy(p, &v, sizeof(v));
}

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
  void split_band(const T* in, int64_t ld, int64_t m, int64_t w, T* const kids[4]) {
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

// Lane l of the result is lane first + stride * l of the concatenation (a, b), taken modulo 2N.
template <typename T, int First, int Stride>
inline Vec<T> lanes_of(const Vec<T>& a, const Vec<T>& b) {
  typename VecOf<T>::mask mask;
  for (int l = 0; l < kLanesOf<T>; ++l) mask[l] = (First + Stride * l) % (2 * kLanesOf<T>);
  return __builtin_shuffle(a, b, mask);
}

// Shuffles of 4-lane vectors that take lanes 0-1 from a and lanes 2-3 from b: one SSE shufps each. (GCC
// lowers a general two-vector shuffle of SSE2 floats to eight instructions.)
template <typename T, int A0, int A1, int B0, int B1>
inline Vec<T> pick(const Vec<T>& a, const Vec<T>& b) {
  const typename VecOf<T>::mask mask = {A0, A1, 4 + B0, 4 + B1};
  return __builtin_shuffle(a, b, mask);
}

// Each sample's successor (a chunk a followed by chunk b) and predecessor (b preceded by a).
template <typename T>
inline Vec<T> successors(const Vec<T>& a, const Vec<T>& b) {
  if constexpr (kLanesOf<T> == 4) {
    return pick<T, 1, 2, 0, 2>(a, pick<T, 3, 3, 0, 0>(a, b));  // (a1, a2) and (a3, b0)
  } else {
    return lanes_of<T, 1, 1>(a, b);
  }
}
template <typename T>
inline Vec<T> predecessors(const Vec<T>& a, const Vec<T>& b) {
  if constexpr (kLanesOf<T> == 4) {
    return pick<T, 0, 2, 1, 2>(pick<T, 3, 3, 0, 0>(a, b), b);  // (a3, b0) and (b1, b2)
  } else {
    return lanes_of<T, kLanesOf<T> - 1, 1>(a, b);
  }
}

// Lane l of the result is lane l/2 of a (l even) or of b (l odd), for the first or second half of the lanes.
template <typename T, int Half>
inline Vec<T> interleaved(const Vec<T>& a, const Vec<T>& b) {
  typename VecOf<T>::mask mask;
  for (int l = 0; l < kLanesOf<T>; ++l) mask[l] = (l % 2) * kLanesOf<T> + Half * kLanesOf<T> / 2 + l / 2;
  return __builtin_shuffle(a, b, mask);
}

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
// Rows are lifted in chunks of one vector, all pairs at once: a pair's predict needs the next even sample, so
// each pair runs one chunk behind the previous one, and successors/predecessors come from the neighbouring
// chunk held in a register. Columns are lifted the same way with rows in place of chunks: the band streams
// through in blocks of row pairs, each vector of columns carrying its values in registers through a block
// and in one row per version between blocks, so a band is read once and its lifted rows written once.
// Periodic boundaries: the sweeps start a few chunks (rows) early on periodically wrapped samples; what those
// warm-up steps compute from not-yet-valid carries never reaches an output (tests check every boundary).
template <typename T, int P>
class LiftingKernel {
 public:
  explicit LiftingKernel(const LiftingScheme& s) {
    for (int j = 0; j < P; ++j) {
      predict_[j] = static_cast<T>(s.predict[j]);
      update_[j] = static_cast<T>(s.update[j]);
    }
    scale_[0] = s.scale[0];
    scale_[1] = s.scale[1];
  }

  // One row of length 2m -> two bands of length m, each also multiplied by `outer`.
  void split_row(const T* __restrict src, T* lo, T* hi, int64_t m, double outer = 1.0) {
    // Whole chunks inside the row are loaded from it and split into even and odd samples in registers; only
    // the periodic margins and a partial last chunk go through the extended buffers.
    const int64_t whole = m / kLanesOf<T>;
    T* e = extended(0, m);
    T* o = extended(1, m);
    fill_margins(e, m, [&](int64_t n) { return src[2 * n]; });
    fill_margins(o, m, [&](int64_t n) { return src[2 * n + 1]; });
    const T s0 = static_cast<T>(scale_[0] * outer), s1 = static_cast<T>(scale_[1] * outer);
    Vec<T> e_old[P + 1] = {}, o_old[P + 1] = {};
    for (int64_t i = -lead_chunks(); i < chunks(m) + P; ++i) {
      Vec<T> ev[P + 1], ov[P + 1];  // ev[j], ov[j]: version j at chunk i - j
      if (i >= 0 && i < whole) {
        const Vec<T> a = load(src + 2 * i * kLanesOf<T>), b = load(src + (2 * i + 1) * kLanesOf<T>);
        ev[0] = lanes_of<T, 0, 2>(a, b);
        ov[0] = lanes_of<T, 1, 2>(a, b);
      } else {
        ev[0] = load(e + i * kLanesOf<T>);
        ov[0] = load(o + i * kLanesOf<T>);
      }
      for (int j = 1; j <= P; ++j) {
        ov[j] = predicted(o_old[j - 1], e_old[j - 1], successors<T>(e_old[j - 1], ev[j - 1]), predict_[j - 1]);
        ev[j] = updated(e_old[j - 1], predecessors<T>(o_old[j], ov[j]), ov[j], update_[j - 1]);
      }
      if (i - P >= 0) {
        store_chunk(lo, i - P, s0 * ev[P], m);
        store_chunk(hi, i - P, s1 * ov[P], m);
      }
      advance(e_old, o_old, ev, ov);
    }
  }

  // Two bands of length m, each first multiplied by `outer`, -> one row of length 2m.
  void merge_row(const T* lo, const T* hi, T* dst, int64_t m, double outer = 1.0) {
    const int64_t whole = m / kLanesOf<T>;
    T* e = extended(0, m);
    T* o = extended(1, m);
    const T a0 = static_cast<T>(outer / scale_[0]), a1 = static_cast<T>(outer / scale_[1]);
    fill_margins(e, m, [&](int64_t n) { return a0 * lo[n]; });
    fill_margins(o, m, [&](int64_t n) { return a1 * hi[n]; });
    Vec<T> e_old[P + 1] = {}, o_old[P + 1] = {};
    for (int64_t i = -lead_chunks(); i < chunks(m) + P; ++i) {
      Vec<T> ev[P + 1], ov[P + 1];  // ev[j - 1] at chunk i - (P - j), ov[j - 1] one chunk behind it
      if (i >= 0 && i < whole) {
        ev[P] = a0 * load(lo + i * kLanesOf<T>);
        ov[P] = a1 * load(hi + i * kLanesOf<T>);
      } else {
        ev[P] = load(e + i * kLanesOf<T>);
        ov[P] = load(o + i * kLanesOf<T>);
      }
      for (int j = P; j >= 1; --j) {
        const Vec<T>& even = j == P ? ev[P] : e_old[j];
        ev[j - 1] = unupdated(even, predecessors<T>(o_old[j], ov[j]), ov[j], update_[j - 1]);
        ov[j - 1] = unpredicted(o_old[j], e_old[j - 1], successors<T>(e_old[j - 1], ev[j - 1]), predict_[j - 1]);
      }
      if (i - P >= 0) store_pairs(dst, i - P, e_old[0], ov[0], m);
      advance(e_old, o_old, ev, ov);
    }
  }

  // 2-D split of one (2m x 2w) band with row stride ld into its four (m x w) children (a, h, v, d). Blocks of
  // kBlockRows row pairs stream through the column lifting, then each resulting row is split along the row
  // (which also applies the column scales).
  void split_band(const T* in, int64_t ld, int64_t m, int64_t w, T* const kids[4]) {
    const int64_t width = 2 * w, stride = round_up(width);
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
          for (int j = 1; j <= P; ++j) {
            o_new[j] = predicted(o_old[j - 1], e_old[j - 1], e_new[j - 1], predict_[j - 1]);
            e_new[j] = updated(e_old[j - 1], o_old[j], o_new[j], update_[j - 1]);
          }
          put(lifted + 2 * r * stride, c, e_new[P]);
          put(lifted + (2 * r + 1) * stride, c, o_new[P]);
          advance(e_old, o_old, e_new, o_new);
        }
        carry.save(c, e_old, o_old);
      };
      sweep(column, width);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t k = first + r - P;
        if (k < 0) continue;
        for (int b = 0; b < 2; ++b) {
          split_row(lifted + (2 * r + b) * stride, kids[b] + k * w, kids[b + 2] + k * w, w, scale_[b]);
        }
      }
    }
  }

  // 2-D merge of four (m x w) children into one (2m x 2w) band: each child row pair is merged along the row
  // (with the column scales), then blocks of rows stream back through the inverse column lifting, whose
  // version 0 goes straight to the output rows.
  void merge_band(const T* const kids[4], int64_t m, int64_t w, T* out) {
    const int64_t width = 2 * w, stride = round_up(width);
    T* const buffer = aligned(rows_, (2 * P + 3 + 2 * kBlockRows) * stride);
    const Carry carry(buffer, stride);
    T* merged = buffer + (2 * P + 2) * stride;      // version P: the block's rows merged along the row
    T* scratch = merged + 2 * kBlockRows * stride;  // where warm-up rows of version 0 go
    for (int64_t first = -(P + 1); first < m + P; first += kBlockRows) {
      const int64_t rows = std::min<int64_t>(kBlockRows, m + P - first);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t q = positive_mod(first + r, m);
        for (int b = 0; b < 2; ++b) {
          merge_row(kids[b] + q * w, kids[b + 2] + q * w, merged + (2 * r + b) * stride, w, 1.0 / scale_[b]);
        }
      }
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
        V e_old[P + 1], o_old[P + 1];
        carry.load(c, e_old, o_old);
        for (int64_t r = 0; r < rows; ++r) {
          V e_new[P + 1], o_new[P + 1];
          e_new[P] = at<V>(merged + 2 * r * stride, c);
          o_new[P] = at<V>(merged + (2 * r + 1) * stride, c);
          for (int j = P; j >= 1; --j) {
            e_new[j - 1] = unupdated(j == P ? e_new[P] : e_old[j], o_old[j], o_new[j], update_[j - 1]);
            o_new[j - 1] = unpredicted(o_old[j], e_old[j - 1], e_new[j - 1], predict_[j - 1]);
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

  // The values just computed become the previous ones of the next chunk or row.
  template <class V>
  static void advance(V even_old[P + 1], V odd_old[P + 1], const V even_new[P + 1], const V odd_new[P + 1]) {
    for (int j = 0; j <= P; ++j) {
      even_old[j] = even_new[j];
      odd_old[j] = odd_new[j];
    }
  }

  // Chunks of one vector covering m samples, and how many chunks a sweep starts early: enough that the lanes
  // a missing carry spoils (at most one per step, 2P) lie before chunk 0.
  static int64_t chunks(int64_t m) { return (m + kLanesOf<T> - 1) / kLanesOf<T>; }
  static constexpr int64_t lead_chunks() { return (2 * P + kLanesOf<T>) / kLanesOf<T>; }

  // Buffer k sized for a band of m samples extended periodically on both sides; returns its sample 0,
  // aligned to a vector.
  T* extended(int k, int64_t m) {
    const int64_t lead = lead_chunks() * kLanesOf<T>;
    return aligned(ext_[k], lead + (chunks(m) + P) * kLanesOf<T>) + lead;
  }

  // buf sized for n elements from a vector-aligned start, which it returns: aligned loads never straddle
  // cache lines.
  static T* aligned(std::vector<T>& buf, int64_t n) {
    if (static_cast<int64_t>(buf.size()) < n + kLanesOf<T>) buf.resize(n + kLanesOf<T>);  // grow only: no refills
    const auto misalign = reinterpret_cast<uintptr_t>(buf.data()) % kVectorBytes / sizeof(T);
    return buf.data() + (misalign ? kLanesOf<T> - misalign : 0);
  }

  static int64_t round_up(int64_t n) { return chunks(n) * kLanesOf<T>; }

  // The samples of an extended buffer that sweeps read from it rather than from the row: the periodic margins
  // before 0 and from the last whole chunk on, sample(n) giving sample n of the band (0 <= n < m).
  template <class Sample>
  static void fill_margins(T* x, int64_t m, Sample&& sample) {
    const int64_t lead = lead_chunks() * kLanesOf<T>;
    fill_periodic(x, -lead, 0, m, sample);
    fill_periodic(x, m / kLanesOf<T> * kLanesOf<T>, (chunks(m) + P) * kLanesOf<T>, m, sample);
  }

  // x[i] = sample(i mod m) for i in [from, to), in runs that do not wrap (so the copies vectorize).
  template <class Sample>
  static void fill_periodic(T* x, int64_t from, int64_t to, int64_t m, Sample& sample) {
    for (int64_t i = from, n = positive_mod(from, m); i < to; n = 0) {
      const int64_t run = std::min(to - i, m - n);
      for (int64_t r = 0; r < run; ++r) x[i + r] = sample(n + r);
      i += run;
    }
  }

  static void store_chunk(T* dst, int64_t k, const Vec<T>& v, int64_t m) {
    const int64_t first = k * kLanesOf<T>;
    if (first + kLanesOf<T> <= m) {
      store(dst + first, v);
    } else {
      T tmp[kLanesOf<T>];
      store(tmp, v);
      std::memcpy(dst + first, tmp, sizeof(T) * (m - first));
    }
  }

  // Chunk k of even and odd samples, interleaved into dst (a row of 2m samples).
  static void store_pairs(T* dst, int64_t k, const Vec<T>& even, const Vec<T>& odd, int64_t m) {
    const Vec<T> low = interleaved<T, 0>(even, odd), high = interleaved<T, 1>(even, odd);
    const int64_t first = 2 * k * kLanesOf<T>;
    if (first + 2 * kLanesOf<T> <= 2 * m) {
      store(dst + first, low);
      store(dst + first + kLanesOf<T>, high);
    } else {
      T tmp[2 * kLanesOf<T>];
      store(tmp, low);
      store(tmp + kLanesOf<T>, high);
      std::memcpy(dst + first, tmp, sizeof(T) * (2 * m - first));
    }
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

  // column(zero, c) over a row of `width` samples: whole vectors, then single samples.
  template <class Column>
  static void sweep(Column&& column, int64_t width) {
    int64_t c = 0;
    for (; c + kLanesOf<T> <= width; c += kLanesOf<T>) column(Vec<T>{}, c);
    for (; c < width; ++c) column(T{}, c);
  }

  static constexpr int64_t kBlockRows = 8;  // rows lifted per column visit: carries stay in registers between them

  T predict_[P], update_[P];
  double scale_[2];
  std::vector<T> ext_[2];
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
  const int64_t fanout = int64_t(1) << fanout_bits;
  auto roots = [&] {
    parallel_for_with_scratch(planes, threads, make, [&](auto& ws, int64_t p) { walk(ws, p).node(0, 0); });
  };
  auto subtrees = [&] {
    parallel_for_with_scratch(planes * fanout, threads, make,
                              [&](auto& ws, int64_t i) { walk(ws, i / fanout).visit(1, i % fanout); });
  };
  if (split) {
    roots();
    subtrees();
  } else {
    subtrees();
    roots();
  }
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
                    int threads, const Kernel& prototype) {
  packet_trees<T>(kind, x, y, planes, height * width, levels, 2, threads, prototype,
                  [&](Kernel& kernel, int level, T* band, T* first_kid) {
                    const int64_t h = height >> level, w = width >> level, child = (h / 2) * (w / 2);
                    T* const kids[4] = {first_kid, first_kid + child, first_kid + 2 * child, first_kid + 3 * child};
                    if (kind == BankKind::Split) {
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
               const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads) {
  advise_huge_pages(y, sizeof(T) * planes * height * width);
  with_kernel<T>(bank, lifting, [&](const auto& kernel) {
    packet_tree_2d(kind, x, y, planes, height, width, levels, threads, kernel);
  });
}

template void wpt1d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, const PolyphaseBank&,
                                const LiftingScheme&, int, int);
template void wpt1d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, const PolyphaseBank&,
                                 const LiftingScheme&, int, int);
template void wpt2d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, int64_t, const PolyphaseBank&,
                                const LiftingScheme&, int, int);
template void wpt2d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, int64_t, const PolyphaseBank&,
                                 const LiftingScheme&, int, int);

}  // namespace WALLOC_CPU_ISA
}  // namespace walloc
