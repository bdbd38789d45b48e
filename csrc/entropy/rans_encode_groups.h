// The rANS encoder's groups of 16 symbols (one per lane) in vector registers, for CPUs with AVX-512: the scalar
// step of rans_cpu.cpp for all 16 lanes at once, giving the same quotients, words and states, bit for bit (the
// quotient's exactness is argued where it is formed). An AVX2 copy (two 8-lane halves, the rounding mode set in
// MXCSR) ran 1.13x slower than the scalar loop on a Xeon with the AVX2 path forced: its gathers and 4-lane
// divisions cost more than the scalar loop's 40 instructions a symbol. Internal to csrc/entropy.
#pragma once

#include <cstdint>
#include <vector>

#include "rans.h"

namespace walloc {
namespace rans {

// What the vector encoder gathers of each table row: where it starts in cdfs (row * stride), its offset and its
// escape value (lengths - 2).
struct GroupTables {
  const int32_t* cdfs = nullptr;
  std::vector<int32_t> row_start, offset, escape;
};

// The vector encoder, where cpu_isa() is AVX-512, with the tables it gathers from.
class GroupEncoder {
 public:
  // None (empty()) on other CPUs, and where a cdf index or a symbol's distance from an offset could leave 32 bits:
  // cdfs of 2^31 entries or more, or an offset beyond +-2^30.
  explicit GroupEncoder(const Tables& t);
  bool empty() const { return run_ == nullptr; }

  // Encodes the whole groups of symbols ending at `last`, `last` - 16, ... (lane k of a group is its symbol k)
  // with the lane states `state`, appending the emitted words at `word`, while no symbol of a group escapes or
  // has zero frequency. Returns the last symbol of the group it stopped before (for the scalar encoder), or -1.
  int64_t encode(const int32_t* symbols, const int32_t* indexes, int64_t last, uint32_t state[kLanes],
                 uint16_t*& word) const {
    return run_(symbols, indexes, last, tables_, state, word);
  }

 private:
  using Run = int64_t (*)(const int32_t*, const int32_t*, int64_t, const GroupTables&, uint32_t*, uint16_t*&);
  GroupTables tables_;
  Run run_ = nullptr;
};

namespace avx512 {
// GroupEncoder::encode.
int64_t encode_groups(const int32_t* symbols, const int32_t* indexes, int64_t last, const GroupTables& t,
                      uint32_t state[kLanes], uint16_t*& word);
}  // namespace avx512
}  // namespace rans
}  // namespace walloc
