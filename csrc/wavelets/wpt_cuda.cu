// CUDA wavelet packet transforms: the same polyphase banks, layouts and per-output tap order as wpt_cpu.cpp.
//
// Fast path: a 2-D full packet tree is the tensor product of two 1-D full packet trees (the row and column
// filters of every level commute), so it runs as two kernels that each do *all* levels along one axis in
// shared memory: one block per row (the whole periodic row fits), then one block per strip of columns one
// 32-byte sector wide. Each kernel reads and writes the data once, so a forward or inverse moves it twice,
// instead of twice per level. The 2-D channel of row path p_w and column path p_h interleaves their bits
// (child = column band + 2 * row band at every level, PyWavelets' natural order). Rows or columns too long
// for shared memory take the general path: one thread per coefficient, one launch per pass per level.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
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
  int reach;  // the largest |shift|: indices o + shift of bands longer than this wrap by one add or subtract
  int count[2];
  int src[2][kMaxTaps];
  int shift[2][kMaxTaps];
  T coef[2][kMaxTaps];
};

template <typename T>
DeviceBank<T> to_device_bank(const PolyphaseBank& bank) {
  DeviceBank<T> d{};
  d.reach = std::max(std::abs(bank.min_shift), std::abs(bank.max_shift));
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

// ---- Fused packet trees along one axis, in shared memory ----

constexpr int kTreeThreads = 256;
constexpr int kMaxTreeSharedBytes = 96 * 1024;  // opted in above the default 48 KB (sm_70 and later allow more)

// a mod m for a in [-m, 2m) (Near: bands at least as long as the bank's reach), any a otherwise. The integer
// remainder per tap, not memory, bounded these kernels before the Near form.
template <bool Near>
__device__ __forceinline__ int wrap32(int a, int m) {
  if (Near) return a < 0 ? a + m : (a >= m ? a - m : a);
  const int r = a % m;
  return r < 0 ? r + m : r;
}

// One level of splits along an axis of `n` samples held in `a` (sample j of lane l at j * 2**lane_bits + l,
// the lanes being independent signals side by side): packets of length 2m become child pairs of length m.
template <bool Near, typename T>
__device__ __forceinline__ void split_level(const T* a, T* b, int n, int m, int lane_bits, const DeviceBank<T>& bank) {
  const int lanes = 1 << lane_bits;
  for (int i = threadIdx.x; i < n << lane_bits; i += blockDim.x) {
    const int lane = i & (lanes - 1), j = i >> lane_bits;
    const int o = j % m, pk = j / m;
    const T* packet = a + (((pk >> 1) * 2 * m) << lane_bits) + lane;
    b[i] = apply_taps(bank, pk & 1,
                      [&](int src, int shift) { return packet[(2 * wrap32<Near>(o + shift, m) + src) << lane_bits]; });
  }
}

// The inverse: child pairs of length m become packets of length 2m.
template <bool Near, typename T>
__device__ __forceinline__ void merge_level(const T* a, T* b, int n, int m, int lane_bits, const DeviceBank<T>& bank) {
  const int lanes = 1 << lane_bits;
  for (int i = threadIdx.x; i < n << lane_bits; i += blockDim.x) {
    const int lane = i & (lanes - 1), j = i >> lane_bits;
    const int p = j / (2 * m), r = j - p * 2 * m;
    const int o = r >> 1, k = r & 1;
    const T* kids = a + ((p * 2 * m) << lane_bits) + lane;
    b[i] = apply_taps(bank, k,
                      [&](int src, int shift) { return kids[(src * m + wrap32<Near>(o + shift, m)) << lane_bits]; });
  }
}

// All `levels` levels on the block's signals in shared memory; returns the buffer holding the result.
template <typename T>
__device__ __forceinline__ T* run_tree(T* a, T* b, BankKind kind, int n, int levels, int lane_bits,
                                       const DeviceBank<T>& bank) {
  for (int step = 0; step < levels; ++step) {
    __syncthreads();
    const int m = kind == BankKind::Split ? n >> (step + 1) : n >> (levels - step);
    if (kind == BankKind::Split) {
      m >= bank.reach ? split_level<true>(a, b, n, m, lane_bits, bank) : split_level<false>(a, b, n, m, lane_bits, bank);
    } else {
      m >= bank.reach ? merge_level<true>(a, b, n, m, lane_bits, bank) : merge_level<false>(a, b, n, m, lane_bits, bank);
    }
    T* t = a;
    a = b;
    b = t;
  }
  __syncthreads();
  return a;
}

// Row trees. Signal side: rows of `n` contiguous samples, row r = plane * height + y. Packet side:
// (planes, 2**levels, height, n >> levels). Split reads the signal side and writes the packet side; merge the
// reverse. 1-D transforms are this with height 1.
template <typename T>
__global__ void row_trees(const T* __restrict__ in, T* __restrict__ out, BankKind kind, int n, int levels,
                          int height, DeviceBank<T> bank) {
  extern __shared__ unsigned char shared_raw[];
  T* a = reinterpret_cast<T*>(shared_raw);
  T* b = a + n;
  const int64_t row = blockIdx.x, plane = row / height, y = row % height;
  const int q = n >> levels, packets = 1 << levels;
  const int64_t packet_base = plane * packets * int64_t(height) * q + y * q;  // + p * height * q + x
  const int64_t packet_stride = int64_t(height) * q;
  const bool split = kind == BankKind::Split;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    a[i] = split ? in[row * n + i] : in[packet_base + (i / q) * packet_stride + i % q];
  }
  const T* result = run_tree(a, b, kind, n, levels, 0, bank);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    if (split) {
      out[packet_base + (i / q) * packet_stride + i % q] = result[i];
    } else {
      out[row * n + i] = result[i];
    }
  }
}

// Column trees over the row trees' packet side (planes * 2**levels sheets of height x q). Each block takes
// `lanes` adjacent columns of one sheet. Split writes the 2-D packets (planes, 4**levels, height >> levels, q)
// with channel = the interleaved bits of the column path p_h and the sheet's row path p_w; merge the reverse.
template <typename T>
__global__ void column_trees(const T* __restrict__ in, T* __restrict__ out, BankKind kind, int height, int q,
                             int levels, int lane_bits, DeviceBank<T> bank) {
  const int lanes = 1 << lane_bits;
  extern __shared__ unsigned char shared_raw[];
  T* a = reinterpret_cast<T*>(shared_raw);
  T* b = a + int64_t(height) * lanes;
  const int strips = (q + lanes - 1) / lanes;
  const int64_t sheet = blockIdx.x / strips;
  const int x0 = (blockIdx.x % strips) * lanes;
  const int packets = 1 << levels, qh = height >> levels;
  const int64_t plane = sheet / packets;
  const int pw = static_cast<int>(sheet % packets);
  const bool split = kind == BankKind::Split;
  // Element (j, lane) of the column signal: j = p_h * qh + y' on the packet side.
  auto packet_index = [&](int j, int x) -> int64_t {
    const int ph = j / qh, yq = j % qh;
    int channel = 0;
    for (int l = levels - 1; l >= 0; --l) channel = channel * 4 + ((ph >> l) & 1) + 2 * ((pw >> l) & 1);
    return ((plane * packets * packets + channel) * qh + yq) * int64_t(q) + x;
  };
  const int64_t sheet_base = sheet * int64_t(height) * q;
  for (int i = threadIdx.x; i < height * lanes; i += blockDim.x) {
    const int lane = i & (lanes - 1), j = i >> lane_bits, x = x0 + lane;
    a[i] = x >= q ? T(0) : split ? in[sheet_base + int64_t(j) * q + x] : in[packet_index(j, x)];
  }
  const T* result = run_tree(a, b, kind, height, levels, lane_bits, bank);
  for (int i = threadIdx.x; i < height * lanes; i += blockDim.x) {
    const int lane = i & (lanes - 1), j = i >> lane_bits, x = x0 + lane;
    if (x >= q) continue;
    if (split) {
      out[packet_index(j, x)] = result[i];
    } else {
      out[sheet_base + int64_t(j) * q + x] = result[i];
    }
  }
}

// Shared bytes of each fused kernel; a kernel runs only where they fit (and its grid fits int32 blocks).
template <typename T>
size_t row_tree_bytes(int64_t n) { return 2 * n * sizeof(T); }
template <typename T>
int column_tree_lane_bits() { return sizeof(T) == 4 ? 3 : 2; }  // one 32-byte memory sector per row of a strip
template <typename T>
int column_tree_lanes() { return 1 << column_tree_lane_bits<T>(); }
template <typename T>
size_t column_tree_bytes(int64_t height) { return 2 * height * column_tree_lanes<T>() * sizeof(T); }
template <typename T>
int64_t column_tree_blocks(int64_t planes, int64_t q, int levels) {
  return planes * (int64_t(1) << levels) * ((q + column_tree_lanes<T>() - 1) / column_tree_lanes<T>());
}

template <typename Kernel>
void reserve_shared(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024) {
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
  }
}

template <typename T>
bool row_trees_fit(int64_t rows, int64_t n) {
  return rows <= INT32_MAX && n <= INT32_MAX && row_tree_bytes<T>(n) <= kMaxTreeSharedBytes;
}

template <typename T>
void launch_row_trees(const T* in, T* out, BankKind kind, int64_t rows, int64_t n, int levels, int64_t height,
                      const DeviceBank<T>& bank, cudaStream_t s) {
  const size_t bytes = row_tree_bytes<T>(n);
  reserve_shared(row_trees<T>, bytes);
  row_trees<T><<<static_cast<unsigned>(rows), kTreeThreads, bytes, s>>>(in, out, kind, static_cast<int>(n), levels,
                                                                        static_cast<int>(height), bank);
  check_launch("walloc wpt rows");
}

template <typename T>
void launch_column_trees(const T* in, T* out, BankKind kind, int64_t planes, int64_t height, int64_t q, int levels,
                         const DeviceBank<T>& bank, cudaStream_t s) {
  const size_t bytes = column_tree_bytes<T>(height);
  reserve_shared(column_trees<T>, bytes);
  column_trees<T><<<static_cast<unsigned>(column_tree_blocks<T>(planes, q, levels)), kTreeThreads, bytes, s>>>(
      in, out, kind, static_cast<int>(height), static_cast<int>(q), levels, column_tree_lane_bits<T>(), bank);
  check_launch("walloc wpt columns");
}

// The fused 2-D transform when both axes fit in shared memory; false (nothing launched) otherwise.
template <typename T>
bool fused_wpt2d(BankKind kind, const T* x, T* y, T* workspace, int64_t planes, int64_t height, int64_t width,
                 const DeviceBank<T>& bank, int levels, cudaStream_t s) {
  const int64_t q = width >> levels;
  if (!row_trees_fit<T>(planes * height, width) || column_tree_bytes<T>(height) > kMaxTreeSharedBytes ||
      column_tree_blocks<T>(planes, q, levels) > INT32_MAX) {
    return false;
  }
  if (kind == BankKind::Split) {
    launch_row_trees<T>(x, workspace, kind, planes * height, width, levels, height, bank, s);
    launch_column_trees<T>(workspace, y, kind, planes, height, q, levels, bank, s);
  } else {
    launch_column_trees<T>(x, workspace, kind, planes, height, q, levels, bank, s);
    launch_row_trees<T>(workspace, y, kind, planes * height, width, levels, height, bank, s);
  }
  return true;
}

// ---- General path ----

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
  if (levels > 0 && row_trees_fit<T>(planes, length)) {
    launch_row_trees<T>(x, y, kind, planes, length, levels, 1, dbank, s);
    return;
  }
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
  if (levels > 0 && fused_wpt2d(kind, x, y, workspace, planes, height, width, dbank, levels, s)) return;
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
