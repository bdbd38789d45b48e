// CUDA pointwise map (see pointwise.h): one thread per sample of an item, kRows outputs at a time, each the same
// sequence of separately rounded products and additions as on the CPU (__fmul_rn / __fadd_rn are never
// contracted into fused multiply-adds), so CPU and GPU outputs agree bit for bit.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "pointwise.h"

namespace walloc {
namespace linear {
namespace {

constexpr int kRows = 4;

__device__ inline float multiply(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double multiply(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add(double a, double b) { return __dadd_rn(a, b); }

template <typename T>
__global__ void pointwise_kernel(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                                 T* __restrict__ y, PointwiseShape shape) {
  const int64_t total = shape.batch * shape.size, in_channels = shape.in_channels;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / shape.size, s = i % shape.size;
    const T* in = x + n * in_channels * shape.size + s;
    T* out = y + n * shape.out_channels * shape.size + s;
    for (int64_t o = 0; o < shape.out_channels; o += kRows) {
      const int rows = int(min(int64_t(kRows), shape.out_channels - o));
      T acc[kRows];
      for (int g = 0; g < kRows; ++g) acc[g] = g < rows ? bias[o + g] : T(0);
      for (int64_t c = 0; c < in_channels; ++c) {
        const T value = in[c * shape.size];
        for (int g = 0; g < kRows; ++g) {
          if (g < rows) acc[g] = add(acc[g], multiply(weight[(o + g) * in_channels + c], value));
        }
      }
      for (int g = 0; g < rows; ++g) out[(o + g) * shape.size] = acc[g];
    }
  }
}

}  // namespace

template <typename T>
void pointwise_cuda(const T* x, const T* weight, const T* bias, T* y, const PointwiseShape& shape, void* stream) {
  const int64_t total = shape.batch * shape.size;
  if (total == 0 || shape.out_channels == 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, 65535 * 16);
  pointwise_kernel<T><<<unsigned(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, weight, bias, y,
                                                                                             shape);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("walloc pointwise kernel: ") + cudaGetErrorString(err));
}

template void pointwise_cuda<float>(const float*, const float*, const float*, float*, const PointwiseShape&, void*);
template void pointwise_cuda<double>(const double*, const double*, const double*, double*, const PointwiseShape&,
                                     void*);

}  // namespace linear
}  // namespace walloc
