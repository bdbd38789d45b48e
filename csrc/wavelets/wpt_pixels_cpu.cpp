#include "wpt_pixels.h"

#include "../common/memory.h"

namespace walloc {
namespace {
struct PixelPlanes;  // the scratch's tag: the transform takes float scratch of its own while these are held
}  // namespace

void wpt2d_from_pixels_cpu(media::PixelType type, const void* pixels, const media::PixelLayout& layout,
                           float divisor, float shift, float* y, const PolyphaseBank& bank,
                           const LiftingScheme& lifting, int levels, int threads) {
  const int64_t planes = layout.batch * layout.channels;
  const ThreadScratch<float, PixelPlanes> signal(size_t(planes * layout.height * layout.width));
  media::planes_from_pixels_cpu(type, pixels, layout, divisor, shift, signal.get(), threads);
  wpt2d_cpu<float>(BankKind::Split, signal.get(), y, planes, layout.height, layout.width, bank, lifting, levels,
                   threads);
}

}  // namespace walloc
