// The CPU decoder's slot -> symbol look-up, built before decoding only for the rows a call uses and sized to
// each row, so it stays in L1/L2 whatever the size of the table family. Internal to csrc/entropy.
#pragma once

#include <cstdint>
#include <vector>

#include "rans.h"

namespace walloc {
namespace rans {

// Which rows of `t` the given indexes use (indexes already validated).
std::vector<uint8_t> rows_in_use(const Tables& t, const int32_t* indexes, int64_t n);

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
