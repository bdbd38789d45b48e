// Sequential predictive decoder over the chunked rANS format (see predictive.h).
#include "predictive.h"

#include <algorithm>
#include <string>
#include <vector>

#include "rans_decode_chunk.h"

namespace walloc {
namespace predictive {
namespace {

// floor(a / 2**kWeightShift), as the encoder's torch floor division.
inline int64_t floor_shift(int64_t a) {
  const int64_t d = int64_t(1) << kWeightShift;
  return a >= 0 ? a / d : -((-a + d - 1) / d);
}

// Gives each symbol's table row from the symbols decoded before it, then turns the decoded prediction error
// into the centred latent value.
class PlaneModel {
 public:
  PlaneModel(const Planes& p, int32_t* values) : p_(p), values_(values),
      errors_(size_t(p.count * p.height * p.width)), plane_size_(p.height * p.width) {}

  void set_base(int64_t base) { base_ = base; }

  int32_t row(int64_t i) {
    const int64_t g = base_ + i, plane = g / plane_size_, r = g - plane * plane_size_;
    const int64_t y = r / p_.width, x = r - y * p_.width;
    const int32_t* v = values_ + plane * plane_size_;
    const int64_t* e = errors_.data() + plane * plane_size_;
    const int64_t w = p_.width;
    auto at = [&](const auto* a, int64_t dy, int64_t dx) -> int64_t {
      const int64_t yy = y + dy, xx = x + dx;
      return yy >= 0 && xx >= 0 && xx < w ? int64_t(a[yy * w + xx]) : 0;
    };
    const int8_t* k = p_.weights + plane * kNeighbours;
    const int64_t total = k[0] * at(v, 0, -1) + k[1] * at(v, -1, 0) + k[2] * at(v, -1, -1) + k[3] * at(v, -1, 1) +
                          k[4] * at(v, 0, -2) + k[5] * at(v, -2, 0);
    prediction_ = floor_shift(total);
    quarter_ = (total - prediction_ * (int64_t(1) << kWeightShift)) >> (kWeightShift - 2);
    int64_t activity = 2 * at(e, 0, -1) + 2 * at(e, -1, 0) + at(e, -1, -1) + at(e, -1, 1) + at(e, 0, -2) +
                       at(e, -2, 0);
    if (plane % p_.channels != 0) activity += e[r - plane_size_];  // the previous channel, same place
    return p_.scales[plane * p_.bins + activity_bin(activity, p_.bins)] * p_.centres + int32_t(quarter_);
  }

  void put(int64_t i, int32_t error) {
    const int64_t g = base_ + i, value = prediction_ + error, half = int64_t(1) << (p_.bits - 1);
    if (value < -half || value >= half) {
      throw BitstreamError("corrupt predictive stream: a decoded latent lies outside its symbol range");
    }
    values_[g] = int32_t(value);
    // The activity counts errors against the nearest integer prediction (floor + 1 in the upper half).
    const int64_t nearest = int64_t(error) - (quarter_ >> 1);
    errors_[size_t(g)] = nearest < 0 ? -nearest : nearest;
  }

 private:
  const Planes& p_;
  int32_t* values_;
  std::vector<int64_t> errors_;
  int64_t plane_size_;
  int64_t base_ = 0;
  int64_t prediction_ = 0;
  int64_t quarter_ = 0;
};

}  // namespace

void decode_cpu(const uint8_t* data, size_t size, const Planes& p, const rans::Tables& t, int32_t* out) {
  if (p.count < 0 || p.height < 1 || p.width < 1 || p.channels < 1 || p.bits < 1 || p.bits > 15 || p.bins < 1 ||
      p.centres < 1) {
    throw std::invalid_argument("predictive planes: bad shape, channels, bits, bins or centres");
  }
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
  PlaneModel model(p, out);
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
