// Memory helpers shared by the CPU kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace walloc {

// Asks Linux to back the 2 MiB-aligned interior of a large, not yet touched output buffer with transparent
// huge pages. First touch of fresh pages (faulting and zeroing) otherwise costs as much as a wavelet level;
// with THP in "madvise" mode this halves it. A hint only: failure changes nothing.
inline void advise_huge_pages(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  if (bytes < 2 * kHuge) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

// A scratch block of n elements (contents undefined) from the calling thread's cache: kept between calls, so
// repeated kernels do not fault fresh pages in each time (on a 2-core machine that cost as much as the
// transform of an image), up to kKeepBytes a thread; a larger block is the caller's alone and freed with it, and
// asks for huge pages (a 24 MP photo's plane: 96 MB, 24,000 faults in 4 KB pages). One user per thread at a time
// and Tag: blocks of different tags are different caches, so one may be held while a kernel takes another.
template <typename T, typename Tag = void>
class ThreadScratch {
 public:
  static constexpr size_t kKeepBytes = size_t(64) << 20;

  explicit ThreadScratch(size_t n) {
    if (n == 0) return;
    if (n * sizeof(T) > kKeepBytes) {
      own_.reset(new T[n]);
      data_ = own_.get();
      advise_huge_pages(data_, n * sizeof(T));
      return;
    }
    Cache& cache = thread_cache();
    if (cache.size < n) {
      cache.block.reset(new T[n]);
      cache.size = n;
    }
    data_ = cache.block.get();
  }

  T* get() const { return data_; }

 private:
  struct Cache {
    std::unique_ptr<T[]> block;
    size_t size = 0;
  };
  static Cache& thread_cache() {
    thread_local Cache cache;
    return cache;
  }

  std::unique_ptr<T[]> own_;
  T* data_ = nullptr;
};

}  // namespace walloc
