// The CPU coder's look-ups, built per call from the tables: the encoder's per-symbol entries and the decoder's
// slot -> symbol buckets (built only for the rows a call uses and sized to each row, so they stay in L1/L2
// whatever the size of the table family). Internal to csrc/entropy.
#pragma once

#include <cstdint>
#include <vector>

#include "rans.h"

namespace walloc {
namespace rans {

// Which rows of `t` the given indexes use (indexes already validated).
std::vector<uint8_t> rows_in_use(const Tables& t, const int32_t* indexes, int64_t n);

// The encoder's look-up. Every row: where its cdf starts, its offset and escape value, in one place. Where the
// groups of 16 symbols of one row (the encoder's one-row groups, which skip the row look-up: rans_cpu.cpp) pay for
// building them, at least one such group per 4 entries, each coded value of each row also gets what a step needs
// of it in one entry.
struct SymbolCodes {
  struct Entry {
    double reciprocal;    // 1 / freq, one step above its rounding (see quotient)
    uint32_t limit;       // freq << 16: a state at or above it emits its low word first
    uint16_t start;       // cdf[v]
    uint16_t complement;  // 2^16 - freq
  };
  struct Row {
    const int32_t* cdf;
    int32_t offset;
    int32_t max_value;      // the escape's coded value, lengths - 2
    const Entry* entries;   // of coded values 0 to max_value, or null
    // max_value where the row has entries, no zero frequency, an offset within +-2^30 (so that symbol - offset in
    // 32-bit arithmetic wraps to no coded value) and fewer than 2^28 values (so that the vector encoders' 32-bit
    // gather offsets hold an entry's place); else 0, and its groups take the general step.
    uint32_t plain_max;
  };
  std::vector<Row> rows;
  std::vector<Entry> entries;

  // From the tables and the n indexes to code (validated).
  SymbolCodes(const Tables& t, const int32_t* indexes, int64_t n);

  // floor(x / freq) for x < 2^32, by a multiply: the reciprocal lies in [1 / freq, (1 + 2^-51) / freq] and the
  // product's rounding adds at most 2^-37, so x * reciprocal lies within 2^-34 above x / freq, while a
  // non-integer x / freq (freq < 2^16) lies at least 2^-16 below the next integer: the floor is exact.
  static uint32_t quotient(uint32_t x, double reciprocal) { return uint32_t(double(int64_t(x)) * reciprocal); }
};

// slot -> symbol: row r splits the 2^16 slots into 2^bits buckets (2 to 8 buckets per symbol of the row, at
// most 4096, as the number of symbols to decode, n, pays for building them), each holding the symbol whose
// interval contains the bucket's first slot and the last slot of that interval, so the usual look-up (a bucket
// rarely holds more than one interval boundary) is one load and one compare; a short scan of the cdf finishes
// the rest. Rows not in use keep a null cdf.
struct SymbolLookup {
  struct Bucket {
    uint16_t symbol;
    uint16_t last;  // cdf[symbol + 1] - 1
  };
  // What decoding with a row needs, in one place: one load per symbol.
  struct Row {
    const int32_t* cdf;
    uint32_t first;     // offset of the row's buckets
    uint32_t shift;     // 16 - bits
    int32_t max_value;  // the escape's coded value, lengths - 2
    int32_t offset;
  };
  std::vector<Bucket> buckets;
  std::vector<Row> rows;

  SymbolLookup(const Tables& t, const std::vector<uint8_t>& used, int64_t n);

  inline int32_t find(const Row& r, uint32_t slot) const {
    const Bucket b = buckets[r.first + (slot >> r.shift)];
    int32_t s = b.symbol + (slot > b.last);
    while (uint32_t(r.cdf[s + 1]) <= slot) ++s;
    return s;
  }
};

}  // namespace rans
}  // namespace walloc
