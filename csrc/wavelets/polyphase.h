// Two-channel periodic polyphase filter banks: the one primitive behind every wavelet packet transform here.
//
// A bank is a list of taps. Each tap adds coef * s_src[(o + shift) mod M] to y_out[o], where s_0, s_1 are the
// two input channels and y_0, y_1 the two output channels, all of length M.
//  - A *split* reads s_0, s_1 as the even and odd samples of one signal of length 2M and writes two bands
//    (analysis, and the adjoint of synthesis).
//  - A *merge* reads two bands and writes y_0, y_1 as the even and odd samples of one signal of length 2M
//    (synthesis, and the adjoint of analysis).
// The Python layer turns PyWavelets filters into taps, so the kernels never need to know which wavelet, which
// direction of the transform, or whether they run a forward pass or a gradient.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "lifting.h"

namespace walloc {

struct PolyphaseTap {
  int out;
  int src;
  int shift;
  double coef;
};

enum class BankKind { Split = 0, Merge = 1 };

// Taps of one bank, validated and grouped by output channel.
struct PolyphaseBank {
  std::vector<int> src[2];
  std::vector<int> shift[2];
  std::vector<double> coef[2];
  int min_shift = 0;
  int max_shift = 0;

  static PolyphaseBank from_taps(const std::vector<PolyphaseTap>& taps) {
    PolyphaseBank bank;
    bool first = true;
    for (const auto& t : taps) {
      if ((t.out != 0 && t.out != 1) || (t.src != 0 && t.src != 1)) {
        throw std::invalid_argument("polyphase tap channels must be 0 or 1");
      }
      bank.src[t.out].push_back(t.src);
      bank.shift[t.out].push_back(t.shift);
      bank.coef[t.out].push_back(t.coef);
      bank.min_shift = first ? t.shift : std::min(bank.min_shift, t.shift);
      bank.max_shift = first ? t.shift : std::max(bank.max_shift, t.shift);
      first = false;
    }
    return bank;
  }
};

inline int64_t positive_mod(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

// Full packet tree over `levels` levels for each of `planes` contiguous signals.
// 1-D split: x is (planes, length), y is (planes, 2**levels, length / 2**levels); merge is the reverse.
// 2-D split: x is (planes, height, width), y is (planes, 4**levels, height / 2**levels, width / 2**levels),
// children of a band in PyWavelets' natural order (a, h, v, d); merge is the reverse.
// A non-empty `lifting` (the same wavelet's lifting scheme) replaces the bank's taps in the CPU kernels.
// A 2-D split reads each input sample as x - shift (the same float subtraction, so the result is that of
// splitting x - shift): images in [0, 1] are centred as the transform reads them, without a pass of their own.
template <typename T>
void wpt1d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t length, const PolyphaseBank& bank,
               const LiftingScheme& lifting, int levels, int threads);

template <typename T>
void wpt2d_cpu(BankKind kind, const T* x, T* y, int64_t planes, int64_t height, int64_t width,
               const PolyphaseBank& bank, const LiftingScheme& lifting, int levels, int threads, T shift = T(0));

#ifdef WALLOC_WITH_CUDA
// CUDA twins of the above: same layouts and arithmetic. `workspace` holds 2 * planes * size elements of T
// (2-D) or planes * size elements (1-D); `stream` is a cudaStream_t.
template <typename T>
void wpt1d_cuda(BankKind kind, const T* x, T* y, T* workspace, int64_t planes, int64_t length,
                const PolyphaseBank& bank, int levels, void* stream);

template <typename T>
void wpt2d_cuda(BankKind kind, const T* x, T* y, T* workspace, int64_t planes, int64_t height, int64_t width,
                const PolyphaseBank& bank, int levels, void* stream);
#endif

}  // namespace walloc
