// CUDA: one thread per output plane element (grid-stride loop), reading the pixel through the layout's strides.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "pixels.h"

namespace walloc {
namespace media {
namespace {

template <typename In>
__global__ void planes_kernel(const In* __restrict__ pixels, PixelLayout l, float divisor, float shift,
                              float* __restrict__ planes) {
  const int64_t n = l.batch * l.channels * l.height * l.width;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = i % l.width, h = (i / l.width) % l.height, c = (i / (l.width * l.height)) % l.channels;
    const int64_t b = i / (l.width * l.height * l.channels);
    const In x = pixels[b * l.stride_batch + c * l.stride_channel + h * l.stride_row + w * l.stride_column];
    planes[i] = __fsub_rn(__fdiv_rn(float(x), divisor), shift);  // rounded as on the CPU
  }
}

}  // namespace

void planes_from_pixels_cuda(PixelType type, const void* pixels, const PixelLayout& layout, float divisor,
                             float shift, float* planes, void* stream) {
  const int64_t n = layout.batch * layout.channels * layout.height * layout.width;
  if (n == 0) return;
  constexpr int kThreads = 256;
  const unsigned blocks = unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 16));
  const auto s = static_cast<cudaStream_t>(stream);
  if (type == PixelType::UInt8) {
    planes_kernel<<<blocks, kThreads, 0, s>>>(static_cast<const uint8_t*>(pixels), layout, divisor, shift, planes);
  } else {
    planes_kernel<<<blocks, kThreads, 0, s>>>(static_cast<const float*>(pixels), layout, divisor, shift, planes);
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("walloc pixels kernel: ") + cudaGetErrorString(err));
}

}  // namespace media
}  // namespace walloc
