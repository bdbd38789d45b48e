// The rANS encoder's groups of 16 symbols (one per lane) in vector registers, for CPUs with AVX-512: one copy of
// the scalar step of rans_cpu.cpp for all 16 lanes at once, with the same arithmetic (the same double division),
// so the words and states are those of the scalar encoder, bit for bit. Internal to csrc/entropy.
#pragma once

#include <cstdint>
#include <vector>

#include "rans.h"

namespace walloc {
namespace rans {

// What the vector encoder gathers of each table row: where the row starts in cdfs (row * stride), and the pair
// (offset, escape value = lengths - 2) as one 64-bit element.
struct GroupTables {
  const int32_t* cdfs = nullptr;
  std::vector<int32_t> row_start;
  std::vector<int64_t> offset_and_escape;

  // The rows of `t`, or an empty set (no vector encoding) where a cdf index or a symbol's distance from an offset
  // could leave 32 bits: cdfs of 2^31 entries or more, or an offset beyond +-2^30.
  static GroupTables of(const Tables& t);
  bool empty() const { return cdfs == nullptr; }
};

namespace avx512 {

// Encodes the whole groups of symbols ending at `last`, `last` - 16, ... (lane k of a group is its symbol k)
// with the lane states `state`, appending the emitted words at `word`, while no symbol of a group escapes or
// has zero frequency. Returns the last symbol of the group it stopped before (for the scalar encoder), or -1.
int64_t encode_groups(const int32_t* symbols, const int32_t* indexes, int64_t last, const GroupTables& t,
                      uint32_t state[kLanes], uint16_t*& word);

}  // namespace avx512
}  // namespace rans
}  // namespace walloc
