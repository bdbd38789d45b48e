// CPU rANS coder: chunks in parallel on threads, 16 interleaved lanes inside a chunk (independent states, so
// the divisions and table look-ups of neighbouring symbols overlap), see rans.h for the format.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "../common/bytes.h"
#include "../common/parallel.h"
#include "rans.h"
#include "rans_decode_chunk.h"

namespace walloc {
namespace rans {
namespace {

struct NoScratch {};

// A coded symbol: its table row, the coded value (the row's last value marks an escape) and, for escapes,
// CompressAI's bypass value.
struct Coded {
  uint32_t start;
  uint32_t freq;
  bool escape;
  uint64_t raw;
};

inline Coded code_symbol(int32_t symbol, int32_t index, const Tables& t) {
  const int32_t* cdf = t.cdfs + int64_t(index) * t.stride;
  const int64_t max_value = t.lengths[index] - 2;
  int64_t value = int64_t(symbol) - t.offsets[index];
  Coded c{0, 0, false, 0};
  if (value < 0) {
    c.escape = true;
    c.raw = uint64_t(-2 * value - 1);
    value = max_value;
  } else if (value >= max_value) {
    c.escape = true;
    c.raw = uint64_t(2 * (value - max_value));
    value = max_value;
  }
  c.start = uint32_t(cdf[value]);
  c.freq = uint32_t(cdf[value + 1] - cdf[value]);
  return c;
}

int64_t chunk_count(int64_t n) { return (n + kChunkSymbols - 1) / kChunkSymbols; }

// Encodes symbols [0, n) of one chunk. Returns false if a symbol has zero probability in its table.
bool encode_chunk(const int32_t* symbols, const int32_t* indexes, int64_t n, const Tables& t, ChunkParts& out) {
  for (int64_t i = 0; i < n; ++i) {
    const Coded c = code_symbol(symbols[i], indexes[i], t);
    if (c.freq == 0) return false;
    if (c.escape) put_varint(out.escapes, c.raw);
  }
  uint32_t* state = out.states;
  for (int k = 0; k < kLanes; ++k) state[k] = kLowerBound;
  out.emitted.reserve(size_t(n / 2) + 16);
  for (int64_t i = n - 1; i >= 0; --i) {
    const Coded c = code_symbol(symbols[i], indexes[i], t);
    uint32_t x = state[i % kLanes];
    if (uint64_t(x) >= (uint64_t(c.freq) << 16)) {
      out.emitted.push_back(uint16_t(x & 0xFFFF));
      x >>= 16;
    }
    state[i % kLanes] = ((x / c.freq) << kPrecision) + (x % c.freq) + c.start;
  }
  return true;
}

// Rows given up front; the decoded symbols go to out (offset to the chunk's first symbol).
struct GivenRows {
  const int32_t* indexes;
  int32_t* out;
  int32_t row(int64_t i) const { return indexes[i]; }
  void put(int64_t i, int32_t symbol) { out[i] = symbol; }
};

}  // namespace

void validate(const Tables& t, const int32_t* indexes, int64_t n) {
  if (t.count < 1 || t.stride < 3) throw std::invalid_argument("rANS tables: need at least one CDF of 3 entries");
  for (int64_t j = 0; j < t.count; ++j) {
    const int32_t len = t.lengths[j];
    const int32_t* cdf = t.cdfs + j * t.stride;
    const std::string row = "rANS tables: cdf " + std::to_string(j);
    if (len < 3 || len > t.stride) throw std::invalid_argument(row + ": length must be in [3, cdfs.shape[1]]");
    if (cdf[0] != 0 || uint32_t(cdf[len - 1]) != kTotal) {
      throw std::invalid_argument(row + ": must start at 0 and end at 65536 (16-bit precision)");
    }
    for (int32_t k = 1; k < len; ++k) {
      if (cdf[k] < cdf[k - 1]) throw std::invalid_argument(row + ": must be non-decreasing");
    }
    if (cdf[len - 1] == cdf[len - 2]) throw std::invalid_argument(row + ": the escape symbol needs a non-zero frequency");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (indexes[i] < 0 || indexes[i] >= t.count) {
      throw std::invalid_argument("rANS: index " + std::to_string(indexes[i]) + " is not a valid cdf row");
    }
  }
}

std::vector<uint8_t> encode_cpu(const int32_t* symbols, const int32_t* indexes, int64_t n, const Tables& t,
                                int threads) {
  validate(t, indexes, n);
  const int64_t chunks = chunk_count(n);
  std::vector<ChunkParts> parts(chunks);
  std::atomic<int64_t> bad_chunk{-1};
  parallel_for_with_scratch(chunks, threads, [] { return NoScratch{}; }, [&](NoScratch&, int64_t c) {
    const int64_t begin = c * kChunkSymbols, count = std::min<int64_t>(kChunkSymbols, n - begin);
    if (!encode_chunk(symbols + begin, indexes + begin, count, t, parts[c])) bad_chunk = c;
  });
  if (bad_chunk >= 0) throw_chunk_status(kZeroFrequency, bad_chunk);
  return assemble(uint64_t(n), parts);
}

void decode_cpu(const uint8_t* data, size_t size, const int32_t* indexes, int64_t n, const Tables& t,
                int32_t* out, int threads) {
  validate(t, indexes, n);
  const StreamLayout layout = parse_layout(data, size, n);
  const size_t chunks = layout.offsets.size() - 1;
  const uint8_t* body = layout.body;
  const std::vector<size_t>& offsets = layout.offsets;
  if (chunks == 0) return;
  const SymbolLookup lookup(t);
  std::vector<std::string> errors(chunks);
  parallel_for_with_scratch(int64_t(chunks), threads, [] { return NoScratch{}; }, [&](NoScratch&, int64_t c) {
    const int64_t begin = c * kChunkSymbols, count = std::min<int64_t>(kChunkSymbols, n - begin);
    try {
      GivenRows model{indexes + begin, out + begin};
      decode_chunk(body + offsets[c], offsets[c + 1] - offsets[c], count, t, lookup, model);
    } catch (const BitstreamError& err) {
      errors[c] = err.what();
    }
  });
  for (size_t c = 0; c < chunks; ++c) {
    if (!errors[c].empty()) throw BitstreamError(errors[c] + " (chunk " + std::to_string(c) + ")");
  }
}

}  // namespace rans
}  // namespace walloc
