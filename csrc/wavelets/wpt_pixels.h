// The packet transform of pixels as decoded files hold them (uint8 or float, any layout): the pixel pass into a
// reused scratch of planes, then the 2-D split. The same values as splitting planes_from_pixels' output, without a
// fresh full-size tensor a call: where the allocator returns such a block to the system after each call (glibc
// does once two of them are freed together), faulting its pages back in cost more than the transform.
#pragma once

#include <cstdint>

#include "../media/pixels.h"
#include "polyphase.h"

namespace walloc {

// y (N * C, 4**levels, H / 2**levels, W / 2**levels) = the split of pixels / divisor - shift.
void wpt2d_from_pixels_cpu(media::PixelType type, const void* pixels, const media::PixelLayout& layout,
                           float divisor, float shift, float* y, const PolyphaseBank& bank,
                           const LiftingScheme& lifting, int levels, int threads);

}  // namespace walloc
