// The CPU chunk decoder shared by the plain rANS decoder (rows given up front) and the predictive latent decoder
// (rows from the symbols already decoded). Internal to csrc/entropy.
#pragma once

#include <cstdint>
#include <vector>

#include "../common/bytes.h"
#include "rans.h"

namespace walloc {
namespace rans {

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

[[noreturn]] inline void fail(Status s) { throw BitstreamError(status_message(s)); }

// Decodes one chunk of n symbols from [data, data + size). The model gives each symbol's table row
// (model.row(i), a valid row) just before it is decoded and takes the symbol after (model.put(i, symbol)), so
// rows may depend on symbols decoded before. Throws BitstreamError with the message of the first Status in
// symbol order, the one the CUDA decoder reports for the same chunk.
template <typename Model>
void decode_chunk(const uint8_t* data, size_t size, int64_t n, const Tables& t, const SymbolLookup& lookup,
                  Model& model) {
  ByteReader<BitstreamError> r(data, size);
  const uint32_t n_words = r.get<uint32_t>("chunk word count");
  const uint32_t n_escape = r.get<uint32_t>("chunk escape size");
  uint32_t state[kLanes];
  for (auto& s : state) s = r.get<uint32_t>("lane state");
  if (uint64_t(n_words) * 2 + n_escape != r.remaining()) fail(kBadChunkSizes);
  for (uint32_t s : state) {
    if (s < kLowerBound) fail(kBadState);
  }
  const uint8_t* word_bytes = r.take(size_t(n_words) * 2, "words");
  const uint8_t* escapes = r.take(n_escape, "escapes");
  uint32_t w = 0, e = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t row = model.row(i);
    const int32_t* cdf = t.cdfs + int64_t(row) * t.stride;
    uint32_t x = state[i % kLanes];
    const uint32_t slot = x & (kTotal - 1);
    const int32_t s = lookup.find(cdf, row, slot);
    const uint32_t start = uint32_t(cdf[s]), freq = uint32_t(cdf[s + 1]) - start;
    x = freq * (x >> kPrecision) + slot - start;
    if (x < kLowerBound) {
      if (w >= n_words) fail(kWordOverrun);
      x = (x << 16) | (uint32_t(word_bytes[2 * w]) | uint32_t(word_bytes[2 * w + 1]) << 8);
      ++w;
    }
    state[i % kLanes] = x;
    int64_t value = s;
    const int32_t max_value = t.lengths[row] - 2;
    if (s == max_value) {
      uint64_t raw = 0;
      for (int k = 0;; ++k) {
        if (e >= n_escape) fail(kEscapeOverrun);
        if (k == kMaxEscapeBytes) fail(kEscapeTooLong);
        const uint8_t b = escapes[e++];
        raw |= uint64_t(b & 0x7F) << (7 * k);
        if (!(b & 0x80)) break;
      }
      value = (raw & 1) ? -int64_t(raw >> 1) - 1 : int64_t(raw >> 1) + max_value;
    }
    const int64_t symbol = value + t.offsets[row];
    if (symbol < INT32_MIN || symbol > INT32_MAX) fail(kSymbolOverflow);
    model.put(i, int32_t(symbol));
  }
  for (uint32_t s : state) {
    if (s != kLowerBound) fail(kNotAtStart);
  }
  if (w != n_words || e != n_escape) fail(kUnreadData);
}

}  // namespace rans
}  // namespace walloc
