// CPU rANS coder: chunks in parallel on threads, 16 interleaved lanes inside a chunk (independent states, so
// the divisions and table look-ups of neighbouring symbols overlap), see rans.h for the format.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "../common/bytes.h"
#include "../common/parallel.h"
#include "rans.h"

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

// slot -> symbol look-up: bucket b of 2^12 holds the symbol whose interval contains b * 16; a short forward
// scan finishes the search.
struct SymbolLookup {
  static constexpr int kBucketBits = 12;
  std::vector<uint16_t> first;  // (rows, 4096)

  explicit SymbolLookup(const Tables& t) : first(size_t(t.count) << kBucketBits) {
    for (int64_t j = 0; j < t.count; ++j) {
      const int32_t* cdf = t.cdfs + j * t.stride;
      const int32_t last = t.lengths[j] - 2;  // largest symbol
      uint16_t* row = first.data() + (j << kBucketBits);
      int32_t s = 0;
      for (uint32_t b = 0; b < (1u << kBucketBits); ++b) {
        const uint32_t slot = b << (kPrecision - kBucketBits);
        while (s < last && uint32_t(cdf[s + 1]) <= slot) ++s;
        row[b] = uint16_t(s);
      }
    }
  }

  inline int32_t find(const int32_t* cdf, int64_t row, uint32_t slot) const {
    int32_t s = first[(row << kBucketBits) + (slot >> (kPrecision - kBucketBits))];
    while (uint32_t(cdf[s + 1]) <= slot) ++s;
    return s;
  }
};

// Decodes one chunk of n symbols from [data, data + size). Throws BitstreamError.
void decode_chunk(const uint8_t* data, size_t size, const int32_t* indexes, int64_t n, const Tables& t,
                  const SymbolLookup& lookup, int32_t* out) {
  ByteReader<BitstreamError> r(data, size);
  const uint32_t n_words = r.get<uint32_t>("chunk word count");
  const uint32_t n_escape = r.get<uint32_t>("chunk escape size");
  uint32_t state[kLanes];
  for (auto& s : state) {
    s = r.get<uint32_t>("lane state");
    if (s < kLowerBound) throw BitstreamError("corrupt stream: a lane state is below the rANS lower bound");
  }
  if (uint64_t(n_words) * 2 + n_escape != r.remaining()) {
    throw BitstreamError("corrupt stream: chunk sizes do not add up to the chunk length");
  }
  const uint8_t* word_bytes = r.take(size_t(n_words) * 2, "words");
  const uint8_t* escapes = r.take(n_escape, "escapes");
  uint32_t w = 0, e = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t row = indexes[i];
    const int32_t* cdf = t.cdfs + int64_t(row) * t.stride;
    uint32_t x = state[i % kLanes];
    const uint32_t slot = x & (kTotal - 1);
    const int32_t s = lookup.find(cdf, row, slot);
    const uint32_t start = uint32_t(cdf[s]), freq = uint32_t(cdf[s + 1]) - start;
    x = freq * (x >> kPrecision) + slot - start;
    if (x < kLowerBound) {
      if (w >= n_words) throw BitstreamError("corrupt stream: a lane reads past the chunk's words");
      x = (x << 16) | (uint32_t(word_bytes[2 * w]) | uint32_t(word_bytes[2 * w + 1]) << 8);
      ++w;
    }
    state[i % kLanes] = x;
    int64_t value = s;
    const int32_t max_value = t.lengths[row] - 2;
    if (s == max_value) {
      uint64_t raw = 0;
      for (int k = 0;; ++k) {
        if (e >= n_escape) throw BitstreamError("corrupt stream: escape section ends inside a value");
        if (k == kMaxEscapeBytes) throw BitstreamError("corrupt stream: escape value longer than 5 bytes");
        const uint8_t b = escapes[e++];
        raw |= uint64_t(b & 0x7F) << (7 * k);
        if (!(b & 0x80)) break;
      }
      value = (raw & 1) ? -int64_t(raw >> 1) - 1 : int64_t(raw >> 1) + max_value;
    }
    const int64_t symbol = value + t.offsets[row];
    if (symbol < INT32_MIN || symbol > INT32_MAX) throw BitstreamError("corrupt stream: escaped symbol overflows");
    out[i] = int32_t(symbol);
  }
  for (uint32_t s : state) {
    if (s != kLowerBound) throw BitstreamError("corrupt stream: lane states do not return to their start");
  }
  if (w != n_words || e != n_escape) throw BitstreamError("corrupt stream: unread words or escape bytes remain");
}

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
  if (bad_chunk >= 0) {
    throw std::invalid_argument("rANS: a symbol has zero probability in its cdf (chunk " +
                                std::to_string(bad_chunk.load()) + ")");
  }
  return assemble(uint64_t(n), parts);
}

void decode_cpu(const uint8_t* data, size_t size, const int32_t* indexes, int64_t n, const Tables& t,
                int32_t* out, int threads) {
  validate(t, indexes, n);
  const StreamLayout layout = parse_layout(data, size);
  if (layout.symbols != uint64_t(n)) {
    throw BitstreamError("rANS stream holds " + std::to_string(layout.symbols) + " symbols, but " +
                         std::to_string(n) + " indexes were given");
  }
  const size_t chunks = layout.offsets.size() - 1;
  const uint8_t* body = layout.body;
  const std::vector<size_t>& offsets = layout.offsets;
  if (chunks == 0) return;
  const SymbolLookup lookup(t);
  std::vector<std::string> errors(chunks);
  parallel_for_with_scratch(int64_t(chunks), threads, [] { return NoScratch{}; }, [&](NoScratch&, int64_t c) {
    const int64_t begin = c * kChunkSymbols, count = std::min<int64_t>(kChunkSymbols, n - begin);
    try {
      decode_chunk(body + offsets[c], offsets[c + 1] - offsets[c], indexes + begin, count, t, lookup, out + begin);
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
