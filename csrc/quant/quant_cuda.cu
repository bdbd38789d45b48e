// CUDA quantization kernels: the formulas of quant_math.h, one thread per element (grid-stride loop).
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "quant_math.h"

namespace walloc {
namespace quant {
namespace {

template <typename T>
__global__ void elementwise_kernel(Op op, const T* __restrict__ x, const T* __restrict__ g, T* __restrict__ y,
                                   int64_t n, Params p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    y[i] = apply<T>(op, x[i], g ? g[i] : T(0), i, p);
  }
}

}  // namespace

template <typename T>
void elementwise_cuda(Op op, const T* x, const T* g, T* y, int64_t n, const Params& p, void* stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 16);
  elementwise_kernel<T><<<unsigned(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(op, x, g, y, n, p);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("walloc quant kernel: ") + cudaGetErrorString(err));
}

template void elementwise_cuda<float>(Op, const float*, const float*, float*, int64_t, const Params&, void*);
template void elementwise_cuda<double>(Op, const double*, const double*, double*, int64_t, const Params&, void*);

}  // namespace quant
}  // namespace walloc
