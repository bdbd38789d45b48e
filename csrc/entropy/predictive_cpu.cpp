// The predictive latent model (see predictive.h). Encoder analysis and decoder build each symbol's context
// from the same functions (weighted, prediction_floor/quarter, magnitude, activity), so the two cannot
// disagree; the encoder knows every symbol and runs planes in parallel, row loops the compiler vectorises, the
// decoder runs in symbol order. Planes are zero-padded, so no neighbour needs a bounds check.
#include "predictive.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../common/parallel.h"
#include "rans_decode_chunk.h"

namespace walloc {
namespace predictive {
namespace {

// Planes with two zero rows above, two zero columns left and one right, so the six neighbours of every
// position are plain loads: row(y)[x - 2], row(y)[x - 1], row(y - 1)[x - 1 .. x + 1], row(y - 2)[x]. The
// encoder keeps centred symbols in int16 (under 2**14 in magnitude), which halves the bytes its row loops read
// and lets int16 products use the multiply-add instructions of every x86-64 CPU.
template <typename T>
class PaddedPlanes {
 public:
  PaddedPlanes(int64_t count, int64_t height, int64_t width)
      : pitch_(width + 3), plane_(pitch_ * (height + 2)), data_(size_t(count * plane_)) {}
  T* row(int64_t plane, int64_t y) { return data_.data() + plane * plane_ + (y + 2) * pitch_ + 2; }
  const T* row(int64_t plane, int64_t y) const { return data_.data() + plane * plane_ + (y + 2) * pitch_ + 2; }
  int64_t pitch() const { return pitch_; }

 private:
  int64_t pitch_, plane_;
  std::vector<T> data_;  // value-initialised: the padding stays zero
};

// The weighted sum of the neighbours W, N, NW, NE, WW, NN of column x (row points at the padded row, one
// pitch below its row above), in two parts: the rows above, and W and WW, which the sequential decoder keeps
// in registers. Exact in int32 (any order): 15-bit values times six int8 weights stay under 2**24.
template <typename T>
inline int32_t weighted_above(const T* row, int64_t pitch, const int8_t* w, int64_t x) {
  const T* up = row - pitch;
  return w[1] * up[x] + w[2] * up[x - 1] + w[3] * up[x + 1] + w[5] * up[x - pitch];
}
inline int32_t weighted(int32_t west, int32_t west2, int32_t above, const int8_t* w) {
  return w[0] * west + w[4] * west2 + above;
}

// A symbol's prediction from the weighted neighbours t (in 1/64): its floor and the fraction's quarter
// (arithmetic shifts: the floor for negative t too).
inline int32_t prediction_floor(int32_t t) { return t >> kWeightShift; }
inline int32_t prediction_quarter(int32_t t) { return (t & ((1 << kWeightShift) - 1)) >> (kWeightShift - 2); }

// What the activity counts of a coded error: its distance from the nearest integer prediction. A 15-bit value
// minus a prediction of six int8-weighted neighbours (in 1/64) stays under 2**20.
inline int32_t magnitude(int32_t error, int32_t quarter) {
  const int32_t nearest = error - (quarter >> 1);
  return nearest < 0 ? -nearest : nearest;
}

// The activity of column x from the magnitudes of its plane's causal neighbours and, where the plane has a
// previous channel, the magnitude at the same place there (previous: 0); in the same two parts.
inline int32_t activity_above(const int32_t* row, int64_t pitch, int64_t x) {
  const int32_t* up = row - pitch;
  return 2 * up[x] + up[x - 1] + up[x + 1] + up[x - pitch];
}
inline int32_t activity(int32_t west, int32_t west2, int32_t above, int32_t previous) {
  return 2 * west + west2 + above + previous;
}

// The error for symbols outside their range, in the words of walloc/entropy/predictive.py's checks.
std::string range_message(const Planes& p) {
  return "symbols must lie in [0, " + std::to_string(1 << p.bits) + ")";
}

void check_planes(const Planes& p) {
  if (p.count < 0 || p.height < 1 || p.width < 1 || p.channels < 1 || p.bits < 1 || p.bits > 15 || p.bins < 1 ||
      p.bins > kMaxBins || p.centres < 1) {
    throw std::invalid_argument("predictive planes: bad shape, channels, bits, bins or centres");
  }
}

// Plane `plane` of symbols, centred, into padded plane 0 of v. False if a symbol lies outside [0, 2**bits)
// (what is stored for it is then meaningless).
bool load_centred(const int32_t* symbols, const Planes& p, int64_t plane, PaddedPlanes<int16_t>& v) {
  const uint32_t half = uint32_t(1) << (p.bits - 1), end = 2 * half;
  const int32_t* s = symbols + plane * p.height * p.width;
  bool in_range = true;
  for (int64_t y = 0; y < p.height; ++y) {
    int16_t* row = v.row(0, y);
    for (int64_t x = 0; x < p.width; ++x) {
      const uint32_t symbol = uint32_t(s[y * p.width + x]);
      in_range &= symbol < end;
      row[x] = int16_t(symbol - half);
    }
  }
  return in_range;
}

// The sum of a[x] * b[x], x < n, in int32 (int16 products summed so become multiply-adds); the caller keeps n
// short enough that the sum cannot overflow.
inline int32_t dot(const int16_t* a, const int16_t* b, int64_t n) {
  int32_t sum = 0;
  for (int64_t x = 0; x < n; ++x) sum += int32_t(a[x]) * b[x];
  return sum;
}

// The rANS chunk decoder's view of the model: walks the planes in raster order, gives each symbol's table row
// from its decoded neighbours (row()) and fixes it from its coded error (put()). A symbol's row depends on the
// one just decoded, so row() is on the decoder's dependent chain: the activity -> bin -> scale -> row steps are
// one look-up in a per-plane table.
class PlanesDecoder {
 public:
  using Row = rans::SymbolLookup::Row;

  PlanesDecoder(const Planes& p, const rans::SymbolLookup& lookup, int32_t* out)
      : p_(p), lookup_(lookup), out_(out), half_(int32_t(1) << (p.bits - 1)), values_(1, p.height, p.width),
        magnitudes_(2, p.height, p.width), zeros_(size_t(p.width)), pitch_(values_.pitch()) {
    // bin_starts_[b]: the first activity in bin b or above (bin 2 has none); activities from the last bin's
    // start on share its one entry, which ends the table.
    for (int32_t a = 0; int(bin_starts_.size()) < p.bins; ++a) {
      while (int(bin_starts_.size()) <= activity_bin(a, p.bins)) bin_starts_.push_back(a);
    }
    last_activity_ = bin_starts_.back();
    bin_starts_.push_back(int32_t(last_activity_) + 1);
    rows_by_activity_.resize(size_t(last_activity_) + 1);
    start_row();
  }

  const Row& row() {
    const int32_t t = weighted(int32_t(west_), int32_t(west2_), weighted_above(v_, pitch_, weights_, x_), weights_);
    floor_ = prediction_floor(t);
    quarter_ = prediction_quarter(t);
    const int64_t a = activity(int32_t(west_magnitude_), int32_t(west2_magnitude_), activity_above(m_, pitch_, x_),
                               previous_[x_]);
    return rows_by_activity_[size_t(std::min<int64_t>(a, last_activity_))][quarter_];
  }

  void put(int32_t error) {
    const int64_t value = floor_ + error;
    if (value < -half_ || value >= half_) {
      throw BitstreamError("corrupt predictive stream: a decoded latent lies outside its symbol range");
    }
    const int32_t m = magnitude(error, int32_t(quarter_));
    v_[x_] = int32_t(value);
    m_[x_] = m;
    *out_++ = int32_t(value + half_);
    west2_ = west_;
    west_ = value;
    west2_magnitude_ = west_magnitude_;
    west_magnitude_ = m;
    if (++x_ == p_.width) {
      x_ = 0;
      if (++y_ == p_.height) {
        y_ = 0;
        ++plane_;
      }
      if (plane_ < p_.count) start_row();
    }
  }

 private:
  void start_row() {
    const int64_t current = plane_ % 2;  // magnitudes of this plane; the other holds the previous plane's
    v_ = values_.row(0, y_);
    m_ = magnitudes_.row(current, y_);
    previous_ = plane_ % p_.channels != 0 ? magnitudes_.row(1 - current, y_) : zeros_.data();
    weights_ = p_.weights + plane_ * kNeighbours;
    west_ = west2_ = west_magnitude_ = west2_magnitude_ = 0;  // the zero padding left of the row
    if (y_ == 0) start_plane();
  }

  void start_plane() {
    const int32_t* scales = p_.scales + plane_ * p_.bins;
    const auto table = rows_by_activity_.begin();
    for (int b = 0; b < p_.bins; ++b) {
      std::fill(table + bin_starts_[size_t(b)], table + bin_starts_[size_t(b + 1)],
                lookup_.rows.data() + int64_t(scales[b]) * p_.centres);
    }
  }

  const Planes& p_;
  const rans::SymbolLookup& lookup_;
  int32_t* out_;
  const int64_t half_;
  PaddedPlanes<int32_t> values_, magnitudes_;  // centred values of this plane, magnitudes of this and the previous
  std::vector<int32_t> zeros_;                 // the previous channel's magnitudes where there is none
  std::vector<int32_t> bin_starts_;           // (bins + 1)
  std::vector<const Row*> rows_by_activity_;  // this plane's table rows for quarter 0, by activity
  const int64_t pitch_;
  int64_t last_activity_ = 0;
  int64_t plane_ = 0, y_ = 0, x_ = 0;
  int32_t* v_;
  int32_t* m_;
  const int32_t* previous_;
  const int8_t* weights_;
  // The row's last two values and magnitudes, and the current prediction: int64 so that the int32 stores into
  // the planes cannot alias them and they stay in registers.
  int64_t west_ = 0, west2_ = 0, west_magnitude_ = 0, west2_magnitude_ = 0;
  int64_t floor_ = 0, quarter_ = 0;
};

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
  constexpr int64_t kRun = 4096;  // positions per gathered run: 7 runs of int16 stay in L1
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

void decode_cpu(const uint8_t* data, size_t size, const Planes& p, const rans::Tables& t, int32_t* out) {
  check_planes(p);
  rans::validate(t, nullptr, 0);
  std::vector<uint8_t> used(size_t(t.count), 0);
  for (int64_t j = 0; j < p.count * p.bins; ++j) {
    if (p.scales[j] < 0 || (int64_t(p.scales[j]) + 1) * p.centres > t.count) {
      throw BitstreamError("corrupt predictive stream: a table scale is outside the family");
    }
    for (int q = 0; q < p.centres; ++q) used[size_t(p.scales[j] * p.centres + q)] = 1;
  }
  const int64_t n = p.count * p.height * p.width;
  const rans::StreamLayout layout = rans::parse_layout(data, size);
  if (layout.symbols != uint64_t(n)) {
    throw BitstreamError("corrupt predictive stream: it holds " + std::to_string(layout.symbols) +
                         " symbols, the planes " + std::to_string(n));
  }
  if (n == 0) return;
  const rans::SymbolLookup lookup(t, used, n);
  PlanesDecoder model(p, lookup, out);
  for (size_t c = 0; c + 1 < layout.offsets.size(); ++c) {
    const int64_t count = std::min<int64_t>(rans::kChunkSymbols, n - int64_t(c) * rans::kChunkSymbols);
    rans::decode_chunk(layout.body + layout.offsets[c], layout.offsets[c + 1] - layout.offsets[c], count, lookup,
                       model);
  }
}

}  // namespace predictive
}  // namespace walloc
