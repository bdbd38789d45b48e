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
#include <utility>
#include <vector>

namespace walloc {

struct LiftingScheme {
  static constexpr int kMaxPairs = 2;  // the kernels are instantiated for 1 and 2 pairs
  std::vector<double> predict, update;
  double scale[2] = {1.0, 1.0};

  bool empty() const { return predict.empty(); }
  int pairs() const { return static_cast<int>(predict.size()); }

  // A scheme of 1 or 2 (predict, update) pairs and non-zero band scales, validated; a default-constructed
  // scheme is none at all.
  static LiftingScheme from_steps(double scale0, double scale1, std::vector<double> predict,
                                  std::vector<double> update) {
    LiftingScheme scheme;
    if (predict.empty() || predict.size() != update.size() || predict.size() > size_t(kMaxPairs)) {
      throw std::invalid_argument("lifting scheme: expected 1 or 2 (predict, update) pairs");
    }
    if (scale0 == 0.0 || scale1 == 0.0) throw std::invalid_argument("lifting scheme: band scales must be non-zero");
    scheme.predict = std::move(predict);
    scheme.update = std::move(update);
    scheme.scale[0] = scale0;
    scheme.scale[1] = scale1;
    return scheme;
  }
};

}  // namespace walloc
