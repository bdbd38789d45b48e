// CPU rANS coder: chunks in parallel on threads, 16 interleaved lanes inside a chunk (independent states, so
// the table look-ups and divisions of neighbouring symbols overlap), see rans.h for the format.
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

int64_t chunk_count(int64_t n) { return (n + kChunkSymbols - 1) / kChunkSymbols; }

// Encodes symbols [0, n) of one chunk. Returns false if a symbol has zero probability in its table.
//
// One backward pass. The 16 lane states stay in registers (the loop over a group of 16 symbols, one per lane,
// is unrolled), renormalisation is branch-free (the low word is always written, the write position advances
// only when it is emitted), and the quotient x / freq is a double division, pipelined on every x86 core unlike
// the integer divider: it is exact, since x < 2^32 and freq < 2^16 keep a non-integer x / freq at least 2^-16
// below the next integer, far beyond the division's 2^-37 rounding error.
bool encode_chunk(const int32_t* symbols, const int32_t* indexes, int64_t n, const Tables& t, ChunkParts& out) {
  out.emitted.resize(size_t(n));  // at most one word per symbol
  uint16_t* word = out.emitted.data();
  std::vector<uint64_t> escaped;  // bypass values, last symbol first
  bool ok = true;
  auto step = [&](int64_t i, uint32_t& x) __attribute__((always_inline)) {
    const int32_t row = indexes[i];
    const int64_t max_value = t.lengths[row] - 2;
    int64_t value = int64_t(symbols[i]) - t.offsets[row];
    if (value < 0 || value >= max_value) [[unlikely]] {
      // Outside the row: the row's last value (the escape) and CompressAI's bypass value in the escape section.
      escaped.push_back(value < 0 ? uint64_t(-2 * value - 1) : uint64_t(2 * (value - max_value)));
      value = max_value;
    }
    const int32_t* c = t.cdfs + int64_t(row) * t.stride + value;
    const uint32_t start = uint32_t(c[0]), freq = uint32_t(c[1] - c[0]);
    if (freq == 0) [[unlikely]] {
      ok = false;
      return;
    }
    const bool emit = x >= (freq << 16);
    *word = uint16_t(x & 0xFFFF);
    word += emit;
    x = emit ? x >> 16 : x;
    const uint32_t q = uint32_t(double(x) / double(freq));
    x += start + q * (kTotal - freq);  // ((x / freq) << 16) + x % freq + start
  };
  uint32_t state[kLanes];
  for (auto& x : state) x = kLowerBound;
  int64_t i = n - 1;
  for (; i >= 0 && (i + 1) % kLanes != 0; --i) step(i, state[i % kLanes]);
  for (; i >= 0 && ok; i -= kLanes) {
#pragma GCC unroll 16
    for (int k = kLanes - 1; k >= 0; --k) step(i - (kLanes - 1 - k), state[k]);
  }
  if (!ok) return false;
  std::copy(state, state + kLanes, out.states);
  out.emitted.resize(size_t(word - out.emitted.data()));
  for (auto it = escaped.rbegin(); it != escaped.rend(); ++it) put_varint(out.escapes, *it);
  return true;
}

// Rows given up front; the decoded symbols go to out, both advanced symbol by symbol.
struct GivenRows {
  const SymbolLookup::Row* rows;
  const int32_t* index;
  int32_t* out;
  const SymbolLookup::Row& row() const { return rows[*index]; }
  void put(int32_t symbol) {
    *out++ = symbol;
    ++index;
  }
};

}  // namespace

void validate(const Tables& t, const int32_t* indexes, int64_t n) {
  if (t.count < 1 || t.stride < 3) throw std::invalid_argument("rANS tables: need at least one CDF of 3 entries");
  for (int64_t j = 0; j < t.count; ++j) {
    const int32_t len = t.lengths[j];
    const int32_t* cdf = t.cdfs + j * t.stride;
    auto fail = [j](const char* what) {
      throw std::invalid_argument("rANS tables: cdf " + std::to_string(j) + ": " + what);
    };
    if (len < 3 || len > t.stride) fail("length must be in [3, cdfs.shape[1]]");
    if (cdf[0] != 0 || uint32_t(cdf[len - 1]) != kTotal) fail("must start at 0 and end at 65536 (16-bit precision)");
    bool decreasing = false;  // one pass that vectorises: every call checks the whole table family
    for (int32_t k = 1; k < len; ++k) decreasing |= cdf[k] < cdf[k - 1];
    if (decreasing) fail("must be non-decreasing");
    if (cdf[len - 1] == cdf[len - 2]) fail("the escape symbol needs a non-zero frequency");
  }
  // The range first, in a loop that vectorizes; the offending index only when there is one.
  int32_t low = 0, high = 0;
  for (int64_t i = 0; i < n; ++i) {
    low = std::min(low, indexes[i]);
    high = std::max(high, indexes[i]);
  }
  if (low < 0 || high >= t.count) {
    const int32_t bad = low < 0 ? low : high;
    throw std::invalid_argument("rANS: index " + std::to_string(bad) + " is not a valid cdf row");
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
  const SymbolLookup lookup(t, rows_in_use(t, indexes, n), n);
  std::vector<std::string> errors(chunks);
  parallel_for_with_scratch(int64_t(chunks), threads, [] { return NoScratch{}; }, [&](NoScratch&, int64_t c) {
    const int64_t begin = c * kChunkSymbols, count = std::min<int64_t>(kChunkSymbols, n - begin);
    try {
      GivenRows model{lookup.rows.data(), indexes + begin, out + begin};
      decode_chunk(body + offsets[c], offsets[c + 1] - offsets[c], count, lookup, model);
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
