// A pointwise linear map (a 1x1 convolution): y[n, o, s] = bias[o] + sum_c weight[o, c] x[n, c, s], the sum
// taken in channel order from the bias, each product and each addition rounded on its own (no fused
// multiply-add). Every output element is that one fixed sequence of operations whatever the vector width, the
// thread count, the batch or the device, so the encoders' latents are the same bits on every CPU and GPU.
#pragma once

#include <cstdint>

namespace walloc {
namespace linear {

// Sizes of x (batch, in_channels, size), weight (out_channels, in_channels), y (batch, out_channels, size); all
// contiguous.
struct PointwiseShape {
  int64_t batch = 0, in_channels = 0, out_channels = 0, size = 0;
};

template <typename T>
void pointwise_cpu(const T* x, const T* weight, const T* bias, T* y, const PointwiseShape& shape, int threads);

#ifdef WALLOC_WITH_CUDA
template <typename T>
void pointwise_cuda(const T* x, const T* weight, const T* bias, T* y, const PointwiseShape& shape, void* stream);
#endif

}  // namespace linear
}  // namespace walloc
