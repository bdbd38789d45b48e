// The predictive latent model (see predictive.h). Encoder analysis and decoder build each symbol's context
// from the same functions (predict, magnitude, context_bin), so the two cannot disagree; the encoder knows
// every symbol and runs planes in parallel, the decoder runs in symbol order.
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

// floor(a / 2**kWeightShift).
inline int64_t floor_shift(int64_t a) {
  const int64_t d = int64_t(1) << kWeightShift;
  return a >= 0 ? a / d : -((-a + d - 1) / d);
}

// The six causal neighbours W, N, NW, NE, WW, NN of (y, x) in a row-major plane of `width` columns, zero
// outside the plane.
template <typename T>
inline void neighbours(const T* plane, int64_t width, int64_t y, int64_t x, int64_t out[kNeighbours]) {
  auto at = [&](int64_t dy, int64_t dx) -> int64_t {
    const int64_t yy = y + dy, xx = x + dx;
    return yy >= 0 && xx >= 0 && xx < width ? int64_t(plane[yy * width + xx]) : 0;
  };
  out[0] = at(0, -1);
  out[1] = at(-1, 0);
  out[2] = at(-1, -1);
  out[3] = at(-1, 1);
  out[4] = at(0, -2);
  out[5] = at(-2, 0);
}

// A symbol's prediction: the floor of the weighted neighbours (in 1/64) and the fraction's quarter.
struct Prediction {
  int64_t floor;
  int32_t quarter;
};

inline Prediction predict(const int32_t* values, const int8_t* weights, int64_t width, int64_t y, int64_t x) {
  int64_t v[kNeighbours];
  neighbours(values, width, y, x, v);
  int64_t total = 0;
  for (int j = 0; j < kNeighbours; ++j) total += weights[j] * v[j];
  const int64_t floor = floor_shift(total);
  return {floor, int32_t((total - floor * (int64_t(1) << kWeightShift)) >> (kWeightShift - 2))};
}

// What the activity counts of a coded error: its distance from the nearest integer prediction. Stored as int32:
// a 15-bit value minus a prediction of six int8-weighted neighbours (in 1/64) stays under 2**20.
inline int32_t magnitude(int64_t error, int32_t quarter) {
  const int64_t nearest = error - (quarter >> 1);
  return int32_t(nearest < 0 ? -nearest : nearest);
}

// The activity bin of (y, x) from the magnitudes of its plane's causal neighbours and, where the plane has a
// previous channel (previous != nullptr), the magnitude at the same place there.
inline int32_t context_bin(const int32_t* magnitudes, const int32_t* previous, int64_t width, int64_t y, int64_t x,
                           int bins) {
  int64_t e[kNeighbours];
  neighbours(magnitudes, width, y, x, e);
  int64_t activity = 2 * e[0] + 2 * e[1] + e[2] + e[3] + e[4] + e[5];
  if (previous != nullptr) activity += previous[y * width + x];
  return activity_bin(activity, bins);
}

// The decoder's model: symbol g's context from the values and magnitudes of the symbols before it; record()
// then fixes symbol g.
class PlaneModel {
 public:
  PlaneModel(const Planes& p, int32_t* values)
      : p_(p), values_(values), magnitudes_(size_t(p.count * p.height * p.width)), plane_size_(p.height * p.width) {}

  // (prediction, table row of the symbol's scale choice and quarter)
  std::pair<Prediction, int32_t> context(int64_t g) const {
    const int64_t plane = g / plane_size_, r = g - plane * plane_size_;
    const int64_t y = r / p_.width, x = r - y * p_.width;
    const Prediction pred = predict(values_ + plane * plane_size_, p_.weights + plane * kNeighbours, p_.width, y, x);
    const int32_t* m = magnitudes_.data() + plane * plane_size_;
    const int32_t bin = context_bin(m, plane % p_.channels != 0 ? m - plane_size_ : nullptr, p_.width, y, x, p_.bins);
    return {pred, p_.scales[plane * p_.bins + bin] * p_.centres + pred.quarter};
  }

  // Fixes symbol g from its prediction and coded error; false when the value leaves the symbol range.
  bool record(int64_t g, const Prediction& pred, int64_t error) {
    const int64_t value = pred.floor + error, half = int64_t(1) << (p_.bits - 1);
    if (value < -half || value >= half) return false;
    values_[g] = int32_t(value);
    magnitudes_[size_t(g)] = magnitude(error, pred.quarter);
    return true;
  }

 private:
  const Planes& p_;
  int32_t* values_;  // centred
  std::vector<int32_t> magnitudes_;
  int64_t plane_size_;
};

// The rANS chunk decoder's view of the model: a row before each symbol, the symbol after.
class DecodingModel {
 public:
  DecodingModel(const Planes& p, int32_t* values) : model_(p, values) {}

  void set_base(int64_t base) { base_ = base; }

  int32_t row(int64_t i) {
    const auto [prediction, row] = model_.context(base_ + i);
    prediction_ = prediction;
    return row;
  }

  void put(int64_t i, int32_t error) {
    if (!model_.record(base_ + i, prediction_, error)) {
      throw BitstreamError("corrupt predictive stream: a decoded latent lies outside its symbol range");
    }
  }

 private:
  PlaneModel model_;
  int64_t base_ = 0;
  Prediction prediction_{0, 0};
};

void check_planes(const Planes& p) {
  if (p.count < 0 || p.height < 1 || p.width < 1 || p.channels < 1 || p.bits < 1 || p.bits > 15 || p.bins < 1 ||
      p.centres < 1) {
    throw std::invalid_argument("predictive planes: bad shape, channels, bits, bins or centres");
  }
}

}  // namespace

void least_squares_cpu(const int32_t* symbols, const Planes& p, double* gram, double* rhs, int threads) {
  check_planes(p);
  const int64_t plane_size = p.height * p.width, half = int64_t(1) << (p.bits - 1);
  parallel_for_with_scratch(p.count, threads, [&] { return std::vector<int64_t>(plane_size); },
                            [&](std::vector<int64_t>& v, int64_t plane) {
    const int32_t* s = symbols + plane * plane_size;
    for (int64_t i = 0; i < plane_size; ++i) v[size_t(i)] = int64_t(s[i]) - half;
    int64_t a[kNeighbours * kNeighbours] = {}, b[kNeighbours] = {};  // integer sums: exact in any order
    for (int64_t y = 0; y < p.height; ++y) {
      for (int64_t x = 0; x < p.width; ++x) {
        int64_t n[kNeighbours];
        neighbours(v.data(), p.width, y, x, n);
        const int64_t target = v[size_t(y * p.width + x)];
        for (int j = 0; j < kNeighbours; ++j) {
          b[j] += n[j] * target;
          for (int k = 0; k < kNeighbours; ++k) a[j * kNeighbours + k] += n[j] * n[k];
        }
      }
    }
    for (int j = 0; j < kNeighbours * kNeighbours; ++j) gram[plane * kNeighbours * kNeighbours + j] = double(a[j]);
    for (int j = 0; j < kNeighbours; ++j) rhs[plane * kNeighbours + j] = double(b[j]);
  });
}

void analyse_cpu(const int32_t* symbols, const Planes& p, int32_t* errors, int32_t* contexts, int threads) {
  check_planes(p);
  const int64_t plane_size = p.height * p.width, half = int64_t(1) << (p.bits - 1);
  // The symbols are known, so predictions and magnitudes need no order: planes in parallel, then contexts.
  // contexts holds each prediction's quarter until the second pass adds the activity bin
  std::vector<int32_t> magnitudes(size_t(p.count * plane_size));
  std::atomic<bool> out_of_range{false};
  parallel_for_with_scratch(p.count, threads, [&] { return std::vector<int32_t>(plane_size); },
                            [&](std::vector<int32_t>& v, int64_t plane) {
    const int64_t base = plane * plane_size;
    for (int64_t i = 0; i < plane_size; ++i) v[size_t(i)] = int32_t(int64_t(symbols[base + i]) - half);
    for (int64_t y = 0, i = 0; y < p.height; ++y) {
      for (int64_t x = 0; x < p.width; ++x, ++i) {
        const Prediction pred = predict(v.data(), p.weights + plane * kNeighbours, p.width, y, x);
        const int64_t error = int64_t(v[size_t(i)]) - pred.floor;
        if (v[size_t(i)] < -half || v[size_t(i)] >= half) out_of_range = true;
        errors[base + i] = int32_t(error);
        contexts[base + i] = pred.quarter;
        magnitudes[size_t(base + i)] = magnitude(error, pred.quarter);
      }
    }
  });
  if (out_of_range) throw std::invalid_argument("predictive analysis: a symbol lies outside [0, 2**bits)");
  parallel_for_with_scratch(p.count, threads, [] { return 0; }, [&](int&, int64_t plane) {
    const int64_t base = plane * plane_size;
    const int32_t* m = magnitudes.data() + base;
    const int32_t* previous = plane % p.channels != 0 ? m - plane_size : nullptr;
    for (int64_t y = 0, i = 0; y < p.height; ++y) {
      for (int64_t x = 0; x < p.width; ++x, ++i) {
        contexts[base + i] += context_bin(m, previous, p.width, y, x, p.bins) * p.centres;
      }
    }
  });
}

void choose_scales_cpu(const int32_t* errors, const int32_t* contexts, const Planes& p, const int64_t* cost,
                       int reach, int scales, int32_t* chosen, int threads) {
  check_planes(p);
  if (reach < 0 || scales < 1) throw std::invalid_argument("predictive scale choice: bad cost reach or scale count");
  const int64_t plane_size = p.height * p.width, slots = 2 * int64_t(reach) + 3, cells = p.centres * slots;
  parallel_for_with_scratch(p.count, threads, [&] { return std::vector<int64_t>(size_t(p.bins * cells)); },
                            [&](std::vector<int64_t>& hist, int64_t plane) {
    std::fill(hist.begin(), hist.end(), 0);
    for (int64_t i = plane * plane_size; i < (plane + 1) * plane_size; ++i) {
      const int64_t slot = std::clamp<int64_t>(errors[i], -reach - 1, reach + 1) + reach + 1;
      hist[size_t(contexts[i] * slots + slot)] += 1;  // context = bin * centres + quarter
    }
    std::vector<int64_t> total(static_cast<size_t>(scales));
    for (int bin = 0; bin < p.bins; ++bin) {
      std::fill(total.begin(), total.end(), 0);
      const int64_t* h = hist.data() + bin * cells;
      for (int64_t cell = 0; cell < cells; ++cell) {
        if (h[cell] == 0) continue;  // sparse: most errors are small
        for (int k = 0; k < scales; ++k) total[size_t(k)] += h[cell] * cost[cell * scales + k];
      }
      chosen[plane * p.bins + bin] = int32_t(std::min_element(total.begin(), total.end()) - total.begin());
    }
  });
}

void decode_cpu(const uint8_t* data, size_t size, const Planes& p, const rans::Tables& t, int32_t* out) {
  check_planes(p);
  rans::validate(t, nullptr, 0);
  for (int64_t j = 0; j < p.count * p.bins; ++j) {
    if (p.scales[j] < 0 || (int64_t(p.scales[j]) + 1) * p.centres > t.count) {
      throw BitstreamError("corrupt predictive stream: a table scale is outside the family");
    }
  }
  const int64_t n = p.count * p.height * p.width;
  const rans::StreamLayout layout = rans::parse_layout(data, size);
  if (layout.symbols != uint64_t(n)) {
    throw BitstreamError("corrupt predictive stream: it holds " + std::to_string(layout.symbols) +
                         " symbols, the planes " + std::to_string(n));
  }
  if (n == 0) return;
  const rans::SymbolLookup lookup(t);
  DecodingModel model(p, out);
  for (size_t c = 0; c + 1 < layout.offsets.size(); ++c) {
    const int64_t begin = int64_t(c) * rans::kChunkSymbols;
    const int64_t count = std::min<int64_t>(rans::kChunkSymbols, n - begin);
    model.set_base(begin);
    rans::decode_chunk(layout.body + layout.offsets[c], layout.offsets[c + 1] - layout.offsets[c], count, t, lookup,
                       model);
  }
  const int32_t half = int32_t(1) << (p.bits - 1);
  for (int64_t i = 0; i < n; ++i) out[i] += half;
}

}  // namespace predictive
}  // namespace walloc
