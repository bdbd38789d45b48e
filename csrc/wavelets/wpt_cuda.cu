// CUDA wavelet packet transforms: the same polyphase banks, layouts and per-output tap order as wpt_cpu.cpp,
// one thread per output coefficient, one launch per pass (columns, rows) per level.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "polyphase.h"

namespace walloc {
namespace {

constexpr int kMaxTaps = 120;  // coif17, PyWavelets' longest discrete filter, needs 102
constexpr int kThreads = 256;

// Taps passed by value as a kernel parameter: no constant-memory races between streams.
template <typename T>
struct DeviceBank {
  int count[2];
  int src[2][kMaxTaps];
  int shift[2][kMaxTaps];
  T coef[2][kMaxTaps];
};

template <typename T>
DeviceBank<T> to_device_bank(const PolyphaseBank& bank) {
  DeviceBank<T> d{};
  for (int k = 0; k < 2; ++k) {
    const size_t n = bank.src[k].size();
    if (n > static_cast<size_t>(kMaxTaps)) {
      throw std::invalid_argument("too many polyphase taps for the CUDA kernels: " + std::to_string(n));
    }
    d.count[k] = static_cast<int>(n);
    for (size_t t = 0; t < n; ++t) {
      d.src[k][t] = bank.src[k][t];
      d.shift[k][t] = bank.shift[k][t];
      d.coef[k][t] = static_cast<T>(bank.coef[k][t]);
    }
  }
  return d;
}

__device__ __forceinline__ int64_t wrap(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

// Accumulates taps in the order the CPU does: first tap initialises, the rest add in list order.
template <typename T, typename Load>
__device__ __forceinline__ T apply_taps(const DeviceBank<T>& bank, int out, Load load) {
  T acc = T(0);
  for (int t = 0; t < bank.count[out]; ++t) {
    const T v = bank.coef[out][t] * load(bank.src[out][t], bank.shift[out][t]);
    acc = t == 0 ? v : acc + v;
  }
  return acc;
}

// Where the bands of a row pass live. Rows come in groups of `rows_per_group` consecutive rows (one band);
// group g's two children start at (g / groups_per_block) * block_stride + (g % groups_per_block) * group_stride
// and lie child_stride apart. 1-D: every row is a group; 2-D: a group is the lo or hi half of a column pass.
struct RowLayout {
  int64_t rows_per_group;
  int64_t groups_per_block;
  int64_t block_stride;
  int64_t group_stride;
  int64_t child_stride;

  __device__ int64_t child_base(int64_t row, int64_t m) const {
    const int64_t g = row / rows_per_group, i = row % rows_per_group;
    return (g / groups_per_block) * block_stride + (g % groups_per_block) * group_stride + i * m;
  }
};

// Split along a contiguous axis: each row (rows, 2m) -> its two children of length m.
template <typename T>
__global__ void split_rows(const T* __restrict__ in, T* __restrict__ out, int64_t rows, int64_t m,
                           RowLayout layout, DeviceBank<T> bank) {
  const int64_t total = rows * 2 * m;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = idx % m;
    const int k = static_cast<int>((idx / m) % 2);
    const int64_t r = idx / (2 * m);
    const T* row = in + r * 2 * m;
    const T v = apply_taps(bank, k, [&](int src, int shift) { return row[2 * wrap(o + shift, m) + src]; });
    out[layout.child_base(r, m) + k * layout.child_stride + o] = v;
  }
}

// Merge along a contiguous axis: the inverse layout of split_rows.
template <typename T>
__global__ void merge_rows(const T* __restrict__ in, T* __restrict__ out, int64_t rows, int64_t m,
                           RowLayout layout, DeviceBank<T> bank) {
  const int64_t total = rows * 2 * m;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = idx % (2 * m);
    const int64_t r = idx / (2 * m);
    const int64_t o = n / 2;
    const int k = static_cast<int>(n % 2);
    const T* base = in + layout.child_base(r, m);
    out[idx] = apply_taps(bank, k, [&](int src, int shift) { return base[src * layout.child_stride + wrap(o + shift, m)]; });
  }
}

// Split along rows of (bands, 2m, width) -> (bands, 2, m, width).
template <typename T>
__global__ void split_columns(const T* __restrict__ in, T* __restrict__ out, int64_t bands, int64_t m,
                              int64_t width, DeviceBank<T> bank) {
  const int64_t total = bands * 2 * m * width;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t x = idx % width;
    const int64_t o = (idx / width) % m;
    const int k = static_cast<int>((idx / (width * m)) % 2);
    const int64_t b = idx / (2 * m * width);
    const T* band = in + b * 2 * m * width + x;
    out[idx] = apply_taps(bank, k, [&](int src, int shift) { return band[(2 * wrap(o + shift, m) + src) * width]; });
  }
}

// Column merge of 2-D children (bands, 4, m, width), child = kc + 2 * kr, into (bands, 2 [kr], 2m, width):
// each row band kr gets its two column bands kc merged along the height.
template <typename T>
__global__ void merge_columns(const T* __restrict__ in, T* __restrict__ out, int64_t bands, int64_t m,
                              int64_t width, DeviceBank<T> bank) {
  const int64_t total = bands * 4 * m * width;
  const int64_t child = m * width;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t x = idx % width;
    const int64_t row = (idx / width) % (2 * m);
    const int64_t kr = (idx / (2 * child)) % 2;
    const int64_t b = idx / (4 * child);
    const int64_t o = row / 2;
    const int k = static_cast<int>(row % 2);
    const T* kids = in + b * 4 * child + 2 * kr * child + x;
    out[idx] = apply_taps(bank, k, [&](int src, int shift) { return kids[src * child + wrap(o + shift, m) * width]; });
  }
}

unsigned grid_for(int64_t total) {
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535 * 32 ? (blocks > 0 ? blocks : 1) : 65535 * 32);
}

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

template <typename T>
T* level_target(int steps_left, T* output, T* scratch) {
  return steps_left % 2 == 0 ? output : scratch;
}

}  // namespace

template <typename T>
void wpt1d_cuda(BankKind kind, const T* x, T* y, T* workspace, int64_t planes, int64_t length,
                const PolyphaseBank& bank, int levels, void* stream) {
  if (planes == 0 || length == 0) return;
  const DeviceBank<T> dbank = to_device_bank<T>(bank);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t total = planes * length;
  const T* in = x;
  for (int step = 0; step < levels; ++step) {
    // Split: level step+1 runs on bands of length n; merge: level (levels - step) does.
    const int l = kind == BankKind::Split ? step + 1 : levels - step;
    const int64_t n = length >> (l - 1), m = n / 2, rows = total / n;
    T* dst = level_target(kind == BankKind::Split ? levels - l : l - 1, y, workspace);
    const RowLayout layout{1, 1, n, 0, m};  // row r's children sit at 2r and 2r + 1
    if (kind == BankKind::Split) {
      split_rows<T><<<grid_for(total), kThreads, 0, s>>>(in, dst, rows, m, layout, dbank);
    } else {
      merge_rows<T><<<grid_for(total), kThreads, 0, s>>>(in, dst, rows, m, layout, dbank);
    }
    check_launch("walloc wpt1d");
    in = dst;
  }
}

template <typename T>
void wpt2d_cuda(BankKind kind, const T* x, T* y, T* workspace, int64_t planes, int64_t height, int64_t width,
                const PolyphaseBank& bank, int levels, void* stream) {
  if (planes == 0 || height == 0 || width == 0) return;
  const DeviceBank<T> dbank = to_device_bank<T>(bank);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t total = planes * height * width;
  T* columns = workspace;
  T* scratch = workspace + total;
  const T* in = x;
  for (int step = 0; step < levels; ++step) {
    const int l = kind == BankKind::Split ? step + 1 : levels - step;
    const int64_t h = height >> (l - 1), w = width >> (l - 1), bands = total / (h * w);
    const int64_t child = (h / 2) * (w / 2);
    T* dst = level_target(kind == BankKind::Split ? levels - l : l - 1, y, scratch);
    if (kind == BankKind::Split) {
      // Column pass rows: band b, column band kc, row i; its children are kc + 2 * kr of band b.
      const RowLayout layout{h / 2, 2, 4 * child, child, 2 * child};
      // (bands, h, w) -> columns (bands, 2, h/2, w) -> children (bands, 4, h/2, w/2), child = kc + 2 * kr.
      split_columns<T><<<grid_for(total), kThreads, 0, s>>>(in, columns, bands, h / 2, w, dbank);
      check_launch("walloc wpt2d columns");
      split_rows<T><<<grid_for(total), kThreads, 0, s>>>(columns, dst, bands * h, w / 2, layout, dbank);
    } else {
      // children (bands, 4, h/2, w/2) -> columns (bands, 2, h, w/2) -> (bands, h, w), as the CPU merges.
      merge_columns<T><<<grid_for(total), kThreads, 0, s>>>(in, columns, bands, h / 2, w / 2, dbank);
      check_launch("walloc wpt2d columns");
      const RowLayout rows{h, 1, h * w, 0, h * (w / 2)};
      merge_rows<T><<<grid_for(total), kThreads, 0, s>>>(columns, dst, bands * h, w / 2, rows, dbank);
    }
    check_launch("walloc wpt2d");
    in = dst;
  }
}

template void wpt1d_cuda<float>(BankKind, const float*, float*, float*, int64_t, int64_t, const PolyphaseBank&, int, void*);
template void wpt1d_cuda<double>(BankKind, const double*, double*, double*, int64_t, int64_t, const PolyphaseBank&, int, void*);
template void wpt2d_cuda<float>(BankKind, const float*, float*, float*, int64_t, int64_t, int64_t, const PolyphaseBank&, int, void*);
template void wpt2d_cuda<double>(BankKind, const double*, double*, double*, int64_t, int64_t, int64_t, const PolyphaseBank&, int, void*);

}  // namespace walloc
