// The predictive encoder's analysis (see predictive.h): the weights' fit, every symbol's error and context,
// and the table choice. The symbols are known, so planes run in parallel and rows in loops the compiler
// vectorises. Compiled for the baseline and for AVX2 like wpt_cpu.cpp (WALLOC_CPU_ISA names this copy's
// namespace, WALLOC_CPU_TARGET its target, set by pragma after the includes) and without FMAs: the arithmetic
// is exact integer sums and one fixed sequence of double operations, so every copy gives the same bytes.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../common/parallel.h"
#include "predictive_encode_isa.h"
#include "predictive_model.h"
#include "../common/cpu_target.h"  // last: the target applies to what follows

namespace walloc {
namespace predictive {
namespace WALLOC_CPU_ISA {
namespace {

// The sum of a[x] * b[x], x < n, in int32 (int16 products summed so become multiply-adds); the caller keeps n
// short enough that the sum cannot overflow.
inline int32_t dot(const int16_t* a, const int16_t* b, int64_t n) {
  int32_t sum = 0;
  for (int64_t x = 0; x < n; ++x) sum += int32_t(a[x]) * b[x];
  return sum;
}


// The prediction weights in 1/64 from a plane's normal equations, gram w = rhs with `ridge` added to gram's
// diagonal: a Cholesky solve in a fixed order (gram + ridge is symmetric positive definite), rounded half to even
// and clamped to int8. Plain double arithmetic, compiled without contraction into FMAs, so the weights are the
// same on every machine.
void solve_weights(const int64_t (&gram)[kNeighbours][kNeighbours], const int64_t (&rhs)[kNeighbours], double ridge,
                   int8_t* weights) {
  constexpr int n = kNeighbours;
  double l[n][n] = {}, w[n];
  for (int j = 0; j < n; ++j) {
    double diagonal = double(gram[j][j]) + ridge;
    for (int k = 0; k < j; ++k) diagonal -= l[j][k] * l[j][k];
    l[j][j] = std::sqrt(diagonal);
    for (int i = j + 1; i < n; ++i) {
      double sum = double(gram[i][j]);
      for (int k = 0; k < j; ++k) sum -= l[i][k] * l[j][k];
      l[i][j] = sum / l[j][j];
    }
  }
  for (int i = 0; i < n; ++i) {  // L y = rhs
    double sum = double(rhs[i]);
    for (int k = 0; k < i; ++k) sum -= l[i][k] * w[k];
    w[i] = sum / l[i][i];
  }
  for (int i = n - 1; i >= 0; --i) {  // L^T w = y
    double sum = w[i];
    for (int k = i + 1; k < n; ++k) sum -= l[k][i] * w[k];
    w[i] = sum / l[i][i];
  }
  for (int i = 0; i < n; ++i) {
    weights[i] = int8_t(std::clamp(std::nearbyint(w[i] * (1 << kWeightShift)), -128.0, 127.0));
  }
}

}  // namespace

void fit_weights_cpu(const int32_t* symbols, const Planes& p, int8_t* weights, int threads) {
  check_planes(p);
  const double ridge = 1e-3 * double(p.height) * double(p.width);
  // The normal equations: sums of products of centred values (each product at most 2**(2 bits - 2) in
  // magnitude), in int32 over runs short enough not to overflow, then in int64, so exact in any order. The 21
  // distinct entries of the symmetric gram and the 6 of rhs. The neighbours of a run of positions are first
  // gathered into contiguous arrays, so each of the 27 sums is one long vectorised loop, not one per row (rows
  // are short: 96 symbols for a Kodak image's latents).
  constexpr int kTerms = kNeighbours * (kNeighbours + 1) / 2 + kNeighbours;
  constexpr int64_t kRun = 4096;  // positions per gathered run (7 runs, 56 KB; 1024 to 8192 ran alike)
  const int64_t run = std::min<int64_t>(kRun, std::max<int64_t>(1, (int64_t(1) << 30) >> (2 * (p.bits - 1))));
  struct Scratch {
    PaddedPlanes<int16_t> values;
    std::vector<int16_t> gathered;  // (kNeighbours + 1, run): W, N, NW, NE, WW, NN, then the symbols
  };
  std::atomic<bool> out_of_range{false};
  parallel_for_with_scratch(p.count, threads,
                            [&] { return Scratch{PaddedPlanes<int16_t>(1, p.height, p.width),
                                                 std::vector<int16_t>(size_t((kNeighbours + 1) * run))}; },
                            [&](Scratch& s, int64_t plane) {
    if (!load_centred(symbols, p, plane, s.values)) out_of_range = true;
    const int64_t pitch = s.values.pitch();
    int16_t* gathered = s.gathered.data();
    int64_t sums[kTerms] = {};
    int64_t filled = 0;
    auto add_products = [&] {
      int k = 0;
      for (int j = 0; j < kNeighbours; ++j) {
        for (int i = j; i <= kNeighbours; ++i) sums[k++] += dot(gathered + j * run, gathered + i * run, filled);
      }
      filled = 0;
    };
    for (int64_t y = 0; y < p.height; ++y) {
      const int16_t* row = s.values.row(0, y);
      const int16_t* up = row - pitch;
      const int16_t* n[kNeighbours + 1] = {row - 1, up, up - 1, up + 1, row - 2, up - pitch, row};  // ..., C
      for (int64_t x = 0; x < p.width;) {
        const int64_t length = std::min(run - filled, p.width - x);
        for (int j = 0; j <= kNeighbours; ++j) std::copy(n[j] + x, n[j] + x + length, gathered + j * run + filled);
        filled += length;
        x += length;
        if (filled == run) add_products();
      }
    }
    add_products();
    int64_t gram[kNeighbours][kNeighbours], rhs[kNeighbours];
    int k = 0;
    for (int j = 0; j < kNeighbours; ++j) {
      for (int i = j; i < kNeighbours; ++i, ++k) gram[j][i] = gram[i][j] = sums[k];
      rhs[j] = sums[k++];
    }
    solve_weights(gram, rhs, ridge, weights + plane * kNeighbours);
  });
  if (out_of_range) throw std::invalid_argument(range_message(p));
}

void analyse_cpu(const int32_t* symbols, const Planes& p, int32_t* errors, int32_t* contexts, int threads) {
  check_planes(p);
  const int64_t plane_size = p.height * p.width;
  // The symbols are known, so the planes need no order: errors, quarters (in contexts) and magnitudes of every
  // plane in parallel, then the activity bins, which read the previous channel's magnitudes.
  PaddedPlanes<int32_t> magnitudes(p.count, p.height, p.width);
  std::atomic<bool> out_of_range{false};
  parallel_for_with_scratch(p.count, threads, [&] { return PaddedPlanes<int16_t>(1, p.height, p.width); },
                            [&](PaddedPlanes<int16_t>& values, int64_t plane) {
    if (!load_centred(symbols, p, plane, values)) out_of_range = true;
    const int8_t* w = p.weights + plane * kNeighbours;
    const int64_t pitch = values.pitch();
    for (int64_t y = 0; y < p.height; ++y) {
      const int16_t* v = values.row(0, y);
      int32_t* m = magnitudes.row(plane, y);
      int32_t* e = errors + plane * plane_size + y * p.width;
      int32_t* q = contexts + plane * plane_size + y * p.width;
      for (int64_t x = 0; x < p.width; ++x) {
        const int32_t t = weighted(v[x - 1], v[x - 2], weighted_above(v, pitch, w, x), w);
        const int32_t quarter = prediction_quarter(t), error = v[x] - prediction_floor(t);
        e[x] = error;
        q[x] = quarter;
        m[x] = magnitude(error, quarter);
      }
    }
  });
  if (out_of_range) throw std::invalid_argument(range_message(p));
  parallel_for_with_scratch(p.count, threads, [] { return 0; }, [&](int&, int64_t plane) {
    const bool has_previous = plane % p.channels != 0;
    const int64_t pitch = magnitudes.pitch();
    for (int64_t y = 0; y < p.height; ++y) {
      const int32_t* m = magnitudes.row(plane, y);
      const int32_t* c = has_previous ? magnitudes.row(plane - 1, y) : m;
      int32_t* out = contexts + plane * plane_size + y * p.width;
      for (int64_t x = 0; x < p.width; ++x) {
        const int32_t a = activity(m[x - 1], m[x - 2], activity_above(m, pitch, x), has_previous ? c[x] : 0);
        out[x] += activity_bin(a, p.bins) * p.centres;
      }
    }
  });
}

void choose_scales_cpu(const int32_t* errors, const int32_t* contexts, const Planes& p, const int32_t* cost,
                       int reach, int scales, int32_t* chosen, int32_t* rows, int threads) {
  check_planes(p);
  if (reach < 0 || scales < 1) throw std::invalid_argument("predictive scale choice: bad cost reach or scale count");
  const int64_t plane_size = p.height * p.width, slots = 2 * int64_t(reach) + 3, cells = p.centres * slots;
  const int64_t contexts_per_plane = int64_t(p.bins) * p.centres;
  // uint32 counts (blocks of at most 2**31 symbols) times uint32 costs: the products need no 64-bit multiply.
  constexpr int64_t kBlock = int64_t(1) << 31;
  struct Counts {
    // Two histograms (bins * cells each), one for even and one for odd symbols, so that a run of errors in one
    // cell does not wait on its own increments; zero between blocks.
    std::vector<uint32_t> hist;
    std::vector<int64_t> touched;  // the cells counted in this block (a cell counted in both copies twice)
                                   // and one spare slot: every count writes one, only a new cell keeps it
    std::vector<uint64_t> total;   // (bins, scales)
    std::vector<int32_t> row_of;   // context -> the table row of its chosen scale
  };
  parallel_for_with_scratch(p.count, threads,
                            [&] { return Counts{std::vector<uint32_t>(size_t(2 * p.bins * cells)), {},
                                                std::vector<uint64_t>(size_t(p.bins * scales)),
                                                std::vector<int32_t>(size_t(contexts_per_plane))}; },
                            [&](Counts& c, int64_t plane) {
    std::fill(c.total.begin(), c.total.end(), 0);
    uint32_t* even = c.hist.data();
    uint32_t* odd = even + p.bins * cells;
    const int64_t plane_begin = plane * plane_size, plane_end = plane_begin + plane_size;
    for (int64_t begin = plane_begin; begin < plane_end; begin += kBlock) {
      const int64_t end = std::min(begin + kBlock, plane_end);
      // Branch-free: about one count in ten opens a cell, too often and too irregularly to predict.
      c.touched.resize(size_t(std::min(end - begin, 2 * p.bins * cells) + 1));
      // Locals, not captures: the counts' uint32 stores could otherwise alias `reach` and force reloads.
      const int32_t* e = errors;
      const int32_t* x = contexts;
      const int64_t low = -int64_t(reach) - 1, high = int64_t(reach) + 1, width = slots;
      int64_t* touched = c.touched.data();
      int64_t opened = 0;
      auto count = [e, x, low, high, width, touched, &opened](uint32_t* hist, int64_t i)
                       __attribute__((always_inline)) {
        const int64_t cell = x[i] * width + std::clamp<int64_t>(e[i], low, high) - low;  // x: bin * centres + q
        touched[opened] = cell;
        opened += hist[cell]++ == 0;
      };
      int64_t i = begin;
      for (; i + 1 < end; i += 2) {
        count(even, i);
        count(odd, i + 1);
      }
      if (i < end) count(even, i);
      // Most errors are small: only the cells counted cost anything. Exact integer sums in any order.
      for (int64_t t = 0; t < opened; ++t) {
        const int64_t cell = touched[t];
        const uint32_t n = even[cell] + odd[cell];  // at most a block's 2**31
        even[cell] = odd[cell] = 0;
        if (n == 0) continue;  // counted in both copies, folded already
        const int64_t bin = cell / cells;
        const int32_t* costs = cost + (cell - bin * cells) * scales;
        uint64_t* total = c.total.data() + bin * scales;
        for (int k = 0; k < scales; ++k) total[k] += uint64_t(n) * uint32_t(costs[k]);
      }
    }
    int32_t* choice = chosen + plane * p.bins;
    for (int bin = 0; bin < p.bins; ++bin) {
      const uint64_t* total = c.total.data() + bin * scales;
      choice[bin] = int32_t(std::min_element(total, total + scales) - total);  // ties: the lowest scale
      for (int q = 0; q < p.centres; ++q) c.row_of[size_t(bin * p.centres + q)] = choice[bin] * p.centres + q;
    }
    if (rows == nullptr) return;
    for (int64_t i = plane_begin; i < plane_end; ++i) rows[i] = c.row_of[size_t(contexts[i])];
  });
}

}  // namespace WALLOC_CPU_ISA
}  // namespace predictive
}  // namespace walloc
