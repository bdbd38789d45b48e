// The predictive latent decoder (see predictive.h), in symbol order, and the entry points of the encoder's
// analysis (predictive_encode_cpu.cpp, a baseline and an AVX2 copy). Both build each symbol's context from the
// model of predictive_model.h, so they cannot disagree. Planes are zero-padded, so no neighbour needs a bounds
// check.
#include "predictive.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "../common/cpu_isa.h"
#include "predictive_encode_isa.h"
#include "predictive_model.h"
#include "rans_decode_chunk.h"

namespace walloc {
namespace predictive {
namespace {

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

}  // namespace

// The encoder's analysis: the AVX2 copy where the CPU runs it (common/cpu_isa.h), else the baseline one.
void fit_weights_cpu(const int32_t* symbols, const Planes& p, int8_t* weights, int threads) {
#if defined(WALLOC_X86_ISAS)
  if (cpu_isa() != Isa::Baseline) return avx2::fit_weights_cpu(symbols, p, weights, threads);
#endif
  baseline::fit_weights_cpu(symbols, p, weights, threads);
}

void analyse_cpu(const int32_t* symbols, const Planes& p, int32_t* errors, int32_t* contexts, int threads) {
#if defined(WALLOC_X86_ISAS)
  if (cpu_isa() != Isa::Baseline) return avx2::analyse_cpu(symbols, p, errors, contexts, threads);
#endif
  baseline::analyse_cpu(symbols, p, errors, contexts, threads);
}

void choose_scales_cpu(const int32_t* errors, const int32_t* contexts, const Planes& p, const int32_t* cost,
                       int reach, int scales, int32_t* chosen, int32_t* rows, int threads) {
#if defined(WALLOC_X86_ISAS)
  if (cpu_isa() != Isa::Baseline) {
    return avx2::choose_scales_cpu(errors, contexts, p, cost, reach, scales, chosen, rows, threads);
  }
#endif
  baseline::choose_scales_cpu(errors, contexts, p, cost, reach, scales, chosen, rows, threads);
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
