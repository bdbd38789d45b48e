// CUDA rANS coder for the format of rans.h: one group of kLanes threads per chunk, one thread per lane. The
// lanes of a group step through the chunk together; which lanes renormalise at a step is known from a warp
// ballot, so each finds its word's position in the shared word stream with a population count, in exactly
// the order the CPU coder uses. Escape values (rare) are handled by the group's first lane in lane order.
// Streams are serialised on the host by assemble() and parsed by parse_layout(), as on the CPU: the bytes
// are identical whichever device encodes.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "rans.h"

namespace walloc {
namespace rans {
namespace {

constexpr int kGroupsPerBlock = 8;
constexpr int kThreads = kGroupsPerBlock * kLanes;
static_assert(32 % kLanes == 0, "lane groups must tile a warp");

struct DeviceTables {
  const int32_t* cdfs;
  int64_t stride;
  const int32_t* lengths;
  const int32_t* offsets;
};

struct Group {
  int lane;
  int64_t chunk;
  unsigned mask;  // this group's lanes within the warp
  int shift;      // position of lane 0 in the warp
};

__device__ __forceinline__ Group this_group() {
  const int64_t thread = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  Group g;
  g.lane = int(threadIdx.x % kLanes);
  g.chunk = thread / kLanes;
  g.shift = int(threadIdx.x % 32) - g.lane;
  g.mask = (kLanes == 32 ? 0xFFFFFFFFu : ((1u << kLanes) - 1)) << g.shift;
  return g;
}

__device__ __forceinline__ unsigned group_ballot(const Group& g, bool pred) {
  return (__ballot_sync(g.mask, pred) & g.mask) >> g.shift;
}

// The smallest v over the group (whose lanes are consecutive and aligned in the warp, so xor stays inside).
__device__ __forceinline__ int64_t group_min(const Group& g, int64_t v) {
  for (int d = kLanes / 2; d > 0; d >>= 1) {
    const int64_t other = __shfl_xor_sync(g.mask, v, d);
    v = other < v ? other : v;
  }
  return v;
}

__device__ __forceinline__ uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// The coded value of a symbol (CompressAI's escape convention), as code_symbol() on the CPU.
__device__ __forceinline__ void coded_value(int32_t symbol, int32_t row, const DeviceTables& t, uint32_t& start,
                                            uint32_t& freq) {
  const int32_t* cdf = t.cdfs + int64_t(row) * t.stride;
  const int64_t max_value = t.lengths[row] - 2;
  int64_t value = int64_t(symbol) - t.offsets[row];
  if (value < 0 || value >= max_value) value = max_value;
  start = uint32_t(cdf[value]);
  freq = uint32_t(cdf[value + 1]) - start;
}

__global__ void encode_kernel(const int32_t* __restrict__ symbols, const int32_t* __restrict__ indexes, int64_t n,
                              int64_t chunks, DeviceTables t, uint16_t* __restrict__ emitted,
                              uint32_t* __restrict__ states, uint32_t* __restrict__ word_counts,
                              int32_t* __restrict__ status) {
  const Group g = this_group();
  if (g.chunk >= chunks) return;  // whole groups leave together
  const int64_t begin = g.chunk * kChunkSymbols;
  const int64_t count = n - begin < int64_t(kChunkSymbols) ? n - begin : int64_t(kChunkSymbols);
  uint16_t* out = emitted + g.chunk * int64_t(kChunkSymbols);
  uint32_t x = kLowerBound;
  uint32_t pos = 0;
  bool failed = false;
  for (int64_t step = (count + kLanes - 1) / kLanes - 1; step >= 0; --step) {
    const int64_t i = step * kLanes + g.lane;
    const bool active = i < count;
    uint32_t start = 0, freq = 1;
    if (active) coded_value(symbols[begin + i], indexes[begin + i], t, start, freq);
    if (active && freq == 0) {
      failed = true;
      freq = 1;
    }
    const bool renorm = active && uint64_t(x) >= (uint64_t(freq) << 16);
    const unsigned need = group_ballot(g, renorm);
    // Emission order within a step: highest lane first, as the CPU encoder walks symbols backwards.
    if (renorm) {
      out[pos + __popc(need >> (g.lane + 1))] = uint16_t(x & 0xFFFF);
      x >>= 16;
    }
    pos += __popc(need);
    if (active) x = ((x / freq) << kPrecision) + (x % freq) + start;
  }
  states[g.chunk * kLanes + g.lane] = x;
  const unsigned bad = group_ballot(g, failed);
  if (g.lane == 0) {
    word_counts[g.chunk] = pos;
    status[g.chunk] = bad ? kZeroFrequency : kOk;
  }
}

// Escape values of one chunk per thread, LEB128 in symbol order (as the CPU encoder writes them).
__global__ void escape_kernel(const int32_t* __restrict__ symbols, const int32_t* __restrict__ indexes, int64_t n,
                              int64_t chunks, DeviceTables t, uint8_t* __restrict__ escapes,
                              uint32_t* __restrict__ escape_counts) {
  const int64_t chunk = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (chunk >= chunks) return;
  const int64_t begin = chunk * kChunkSymbols;
  const int64_t count = n - begin < int64_t(kChunkSymbols) ? n - begin : int64_t(kChunkSymbols);
  uint8_t* out = escapes + chunk * int64_t(kChunkSymbols) * kMaxEscapeBytes;
  uint32_t e = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int32_t row = indexes[begin + i];
    const int64_t max_value = t.lengths[row] - 2;
    const int64_t value = int64_t(symbols[begin + i]) - t.offsets[row];
    if (value >= 0 && value < max_value) continue;
    uint64_t raw = value < 0 ? uint64_t(-2 * value - 1) : uint64_t(2 * (value - max_value));
    while (raw >= 0x80) {
      out[e++] = uint8_t(raw & 0x7F) | 0x80;
      raw >>= 7;
    }
    out[e++] = uint8_t(raw);
  }
  escape_counts[chunk] = e;
}

// The symbol whose interval holds `slot`: binary search for the last s with cdf[s] <= slot.
__device__ __forceinline__ int32_t find_symbol(const int32_t* cdf, int32_t length, uint32_t slot) {
  int32_t lo = 0, hi = length - 2;  // answer in [0, length - 2]
  while (lo < hi) {
    const int32_t mid = (lo + hi + 1) >> 1;
    if (uint32_t(cdf[mid]) <= slot) lo = mid; else hi = mid - 1;
  }
  return lo;
}

__global__ void decode_kernel(const uint8_t* __restrict__ body, const int64_t* __restrict__ chunk_offsets,
                              int64_t chunks, const int32_t* __restrict__ indexes, int64_t n, DeviceTables t,
                              int32_t* __restrict__ out, int32_t* __restrict__ status) {
  const Group g = this_group();
  if (g.chunk >= chunks) return;
  const uint8_t* chunk = body + chunk_offsets[g.chunk];
  const int64_t chunk_bytes = chunk_offsets[g.chunk + 1] - chunk_offsets[g.chunk];
  const uint32_t n_words = load_u32(chunk), n_escape = load_u32(chunk + 4);
  // Each lane keeps its first failure and where it happened in the CPU decoder's order: -1 for the chunk
  // header, 2 i for reading symbol i's word, 2 i + 1 for its value, past every symbol for the final states.
  // The chunk reports the earliest, where the CPU decoder stops, so both name the same failure.
  int32_t error = kOk;
  int64_t error_at = 0;
  auto fail = [&](Status code, int64_t at) {
    if (error == kOk) {
      error = code;
      error_at = at;
    }
  };
  if (uint64_t(kChunkHeaderBytes) + 2ull * n_words + n_escape != uint64_t(chunk_bytes)) fail(kBadChunkSizes, -1);
  uint32_t x = load_u32(chunk + 8 + 4 * g.lane);
  if (x < kLowerBound) fail(kBadState, -1);
  // A malformed chunk is not decoded at all: no read depends on its sizes.
  const bool usable = group_ballot(g, error != kOk) == 0;
  const uint8_t* words = chunk + kChunkHeaderBytes;
  const uint8_t* escapes = words + 2 * size_t(n_words);
  const int64_t begin = g.chunk * kChunkSymbols;
  const int64_t count = !usable ? 0 : (n - begin < int64_t(kChunkSymbols) ? n - begin : int64_t(kChunkSymbols));
  uint32_t pos = 0, e = 0;
  for (int64_t step = 0; step * kLanes < count; ++step) {
    const int64_t i = step * kLanes + g.lane;
    const bool active = i < count;
    int32_t s = 0, row = 0, max_value = 0;
    bool renorm = false;
    if (active) {
      row = indexes[begin + i];
      const int32_t* cdf = t.cdfs + int64_t(row) * t.stride;
      max_value = t.lengths[row] - 2;
      const uint32_t slot = x & (kTotal - 1);
      s = find_symbol(cdf, t.lengths[row], slot);
      const uint32_t start = uint32_t(cdf[s]), freq = uint32_t(cdf[s + 1]) - start;
      x = freq * (x >> kPrecision) + slot - start;
      renorm = x < kLowerBound;
    }
    const unsigned need = group_ballot(g, renorm);
    if (renorm) {
      const uint32_t at = pos + __popc(need & ((1u << g.lane) - 1));
      if (at < n_words) {
        x = (x << 16) | (uint32_t(words[2 * at]) | uint32_t(words[2 * at + 1]) << 8);
      } else {
        fail(kWordOverrun, 2 * (begin + i));
      }
    }
    pos += __popc(need);
    const bool escape = active && s == max_value;
    if (active && !escape) {
      const int64_t symbol = int64_t(s) + t.offsets[row];
      if (symbol < INT32_MIN || symbol > INT32_MAX) fail(kSymbolOverflow, 2 * (begin + i) + 1);
      out[begin + i] = int32_t(symbol);
    }
    const unsigned escaped = group_ballot(g, escape);
    if (escaped) {
      __syncwarp(g.mask);
      if (g.lane == 0) {
        for (int l = 0; l < kLanes; ++l) {
          if (!((escaped >> l) & 1)) continue;
          const int64_t at = begin + step * kLanes + l;
          const int32_t r = indexes[at];
          uint64_t raw = 0;
          int k = 0;
          for (;; ++k) {
            if (e >= n_escape) { fail(kEscapeOverrun, 2 * at + 1); break; }
            if (k == kMaxEscapeBytes) { fail(kEscapeTooLong, 2 * at + 1); break; }
            const uint8_t b = escapes[e++];
            raw |= uint64_t(b & 0x7F) << (7 * k);
            if (!(b & 0x80)) break;
          }
          const int64_t mv = t.lengths[r] - 2;
          const int64_t value = (raw & 1) ? -int64_t(raw >> 1) - 1 : int64_t(raw >> 1) + mv;
          const int64_t symbol = value + t.offsets[r];
          if (symbol < INT32_MIN || symbol > INT32_MAX) fail(kSymbolOverflow, 2 * at + 1);
          out[at] = int32_t(symbol);
        }
      }
      __syncwarp(g.mask);
    }
  }
  if (usable && x != kLowerBound) fail(kNotAtStart, 2 * (begin + count));
  const int64_t key = error != kOk ? error_at : INT64_MAX;
  const int64_t earliest = group_min(g, key);
  const unsigned holders = group_ballot(g, key == earliest);
  const int32_t code = __shfl_sync(g.mask, error, g.shift + __ffs(holders) - 1);
  if (g.lane == 0) {
    if (earliest != INT64_MAX) {
      status[g.chunk] = code;
    } else {
      status[g.chunk] = pos != n_words || e != n_escape ? kUnreadData : kOk;
    }
  }
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  cudaStream_t stream;
  DeviceBuffer(size_t count, cudaStream_t s) : stream(s) {
    if (count) check(cudaMallocAsync(reinterpret_cast<void**>(&ptr), count * sizeof(T), s), "walloc rANS alloc");
  }
  ~DeviceBuffer() {
    if (ptr) cudaFreeAsync(ptr, stream);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

template <typename T>
std::vector<T> to_host(const T* device, size_t count, cudaStream_t s) {
  std::vector<T> host(count);
  if (count) check(cudaMemcpyAsync(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost, s), "copy");
  return host;
}

}  // namespace

std::vector<uint8_t> encode_cuda(const int32_t* symbols, const int32_t* indexes, int64_t n, const Tables& t,
                                 void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t chunks = (n + kChunkSymbols - 1) / kChunkSymbols;
  if (chunks == 0) return assemble(0, {});
  const DeviceTables dt{t.cdfs, t.stride, t.lengths, t.offsets};
  DeviceBuffer<uint16_t> emitted(size_t(chunks) * kChunkSymbols, s);
  DeviceBuffer<uint8_t> escapes(size_t(chunks) * kChunkSymbols * kMaxEscapeBytes, s);
  DeviceBuffer<uint32_t> states(size_t(chunks) * kLanes, s), counts(size_t(chunks) * 2, s);
  DeviceBuffer<int32_t> status(size_t(chunks), s);
  const unsigned blocks = unsigned((chunks + kGroupsPerBlock - 1) / kGroupsPerBlock);
  encode_kernel<<<blocks, kThreads, 0, s>>>(symbols, indexes, n, chunks, dt, emitted.ptr, states.ptr, counts.ptr,
                                            status.ptr);
  check(cudaGetLastError(), "walloc rANS encode kernel");
  escape_kernel<<<unsigned((chunks + 127) / 128), 128, 0, s>>>(symbols, indexes, n, chunks, dt, escapes.ptr,
                                                                counts.ptr + chunks);
  check(cudaGetLastError(), "walloc rANS escape kernel");
  const auto host_status = to_host(status.ptr, size_t(chunks), s);
  const auto host_counts = to_host(counts.ptr, size_t(chunks) * 2, s);
  const auto host_states = to_host(states.ptr, size_t(chunks) * kLanes, s);
  check(cudaStreamSynchronize(s), "walloc rANS encode");
  std::vector<ChunkParts> parts(chunks);
  for (int64_t c = 0; c < chunks; ++c) {
    if (host_status[c] != kOk) throw_chunk_status(Status(host_status[c]), c);
    std::copy(host_states.begin() + c * kLanes, host_states.begin() + (c + 1) * kLanes, parts[c].states);
    parts[c].emitted = to_host(emitted.ptr + c * int64_t(kChunkSymbols), host_counts[c], s);
    parts[c].escapes = to_host(escapes.ptr + c * int64_t(kChunkSymbols) * kMaxEscapeBytes,
                               host_counts[chunks + c], s);
  }
  check(cudaStreamSynchronize(s), "walloc rANS encode copies");
  return assemble(uint64_t(n), parts);
}

void decode_cuda(const uint8_t* data, size_t size, const int32_t* indexes, int64_t n, const Tables& t, int32_t* out,
                 void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const StreamLayout layout = parse_layout(data, size, n);
  const int64_t chunks = int64_t(layout.offsets.size()) - 1;
  if (chunks == 0) return;
  const size_t body_bytes = layout.offsets.back();
  DeviceBuffer<uint8_t> body(body_bytes, s);
  DeviceBuffer<int64_t> offsets(layout.offsets.size(), s);
  DeviceBuffer<int32_t> status(size_t(chunks), s);
  std::vector<int64_t> host_offsets(layout.offsets.begin(), layout.offsets.end());
  check(cudaMemcpyAsync(body.ptr, layout.body, body_bytes, cudaMemcpyHostToDevice, s), "copy stream");
  check(cudaMemcpyAsync(offsets.ptr, host_offsets.data(), host_offsets.size() * sizeof(int64_t),
                        cudaMemcpyHostToDevice, s), "copy offsets");
  const DeviceTables dt{t.cdfs, t.stride, t.lengths, t.offsets};
  const unsigned blocks = unsigned((chunks + kGroupsPerBlock - 1) / kGroupsPerBlock);
  decode_kernel<<<blocks, kThreads, 0, s>>>(body.ptr, offsets.ptr, chunks, indexes, n, dt, out, status.ptr);
  check(cudaGetLastError(), "walloc rANS decode kernel");
  const auto host_status = to_host(status.ptr, size_t(chunks), s);
  check(cudaStreamSynchronize(s), "walloc rANS decode");
  for (int64_t c = 0; c < chunks; ++c) {
    if (host_status[c] != kOk) throw_chunk_status(Status(host_status[c]), c);
  }
}

}  // namespace rans
}  // namespace walloc
