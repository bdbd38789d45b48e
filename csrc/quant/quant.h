// Elementwise quantization kernels: rounding around per-channel offsets, counter-based uniform noise, and the
// WaLLoC Gaussian-CDF compander (ToUniform / ToNormal) with its derivatives. CPU and CUDA run the same
// formulas in double precision internally; noise depends only on (seed, element index), so CPU and CUDA
// draw identical noise for the same seed.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define WALLOC_HD __host__ __device__ __forceinline__
#else
#define WALLOC_HD inline
#endif

namespace walloc {
namespace quant {

enum class Op : int {
  RoundOffset = 0,     // y = round_half_even(x - offset[c]) + offset[c]
  UniformNoise = 1,    // y = x + u, u in [-1/2, 1/2) from (seed, index)
  ToUniform = 2,       // y = 2 m (Phi(x / s) - 1/2) = m erf(x / (s sqrt 2))
  ToUniformGrad = 3,   // y = g * 2 m phi(x / s) / s            (x, g)
  ToNormal = 4,        // y = s Phi^-1(clamp(x / (2 m) + 1/2, lo, hi))
  ToNormalGrad = 5,    // y = g * s / (2 m phi(y)) inside the clamp, 0 outside   (x, g)
};

struct Params {
  double scale = 1;         // s
  double latent_max = 1;    // m
  double clip_low = 1e-4;   // ToNormal clamp
  double clip_high = 0.9999;
  uint64_t seed = 0;
  const double* offsets = nullptr;  // per channel, RoundOffset (nullptr: 0), on the kernel's device
  int64_t channels = 1;             // offset index = (i / inner) % channels
  int64_t inner = 1;
};

// A splitmix64 hash of (seed, index) to 53 random bits: reproducible, order-free, the same on CPU and GPU.
WALLOC_HD double uniform_at(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return double(z >> 11) * (1.0 / 9007199254740992.0);
}

template <typename T>
void elementwise_cpu(Op op, const T* x, const T* g, T* y, int64_t n, const Params& p, int threads);

#ifdef WALLOC_WITH_CUDA
template <typename T>
void elementwise_cuda(Op op, const T* x, const T* g, T* y, int64_t n, const Params& p, void* stream);
#endif

}  // namespace quant
}  // namespace walloc
