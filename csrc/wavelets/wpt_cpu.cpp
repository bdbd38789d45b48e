// CPU wavelet packet transforms: each plane (one channel of one item) runs its whole packet tree while it is
// hot in cache, so memory traffic is one read of the input and one write of the output per transform.
// Threads take whole planes.
//
// This file is compiled once per instruction set (see wpt_cpu_isa.h): WALLOC_CPU_ISA names the namespace of
// this copy and WALLOC_CPU_TARGET its target. The target is set by pragma after the includes, so only this
// file's own functions use the wider instructions; inline library code shared with other files (std::vector)
// stays baseline and can never be picked by the linker for a CPU without them. Every copy is built with
// -ffp-contract=off: all perform the same operations in the same order and give bit-identical results.
#include <array>
#include <cstring>
#include <vector>

#include "../common/memory.h"
#include "../common/parallel.h"
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

template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  typedef float type __attribute__((vector_size(kVectorBytes)));
};
template <>
struct VecOf<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
};
template <typename T>
using Vec = typename VecOf<T>::type;

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
  constexpr int64_t kLanes = kVectorBytes / sizeof(T);
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

// Taps of a bank converted to T, plus per-thread buffers for pointer tables and padded rows.
template <typename T>
struct Workspace {
  const PolyphaseBank& bank;
  std::vector<T> coef[2];
  std::vector<const T*> ptrs;
  std::vector<T> ext[2];   // periodically padded copies of the two input channels of a row
  std::vector<T> row[2];   // a row-pass result before interleaving, or a column-pass result
  std::vector<T> plane;    // intermediate levels

  Workspace(const PolyphaseBank& b, int64_t plane_size) : bank(b), plane(plane_size) {
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

// Where a level of a packet tree writes: alternating between the output and a scratch plane, so the last
// level lands in the output and no level reads and writes the same buffer.
template <typename T>
T* level_target(int steps_left, T* output, T* scratch) {
  return steps_left % 2 == 0 ? output : scratch;
}

}  // namespace

template <typename T>
void wpt1d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t length, const PolyphaseBank& bank,
               int levels, int threads) {
  advise_huge_pages(y, sizeof(T) * planes * length);
  auto make = [&] { return Workspace<T>(bank, levels > 1 ? length : 0); };
  parallel_for_with_scratch(planes, threads, make, [&](Workspace<T>& ws, int64_t p) {
    const T* in = x + p * length;
    T* out = y + p * length;
    for (int step = 0; step < levels; ++step) {
      const bool split = kind == BankKind::Split;
      const int l = split ? step + 1 : levels - step;  // the level whose bands of length n are split or rebuilt
      T* dst = level_target(split ? levels - l : l - 1, out, ws.plane.data());
      const int64_t bands = int64_t(1) << (l - 1), n = length >> (l - 1), m = n / 2;
      for (int64_t b = 0; b < bands; ++b) {
        if (split) {
          ws.split_row(in + b * n, dst + 2 * b * m, dst + (2 * b + 1) * m, m);
        } else {
          ws.merge_row(in + 2 * b * m, in + (2 * b + 1) * m, dst + b * n, m);
        }
      }
      in = dst;
    }
  });
}

template <typename T>
void wpt2d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t height, int64_t width,
               const PolyphaseBank& bank, int levels, int threads) {
  const int64_t size = height * width;
  advise_huge_pages(y, sizeof(T) * planes * size);
  auto make = [&] { return Workspace<T>(bank, levels > 1 ? size : 0); };
  parallel_for_with_scratch(planes, threads, make, [&](Workspace<T>& ws, int64_t p) {
    const T* in = x + p * size;
    T* out = y + p * size;
    for (int step = 0; step < levels; ++step) {
      const bool split = kind == BankKind::Split;
      const int l = split ? step + 1 : levels - step;
      T* dst = level_target(split ? levels - l : l - 1, out, ws.plane.data());
      const int64_t bands = int64_t(1) << (2 * (l - 1)), h = height >> (l - 1), w = width >> (l - 1);
      const int64_t child = (h / 2) * (w / 2);
      for (int64_t b = 0; b < bands; ++b) {
        T* kids[4];
        for (int k = 0; k < 4; ++k) kids[k] = (split ? dst : const_cast<T*>(in)) + (4 * b + k) * child;
        if (split) {
          ws.split_band(in + b * h * w, w, h / 2, w / 2, kids);
        } else {
          ws.merge_band(kids, h / 2, w / 2, dst + b * h * w);
        }
      }
      in = dst;
    }
  });
}

template void wpt1d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, const PolyphaseBank&, int, int);
template void wpt1d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, const PolyphaseBank&, int, int);
template void wpt2d_cpu<float>(BankKind, const float*, float*, int64_t, int64_t, int64_t, const PolyphaseBank&, int, int);
template void wpt2d_cpu<double>(BankKind, const double*, double*, int64_t, int64_t, int64_t, const PolyphaseBank&, int, int);

}  // namespace WALLOC_CPU_ISA
}  // namespace walloc
