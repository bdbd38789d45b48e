// Predictive decoding of integer latent planes: the decoder half of walloc/entropy/predictive.py (which
// encodes, vectorised, and documents the model). Each plane is coded in raster order: a prediction in 1/64
// from six causal neighbours (W, N, NW, NE, WW, NN; zero outside the plane) with the plane's integer weights,
// the error against its floor coded with the table of the plane's scale for the activity bin of the
// neighbours' (and the previous channel's) errors, centred by the prediction's fractional quarter. A row
// depends on the symbols before it, so decoding is sequential (one plane after the other); there is no CUDA
// twin: codec streams are decoded on the CPU before the latents go to a device.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "rans.h"

namespace walloc {
namespace predictive {

constexpr int kNeighbours = 6;
constexpr int kMaxBins = 24;  // activity bins a plane may have: the last starts at activity 2**11
constexpr int kWeightShift = 6;

struct Planes {
  int64_t count;
  int64_t height;
  int64_t width;
  int64_t channels;        // consecutive planes of one item; the first has no previous channel
  int bits;                // symbols lie in [0, 2**bits)
  const int8_t* weights;   // (count, kNeighbours)
  const int32_t* scales;   // (count, bins): the table scale of each activity bin
  int bins;
  int centres;             // tables per scale: row = scale * centres + the prediction's fractional part
};

// The activity bin of 0 <= a < 2**24: 0 for 0, then two bins per octave (2 * bit_length - 1, plus 1 in the
// upper half of the octave), capped at bins - 1. Read from the bits of float(a), which is exact: its biased
// exponent is bit_length + 126 and its top mantissa bit the half of the octave; branch-free, so the encoder's
// row loops vectorise it.
inline int activity_bin(int32_t a, int bins) {
  const float f = static_cast<float>(a);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const int bin = static_cast<int>(bits >> 22) - 253;  // a = 0 (bits 0) gives a negative bin
  return std::min(std::max(bin, 0), bins - 1);
}

// Encoder, step 1: per plane, the int8 prediction weights in 1/64 (count, 6): ridge least squares of each centred
// symbol on its neighbours (normal equations summed exactly in integers, a ridge of 1e-3 per symbol on the
// diagonal), solved and rounded the same on every machine. Throws std::invalid_argument for symbols outside
// [0, 2**bits). The planes' weights and scales are unused.
void fit_weights_cpu(const int32_t* symbols, const Planes& planes, int8_t* weights, int threads);

// Encoder, step 2: with the weights chosen, every symbol's coded error and its context
// (activity bin * centres + quarter), by the decoder's own model. scales unused. Throws std::invalid_argument
// for symbols outside [0, 2**bits).
void analyse_cpu(const int32_t* symbols, const Planes& planes, int32_t* errors, int32_t* contexts, int threads);

// Encoder, step 3: per plane and activity bin, the table scale (of `scales` in the family) that codes the
// plane's errors in that bin in the fewest bits: cost (centres * (2 reach + 3), scales) holds the cost in
// integer units (0 to 2**31 - 1) of each error in [-reach, reach], and one slot for each side beyond, per table
// centre. Exact integer sums, ties to the lowest scale, so the choice never depends on the thread count. With
// rows given, also each symbol's table row (chosen scale * centres + quarter), the index its error is coded
// with. The planes' weights and scales are unused.
void choose_scales_cpu(const int32_t* errors, const int32_t* contexts, const Planes& planes, const int32_t* cost,
                       int reach, int scales, int32_t* chosen, int32_t* rows, int threads);

// Decodes count * height * width symbols into out (row-major planes). Throws BitstreamError for any stream
// that is not what the encoder produced for these planes and tables, std::invalid_argument for bad planes.
void decode_cpu(const uint8_t* data, size_t size, const Planes& planes, const rans::Tables& tables, int32_t* out);

}  // namespace predictive
}  // namespace walloc
