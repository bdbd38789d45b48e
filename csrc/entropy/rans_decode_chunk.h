// The CPU chunk decoder shared by the plain rANS decoder (rows given up front) and the predictive latent decoder
// (rows from the symbols already decoded). Internal to csrc/entropy.
#pragma once

#include <cstdint>
#include <type_traits>

#include "../common/bytes.h"
#include "rans.h"
#include "rans_cpu_tables.h"

namespace walloc {
namespace rans {

[[noreturn]] inline void fail(Status s) { throw BitstreamError(status_message(s)); }

inline constexpr uint8_t kZeroWord[2] = {0, 0};

// Decodes one chunk of n symbols from [data, data + size). The model gives each symbol's table row
// (model.row(), a row of `lookup` in use) just before it is decoded and takes the symbol after
// (model.put(symbol)), in symbol order, so rows may depend on symbols decoded before. Throws BitstreamError
// with the message of the first Status in symbol order, the one the CUDA decoder reports for the same chunk.
// Each group of 16 symbols (one per lane) is unrolled.
template <typename Model>
void decode_chunk(const uint8_t* data, size_t size, int64_t n, const SymbolLookup& lookup, Model& model) {
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
  // One symbol of lane state x. A symbol reads at most one word, so a group of kLanes symbols that starts at
  // least kLanes words before the end needs no overrun check (Checked = false): the next word is always
  // loaded and shifted in or not by arithmetic, so the renormalisation (about one symbol in four reads a
  // word, unpredictably) is branch-free.
  auto step = [&](auto checked, uint32_t& x) __attribute__((always_inline)) {
    const SymbolLookup::Row& row = model.row();
    const uint32_t slot = x & (kTotal - 1);
    const int32_t s = lookup.find(row, slot);
    const uint32_t start = uint32_t(row.cdf[s]), freq = uint32_t(row.cdf[s + 1]) - start;
    x = freq * (x >> kPrecision) + slot - start;
    const uint32_t renormalise = x < kLowerBound;
    const uint8_t* next = word_bytes + 2 * w;
    if constexpr (decltype(checked)::value) {
      if (renormalise && w >= n_words) fail(kWordOverrun);
      if (w >= n_words) next = kZeroWord;
    }
    const uint32_t word = uint32_t(next[0]) | uint32_t(next[1]) << 8;
    x = (x << (16 * renormalise)) | (word & (0u - renormalise));
    w += renormalise;
    int64_t value = s;
    const int32_t max_value = row.max_value;
    if (s == max_value) [[unlikely]] {
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
    const int64_t symbol = value + row.offset;
    if (symbol < INT32_MIN || symbol > INT32_MAX) fail(kSymbolOverflow);
    model.put(int32_t(symbol));
  };
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    if (uint64_t(w) + kLanes <= n_words) {
#pragma GCC unroll 16
      for (int k = 0; k < kLanes; ++k) step(std::false_type{}, state[k]);
    } else {
#pragma GCC unroll 16
      for (int k = 0; k < kLanes; ++k) step(std::true_type{}, state[k]);
    }
  }
  for (; i < n; ++i) step(std::true_type{}, state[i % kLanes]);
  for (uint32_t s : state) {
    if (s != kLowerBound) fail(kNotAtStart);
  }
  if (w != n_words || e != n_escape) fail(kUnreadData);
}

}  // namespace rans
}  // namespace walloc
