// The rANS encoder's groups of 16 symbols (one per lane) in vector registers: the scalar step of rans_cpu.cpp for
// all 16 lanes at once, giving the same quotients, words and states, bit for bit (the quotient's exactness is
// argued where it is formed). Groups whose symbols share one plain row with entries (SymbolCodes) gather only the
// symbols' entries, with no division: in two 8-lane halves with AVX2, in one vector with AVX-512. With AVX-512
// every other group without an escape or a zero frequency is coded too, gathering each lane's row and cdf entries
// and dividing (an AVX2 copy of that ran 1.13x slower than the scalar loop on a Xeon). Internal to csrc/entropy.
#pragma once

#include <cstdint>
#include <vector>

#include "rans.h"
#include "rans_cpu_tables.h"

namespace walloc {
namespace rans {

// What the vector encoders gather from: the encoder's entries where it has them (one-row groups), and for AVX-512's
// other groups, of each table row, where it starts in cdfs (row * stride), its offset and its escape value
// (lengths - 2).
struct GroupTables {
  const int32_t* cdfs = nullptr;
  std::vector<int32_t> row_start, offset, escape;
  const SymbolCodes* codes = nullptr;
};

// The vector encoder for this CPU, with the tables it gathers from.
class GroupEncoder {
 public:
  // None (empty()) on CPUs without AVX2; with AVX-512, also where a cdf index or a symbol's distance from an
  // offset could leave 32 bits (cdfs of 2^31 entries or more, or an offset beyond +-2^30); with AVX2, where
  // `codes` has no entries.
  GroupEncoder(const Tables& t, const SymbolCodes& codes);
  bool empty() const { return run_ == nullptr; }
  // Whether it codes only groups of one row (AVX2).
  bool one_row_only() const { return one_row_only_; }

  // Encodes the whole groups of symbols ending at `last`, `last` - 16, ... (lane k of a group is its symbol k)
  // with the lane states `state`, appending the emitted words at `word`, while it can code them (above). Returns
  // the last symbol of the group it stopped before (for the scalar encoder), or -1.
  int64_t encode(const int32_t* symbols, const int32_t* indexes, int64_t last, uint32_t state[kLanes],
                 uint16_t*& word) const {
    return run_(symbols, indexes, last, tables_, state, word);
  }

 private:
  using Run = int64_t (*)(const int32_t*, const int32_t*, int64_t, const GroupTables&, uint32_t*, uint16_t*&);
  GroupTables tables_;
  Run run_ = nullptr;
  bool one_row_only_ = false;
};

namespace avx2 {
// GroupEncoder::encode: groups of one plain row.
int64_t encode_row_groups(const int32_t* symbols, const int32_t* indexes, int64_t last, const GroupTables& t,
                          uint32_t state[kLanes], uint16_t*& word);
}  // namespace avx2

namespace avx512 {
// GroupEncoder::encode.
int64_t encode_groups(const int32_t* symbols, const int32_t* indexes, int64_t last, const GroupTables& t,
                      uint32_t state[kLanes], uint16_t*& word);
}  // namespace avx512
}  // namespace rans
}  // namespace walloc
