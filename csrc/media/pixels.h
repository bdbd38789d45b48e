// Images as a codec's transform takes them: pixels of uint8 (0..255) or float32 in any layout (a decoded file's
// interleaved HWC array seen as (N, C, H, W), a planar batch, a grey plane broadcast to three channels) to
// contiguous float32 planes (N, C, H, W) of pixel / divisor - shift, in one pass. The two operations are
// rounded as torch rounds (x.float() / divisor) - shift, so the planes equal that expression bit for bit.
#pragma once

#include <cstdint>

namespace walloc {
namespace media {

enum class PixelType : int { UInt8 = 0, Float32 = 1 };

// Sizes and strides (in elements) of the (N, C, H, W) pixels.
struct PixelLayout {
  int64_t batch = 0, channels = 0, height = 0, width = 0;
  int64_t stride_batch = 0, stride_channel = 0, stride_row = 0, stride_column = 0;
};

void planes_from_pixels_cpu(PixelType type, const void* pixels, const PixelLayout& layout, float divisor,
                            float shift, float* planes, int threads);

#ifdef WALLOC_WITH_CUDA
void planes_from_pixels_cuda(PixelType type, const void* pixels, const PixelLayout& layout, float divisor,
                             float shift, float* planes, void* stream);
#endif

}  // namespace media
}  // namespace walloc
