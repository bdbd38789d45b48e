// The predictive latent model (see predictive.h). Encoder analysis and decoder build each symbol's context
// from the same functions (weighted, prediction_floor/quarter, magnitude, activity), so the two cannot
// disagree; the encoder knows every symbol and runs planes in parallel, row loops the compiler vectorises, the
// decoder runs in symbol order. Planes are zero-padded, so no neighbour needs a bounds check.
#include "predictive.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "../common/parallel.h"
#include "rans_decode_chunk.h"

namespace walloc {
namespace predictive {
namespace {

// Planes with two zero rows above, two zero columns left and one right, so the six neighbours of every
// position are plain loads: row(y)[x - 2], row(y)[x - 1], row(y - 1)[x - 1 .. x + 1], row(y - 2)[x].
class PaddedPlanes {
 public:
  PaddedPlanes(int64_t count, int64_t height, int64_t width)
      : pitch_(width + 3), plane_(pitch_ * (height + 2)), data_(size_t(count * plane_)) {}
  int32_t* row(int64_t plane, int64_t y) { return data_.data() + plane * plane_ + (y + 2) * pitch_ + 2; }
  const int32_t* row(int64_t plane, int64_t y) const {
    return data_.data() + plane * plane_ + (y + 2) * pitch_ + 2;
  }
  int64_t pitch() const { return pitch_; }

 private:
  int64_t pitch_, plane_;
  std::vector<int32_t> data_;  // value-initialised: the padding stays zero
};

// The weighted sum of the neighbours W, N, NW, NE, WW, NN of column x (row points at the padded row, one
// pitch below its row above), in two parts: the rows above, and W and WW, which the sequential decoder keeps
// in registers. Exact in int32 (any order): 15-bit values times six int8 weights stay under 2**24.
inline int32_t weighted_above(const int32_t* row, int64_t pitch, const int8_t* w, int64_t x) {
  const int32_t* up = row - pitch;
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

void check_planes(const Planes& p) {
  if (p.count < 0 || p.height < 1 || p.width < 1 || p.channels < 1 || p.bits < 1 || p.bits > 15 || p.bins < 1 ||
      p.centres < 1) {
    throw std::invalid_argument("predictive planes: bad shape, channels, bits, bins or centres");
  }
}

// Plane `plane` of symbols, centred, into padded plane 0 of v.
void load_centred(const int32_t* symbols, const Planes& p, int64_t plane, PaddedPlanes& v) {
  const int32_t half = int32_t(1) << (p.bits - 1);
  const int32_t* s = symbols + plane * p.height * p.width;
  for (int64_t y = 0; y < p.height; ++y) {
    int32_t* row = v.row(0, y);
    for (int64_t x = 0; x < p.width; ++x) row[x] = s[y * p.width + x] - half;
  }
}

// The rANS chunk decoder's view of the model: walks the planes in raster order, gives each symbol's table row
// from its decoded neighbours (row()) and fixes it from its coded error (put()).
class PlanesDecoder {
 public:
  PlanesDecoder(const Planes& p, int32_t* out)
      : p_(p), out_(out), half_(int32_t(1) << (p.bits - 1)), values_(1, p.height, p.width),
        magnitudes_(2, p.height, p.width), zeros_(size_t(p.width)), pitch_(values_.pitch()) {
    start_row();
  }

  int32_t row() {
    const int32_t t = weighted(int32_t(west_), int32_t(west2_), weighted_above(v_, pitch_, weights_, x_), weights_);
    floor_ = prediction_floor(t);
    quarter_ = prediction_quarter(t);
    const int32_t a = activity(int32_t(west_magnitude_), int32_t(west2_magnitude_), activity_above(m_, pitch_, x_),
                               previous_[x_]);
    return scales_[activity_bin(a, p_.bins)] * p_.centres + int32_t(quarter_);
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
    scales_ = p_.scales + plane_ * p_.bins;
    west_ = west2_ = west_magnitude_ = west2_magnitude_ = 0;  // the zero padding left of the row
  }

  const Planes& p_;
  int32_t* out_;
  const int64_t half_;
  PaddedPlanes values_, magnitudes_;  // centred values of this plane, magnitudes of this and the previous
  std::vector<int32_t> zeros_;        // the previous channel's magnitudes where there is none
  const int64_t pitch_;
  int64_t plane_ = 0, y_ = 0, x_ = 0;
  int32_t* v_;
  int32_t* m_;
  const int32_t* previous_;
  const int8_t* weights_;
  const int32_t* scales_;
  // The row's last two values and magnitudes, and the current prediction: int64 so that the int32 stores into
  // the planes cannot alias them and they stay in registers.
  int64_t west_ = 0, west2_ = 0, west_magnitude_ = 0, west2_magnitude_ = 0;
  int64_t floor_ = 0, quarter_ = 0;
};

}  // namespace

void least_squares_cpu(const int32_t* symbols, const Planes& p, double* gram, double* rhs, int threads) {
  check_planes(p);
  // Sums of products of int32 values (under 2**28 each) in int64: exact in any order. The 21 distinct
  // entries of the symmetric gram and the 6 of rhs, mirrored at the end.
  constexpr int kTerms = kNeighbours * (kNeighbours + 1) / 2 + kNeighbours;
  parallel_for_with_scratch(p.count, threads, [&] { return PaddedPlanes(1, p.height, p.width); },
                            [&](PaddedPlanes& v, int64_t plane) {
    load_centred(symbols, p, plane, v);
    const int64_t pitch = v.pitch();
    int64_t sums[kTerms] = {};
    for (int64_t y = 0; y < p.height; ++y) {
      const int32_t* row = v.row(0, y);
      const int32_t* up = row - pitch;
      const int32_t* up2 = up - pitch;
      for (int64_t x = 0; x < p.width; ++x) {
        const int64_t n[kNeighbours + 1] = {row[x - 1], up[x], up[x - 1], up[x + 1], row[x - 2], up2[x], row[x]};
        int k = 0;
        for (int j = 0; j < kNeighbours; ++j) {
          for (int i = j; i < kNeighbours; ++i) sums[k++] += n[j] * n[i];
        }
        for (int j = 0; j < kNeighbours; ++j) sums[k++] += n[j] * n[kNeighbours];
      }
    }
    double* a = gram + plane * kNeighbours * kNeighbours;
    int k = 0;
    for (int j = 0; j < kNeighbours; ++j) {
      for (int i = j; i < kNeighbours; ++i, ++k) a[j * kNeighbours + i] = a[i * kNeighbours + j] = double(sums[k]);
    }
    for (int j = 0; j < kNeighbours; ++j) rhs[plane * kNeighbours + j] = double(sums[k++]);
  });
}

void analyse_cpu(const int32_t* symbols, const Planes& p, int32_t* errors, int32_t* contexts, int threads) {
  check_planes(p);
  const int64_t plane_size = p.height * p.width;
  const int32_t half = int32_t(1) << (p.bits - 1);
  // The symbols are known, so the planes need no order: errors, quarters (in contexts) and magnitudes of every
  // plane in parallel, then the activity bins, which read the previous channel's magnitudes.
  PaddedPlanes magnitudes(p.count, p.height, p.width);
  std::atomic<bool> out_of_range{false};
  parallel_for_with_scratch(p.count, threads, [&] { return PaddedPlanes(1, p.height, p.width); },
                            [&](PaddedPlanes& values, int64_t plane) {
    load_centred(symbols, p, plane, values);
    const int8_t* w = p.weights + plane * kNeighbours;
    const int64_t pitch = values.pitch();
    bool in_range = true;
    for (int64_t y = 0; y < p.height; ++y) {
      const int32_t* v = values.row(0, y);
      int32_t* m = magnitudes.row(plane, y);
      int32_t* e = errors + plane * plane_size + y * p.width;
      int32_t* q = contexts + plane * plane_size + y * p.width;
      for (int64_t x = 0; x < p.width; ++x) {
        const int32_t t = weighted(v[x - 1], v[x - 2], weighted_above(v, pitch, w, x), w);
        const int32_t quarter = prediction_quarter(t), error = v[x] - prediction_floor(t);
        in_range &= v[x] >= -half && v[x] < half;
        e[x] = error;
        q[x] = quarter;
        m[x] = magnitude(error, quarter);
      }
    }
    if (!in_range) out_of_range = true;
  });
  if (out_of_range) throw std::invalid_argument("predictive analysis: a symbol lies outside [0, 2**bits)");
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

void choose_scales_cpu(const int32_t* errors, const int32_t* contexts, const Planes& p, const int64_t* cost,
                       int reach, int scales, int32_t* chosen, int32_t* rows, int threads) {
  check_planes(p);
  if (reach < 0 || scales < 1) throw std::invalid_argument("predictive scale choice: bad cost reach or scale count");
  const int64_t plane_size = p.height * p.width, slots = 2 * int64_t(reach) + 3, cells = p.centres * slots;
  struct Counts {
    std::vector<int64_t> hist;     // (bins * cells), zero between planes
    std::vector<int64_t> touched;  // the cells counted in this plane
    std::vector<int64_t> total;    // (bins, scales)
  };
  parallel_for_with_scratch(p.count, threads,
                            [&] { return Counts{std::vector<int64_t>(size_t(p.bins * cells)), {},
                                                std::vector<int64_t>(size_t(p.bins * scales))}; },
                            [&](Counts& c, int64_t plane) {
    c.touched.clear();
    std::fill(c.total.begin(), c.total.end(), 0);
    const int64_t begin = plane * plane_size, end = begin + plane_size;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t slot = std::clamp<int64_t>(errors[i], -reach - 1, reach + 1) + reach + 1;
      const int64_t cell = contexts[i] * slots + slot;  // context = bin * centres + quarter
      if (c.hist[size_t(cell)]++ == 0) c.touched.push_back(cell);
    }
    // Most errors are small: only the cells counted cost anything. Exact integer sums in any order.
    for (const int64_t cell : c.touched) {
      const int64_t count = c.hist[size_t(cell)], bin = cell / cells;
      const int64_t* costs = cost + (cell - bin * cells) * scales;
      int64_t* total = c.total.data() + bin * scales;
      for (int k = 0; k < scales; ++k) total[k] += count * costs[k];
      c.hist[size_t(cell)] = 0;
    }
    int32_t* choice = chosen + plane * p.bins;
    for (int bin = 0; bin < p.bins; ++bin) {
      const int64_t* total = c.total.data() + bin * scales;
      choice[bin] = int32_t(std::min_element(total, total + scales) - total);  // ties: the lowest scale
    }
    if (rows == nullptr) return;
    for (int64_t i = begin; i < end; ++i) {
      const int32_t bin = contexts[i] / p.centres;
      rows[i] = choice[bin] * p.centres + (contexts[i] - bin * p.centres);
    }
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
  PlanesDecoder model(p, out);
  for (size_t c = 0; c + 1 < layout.offsets.size(); ++c) {
    const int64_t count = std::min<int64_t>(rans::kChunkSymbols, n - int64_t(c) * rans::kChunkSymbols);
    rans::decode_chunk(layout.body + layout.offsets[c], layout.offsets[c + 1] - layout.offsets[c], count, lookup,
                       model);
  }
}

}  // namespace predictive
}  // namespace walloc
