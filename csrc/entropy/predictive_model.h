// The predictive latent model's pieces that the encoder's analysis (predictive_encode_cpu.cpp, one copy per
// instruction set) and the sequential decoder (predictive_cpu.cpp) share, so the two cannot disagree. Internal
// to csrc/entropy; included before any target pragma, so its inline functions are baseline code wherever they
// are not inlined.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "predictive.h"

namespace walloc {
namespace predictive {

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
inline std::string range_message(const Planes& p) {
  return "symbols must lie in [0, " + std::to_string(1 << p.bits) + ")";
}

inline void check_planes(const Planes& p) {
  if (p.count < 0 || p.height < 1 || p.width < 1 || p.channels < 1 || p.bits < 1 || p.bits > 15 || p.bins < 1 ||
      p.bins > kMaxBins || p.centres < 1) {
    throw std::invalid_argument("predictive planes: bad shape, channels, bits, bins or centres");
  }
}

// Plane `plane` of symbols, centred, into padded plane 0 of v. False if a symbol lies outside [0, 2**bits)
// (what is stored for it is then meaningless).
inline bool load_centred(const int32_t* symbols, const Planes& p, int64_t plane, PaddedPlanes<int16_t>& v) {
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

}  // namespace predictive
}  // namespace walloc
