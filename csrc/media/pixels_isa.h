// The CPU pixel pass exists in one copy per instruction set, each in its own namespace (pixels_cpu.cpp compiled
// with different flags): the baseline and AVX2, which AVX-512 CPUs run too (its reciprocal division is 128 bits
// wide, as are the shuffles that deal interleaved pixels out to the planes). pixels_cpu_dispatch.cpp picks one.
#pragma once

#include "pixels.h"

namespace walloc {
namespace media {

#define WALLOC_DECLARE_PIXELS_CPU(isa)                                                                        \
  namespace isa {                                                                                             \
  void planes_from_pixels_cpu(PixelType type, const void* pixels, const PixelLayout& layout, float divisor,   \
                              float shift, float* planes, int threads);                                       \
  }

WALLOC_DECLARE_PIXELS_CPU(baseline)
#if defined(WALLOC_X86_ISAS)
WALLOC_DECLARE_PIXELS_CPU(avx2)
#endif

#undef WALLOC_DECLARE_PIXELS_CPU

}  // namespace media
}  // namespace walloc
