// Lifting schemes (Daubechies & Sweldens): a two-channel filter bank factored into steps that each add a
// multiple of the neighbouring samples of the other band, the same transform in far less arithmetic.
//
// Here a scheme is P pairs of a predict and an update step on the even (e) and odd (o) samples of a signal,
// indices periodic, then a scale per band. A split (analysis) runs, for j = 1..P:
//     o[n] += predict_j * (e[n] + e[n + 1]);   e[n] += update_j * (o[n - 1] + o[n]);
// then lo = scale0 * e, hi = scale1 * o. A merge (synthesis) undoes it in reverse. CDF 9/7 (PyWavelets'
// bior4.4) is 2 pairs: 4 steps and 2 scales per pair of samples where its polyphase taps take 16 products.
#pragma once

#include <stdexcept>
#include <vector>

namespace walloc {

struct LiftingScheme {
  static constexpr int kMaxPairs = 2;  // the kernels are instantiated for 1 and 2 pairs
  std::vector<double> predict, update;
  double scale[2] = {1.0, 1.0};

  bool empty() const { return predict.empty(); }
  int pairs() const { return static_cast<int>(predict.size()); }

  // From the flat list the Python layer passes: [scale0, scale1, predict_1, update_1, ...]; empty: no scheme.
  static LiftingScheme from_list(const std::vector<double>& flat) {
    LiftingScheme scheme;
    if (flat.empty()) return scheme;
    if (flat.size() < 4 || flat.size() % 2 != 0 || flat.size() > 2 + 2 * size_t(kMaxPairs)) {
      throw std::invalid_argument("lifting scheme: expected [scale0, scale1] then 1 or 2 (predict, update) pairs");
    }
    if (flat[0] == 0.0 || flat[1] == 0.0) throw std::invalid_argument("lifting scheme: band scales must be non-zero");
    scheme.scale[0] = flat[0];
    scheme.scale[1] = flat[1];
    for (size_t i = 2; i < flat.size(); i += 2) {
      scheme.predict.push_back(flat[i]);
      scheme.update.push_back(flat[i + 1]);
    }
    return scheme;
  }
};

}  // namespace walloc
