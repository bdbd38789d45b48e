// Runtime choice among the per-instruction-set copies of the CPU pixel pass.
#include "../common/cpu_isa.h"
#include "../common/memory.h"
#include "pixels_isa.h"

namespace walloc {
namespace media {

void planes_from_pixels_cpu(PixelType type, const void* pixels, const PixelLayout& layout, float divisor,
                            float shift, float* planes, int threads) {
  advise_huge_pages(planes, sizeof(float) * layout.batch * layout.channels * layout.height * layout.width);
#if defined(WALLOC_X86_ISAS)
  if (cpu_isa() != Isa::Baseline) return avx2::planes_from_pixels_cpu(type, pixels, layout, divisor, shift, planes,
                                                                      threads);
#endif
  baseline::planes_from_pixels_cpu(type, pixels, layout, divisor, shift, planes, threads);
}

}  // namespace media
}  // namespace walloc
