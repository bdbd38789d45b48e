// CPU rANS coder: chunks in parallel on threads, 16 interleaved lanes inside a chunk (independent states, so
// the table look-ups and divisions of neighbouring symbols overlap), see rans.h for the format. On AVX2 and
// AVX-512 CPUs the encoder codes groups of 16 symbols in vector registers where it can (rans_encode_groups.h);
// elsewhere it also codes the two halves of a chunk's lanes on two threads when whole chunks would load the
// threads unevenly.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "../common/bytes.h"
#include "../common/cpu_isa.h"
#include "../common/parallel.h"
#include "rans.h"
#include "rans_decode_chunk.h"
#include "rans_encode_groups.h"

namespace walloc {
namespace rans {
namespace {

struct NoScratch {};

int64_t chunk_count(int64_t n) { return (n + kChunkSymbols - 1) / kChunkSymbols; }

// What one encoder pass over some lanes of a chunk leaves: the lanes' final states, the words in the order the
// encoder emits them, the escaped symbols (chunk position, bypass value) last symbol first, and, for a pass over
// half of the lanes, how many words it emitted in each group of 16 symbols (in the order it met the groups).
struct LaneWords {
  uint32_t states[kLanes];
  std::vector<uint16_t> words;
  std::vector<std::pair<int64_t, uint64_t>> escaped;
  std::vector<uint8_t> group_words;
};

// Spare words past the end of a pass's buffers, so that the merge copies whole runs of 8 without a bounds test.
constexpr size_t kWordSlack = 8;

// Encodes lanes [kFirst, kFirst + kCount) of symbols [0, n) of one chunk. Returns false if a symbol has zero
// probability in its table. With a `vector` encoder (all 16 lanes only), whole groups go to it, and it hands
// back to this loop each group it cannot code (an escape, a zero frequency, or, for AVX2's, several rows).
//
// One backward pass. The loop over a group of 16 symbols, one per lane, is unrolled; renormalisation is
// branch-free (the low word is always written, the write position advances only when it is emitted). A group
// whose symbols all use one plain row with entries (the usual case: a channel's symbols share its table) is
// range-checked in one vectorised pass, and its steps take each symbol's entry with no row look-up and a
// multiply for the quotient (SymbolCodes::quotient); other groups take the general step from the cdf and note
// escapes in a group-sized buffer, so that no call sits among the steps and the write position stays in a
// register.
template <int kFirst, int kCount, bool kOneRows>
bool encode_lanes(const int32_t* symbols, const int32_t* indexes, int64_t n, const SymbolCodes& codes,
                  const GroupEncoder* vector, LaneWords& out) {
  using Entry = SymbolCodes::Entry;
  constexpr bool kSplit = kCount != kLanes;
  // At most one word per symbol of these lanes.
  out.words.resize(size_t((n + kLanes - 1) / kLanes * kCount) + kWordSlack);
  if (kSplit) out.group_words.resize(size_t((n + kLanes - 1) / kLanes));
  uint16_t* word = out.words.data();
  uint8_t* group_words = out.group_words.data();
  const SymbolCodes::Row* rows = codes.rows.data();
  std::pair<int64_t, uint64_t> escaped[kLanes];  // this group's, last symbol first
  int escaped_count = 0;
  // A step of lane state x for a symbol of frequency freq: limit = freq << 16, complement = 2^16 - freq, and
  // quotient(x) gives floor(x / freq) of the renormalised state.
  auto code = [&](uint32_t limit, uint32_t start, uint32_t complement, auto quotient, uint32_t& x)
                  __attribute__((always_inline)) {
    const bool emit = x >= limit;
    *word = uint16_t(x & 0xFFFF);
    word += emit;
    x = emit ? x >> 16 : x;
    x += start + quotient(x) * complement;  // ((x / freq) << 16) + x % freq + start
  };
  bool ok = true;
  // The general step, from the row's cdf: an escape codes the row's last value and puts CompressAI's bypass
  // value in the escape section; a zero frequency clears ok. The quotient is a double division, pipelined on
  // every x86 core unlike the integer divider, and exact (SymbolCodes::quotient's argument, without the
  // reciprocal's rounding).
  auto step = [&](int64_t i, uint32_t& x) __attribute__((always_inline)) {
    const SymbolCodes::Row& r = rows[indexes[i]];
    int64_t value = int64_t(symbols[i]) - r.offset;
    if (uint64_t(value) >= uint64_t(r.max_value)) [[unlikely]] {
      escaped[escaped_count++] = {i, value < 0 ? uint64_t(-2 * value - 1) : uint64_t(2 * (value - r.max_value))};
      value = r.max_value;
    }
    const uint32_t start = uint32_t(r.cdf[value]), freq = uint32_t(r.cdf[value + 1]) - start;
    if (freq == 0) [[unlikely]] {
      ok = false;
      return;
    }
    code(freq << 16, start, kTotal - freq, [freq](uint32_t y) { return uint32_t(double(y) / double(freq)); }, x);
  };
  auto end_group = [&](const uint16_t* group_start) __attribute__((always_inline)) {
    if (kSplit) *group_words++ = uint8_t(word - group_start);
    if (escaped_count != 0) [[unlikely]] {
      out.escaped.insert(out.escaped.end(), escaped, escaped + escaped_count);
      escaped_count = 0;
    }
  };
  uint32_t state[kCount];
  for (auto& x : state) x = kLowerBound;
  int64_t i = n - 1;
  if (n % kLanes != 0) {  // the last, partial group first
    const uint16_t* group_start = word;
    for (; i >= 0 && (i + 1) % kLanes != 0; --i) {
      const int lane = int(i % kLanes);
      if (lane >= kFirst && lane < kFirst + kCount) step(i, state[lane - kFirst]);
    }
    end_group(group_start);
  }
  // Whether the group of lanes [kFirst, kFirst + kCount) whose symbol of lane kFirst is `first` has one row (an
  // early exit: groups of per-symbol rows mostly differ at their second symbol). Without entries (kOneRows false)
  // the loop is the general step's alone.
  auto one_row = [&](int64_t first) __attribute__((always_inline)) {
    if constexpr (!kOneRows) return false;
    int k = 1;
    while (k < kCount && indexes[first + k] == indexes[first]) ++k;
    return k == kCount;
  };
  for (; i >= 0 && ok; i -= kLanes) {
    int64_t first = i - (kLanes - 1 - kFirst);
    bool same = one_row(first);
    if constexpr (!kSplit) {
      // The vector encoder runs until a group it cannot code; one that codes one-row groups only is not called for
      // a group of several rows (it would return at once, after loading and storing the states).
      if (vector != nullptr && (same || !vector->one_row_only())) {
        uint16_t* vector_word = word;  // a copy: passing `word` by reference would keep it out of a register
        const int64_t stopped = vector->encode(symbols, indexes, i, state, vector_word);
        word = vector_word;
        if (stopped < 0) break;
        if (stopped != i) {
          i = stopped;
          first = i - (kLanes - 1 - kFirst);
          same = one_row(first);
        }
      }
    }
    const uint16_t* group_start = word;
    if (same) {
      const SymbolCodes::Row& r = rows[indexes[first]];
      uint32_t value[kCount];
      bool inside = true;
      for (int k = 0; k < kCount; ++k) {
        value[k] = uint32_t(symbols[first + k]) - uint32_t(r.offset);
        inside &= value[k] < r.plain_max;
      }
      if (inside) {
#pragma GCC unroll 16
        for (int k = kCount - 1; k >= 0; --k) {
          const Entry& e = r.entries[value[k]];
          code(e.limit, e.start, e.complement, [&e](uint32_t y) { return SymbolCodes::quotient(y, e.reciprocal); },
               state[k]);
        }
        end_group(group_start);
        continue;
      }
    }
#pragma GCC unroll 16
    for (int k = kCount - 1; k >= 0; --k) step(first + k, state[k]);
    end_group(group_start);
  }
  if (!ok) return false;
  std::copy(state, state + kCount, out.states + kFirst);
  out.words.resize(size_t(word - out.words.data()) + kWordSlack);
  return true;
}

void put_escapes(ChunkParts& out, const std::vector<std::pair<int64_t, uint64_t>>& last_first) {
  for (auto it = last_first.rbegin(); it != last_first.rend(); ++it) put_varint(out.escapes, it->second);
}

// A chunk from one pass over all its lanes.
void finish_chunk(LaneWords& all, ChunkParts& out) {
  std::copy(all.states, all.states + kLanes, out.states);
  all.words.resize(all.words.size() - kWordSlack);
  out.emitted = std::move(all.words);
  put_escapes(out, all.escaped);
}

// A chunk from two passes, lanes 8-15 (`high`) and 0-7 (`low`): within each group the encoder meets lanes 15 down
// to 0, so the stream holds each group's words of the high lanes, then those of the low lanes.
void merge_halves(const LaneWords& high, const LaneWords& low, ChunkParts& out) {
  std::copy(low.states, low.states + kLanes / 2, out.states);
  std::copy(high.states + kLanes / 2, high.states + kLanes, out.states + kLanes / 2);
  out.emitted.resize(high.words.size() + low.words.size());  // both slacks: room for the last run's overshoot
  const uint16_t* from_high = high.words.data();
  const uint16_t* from_low = low.words.data();
  uint16_t* to = out.emitted.data();
  for (size_t g = 0; g < high.group_words.size(); ++g) {  // runs of at most 8 words, copied as 8
    std::memcpy(to, from_high, 16);
    to += high.group_words[g];
    from_high += high.group_words[g];
    std::memcpy(to, from_low, 16);
    to += low.group_words[g];
    from_low += low.group_words[g];
  }
  out.emitted.resize(size_t(to - out.emitted.data()));
  std::vector<std::pair<int64_t, uint64_t>> escaped(high.escaped.size() + low.escaped.size());
  std::merge(high.escaped.begin(), high.escaped.end(), low.escaped.begin(), low.escaped.end(), escaped.begin(),
             [](const auto& a, const auto& b) { return a.first > b.first; });
  put_escapes(out, escaped);
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

GroupEncoder::GroupEncoder(const Tables& t, const SymbolCodes& codes) {
#if defined(WALLOC_X86_ISAS)
  if (!codes.entries.empty()) tables_.codes = &codes;
  if (cpu_isa() == Isa::Avx2 && tables_.codes != nullptr) {
    run_ = avx2::encode_row_groups;
    one_row_only_ = true;
  }
  if (cpu_isa() != Isa::Avx512 || t.count * t.stride >= (int64_t(1) << 31)) return;
  for (int64_t j = 0; j < t.count; ++j) {
    if (t.offsets[j] < -(1 << 30) || t.offsets[j] > (1 << 30)) return;
    tables_.row_start.push_back(int32_t(j * t.stride));
    tables_.offset.push_back(t.offsets[j]);
    tables_.escape.push_back(t.lengths[j] - 2);
  }
  tables_.cdfs = t.cdfs;
  run_ = avx512::encode_groups;
#else
  (void)t;
  (void)codes;
#endif
}

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

namespace {

// Coding a chunk's lanes in two halves costs about 5% more work (the merge): worth it where whole chunks would
// leave the threads unevenly loaded, such as one image's latents, a full chunk and an eighth of one.
constexpr int64_t kMinSplitSymbols = 8192;  // below this the threads' start-up outweighs the half saved
constexpr double kSplitImbalance = 1.15;

// 2 where each chunk's lanes are coded in two halves, else 1: when the threads, taking whole chunks in rounds,
// would finish more than kSplitImbalance times later than with the work shared evenly.
int lane_halves(int64_t n, int threads) {
  if (threads < 2 || n < kMinSplitSymbols) return 1;
  const int64_t chunks = chunk_count(n), rounds = (chunks + threads - 1) / threads;
  const int64_t last = n - (chunks - 1) * int64_t(kChunkSymbols);  // the final chunk, usually partial
  const bool last_alone = chunks - (rounds - 1) * threads == 1;    // in the last round, by itself
  const double longest = double((rounds - 1) * int64_t(kChunkSymbols) + (last_alone ? last : kChunkSymbols));
  return longest > kSplitImbalance * double(n) / threads ? 2 : 1;
}

}  // namespace

std::vector<uint8_t> encode_cpu(const int32_t* symbols, const int32_t* indexes, int64_t n, const Tables& t,
                                int threads) {
  validate(t, indexes, n);
  const int64_t chunks = chunk_count(n);
  // The vector encoder codes a chunk faster alone than two threads code its halves: whole chunks where it runs.
  const SymbolCodes codes(t, indexes, n);
  const GroupEncoder group_encoder(t, codes);
  const GroupEncoder* vector = group_encoder.empty() ? nullptr : &group_encoder;
  const int halves = vector != nullptr ? 1 : lane_halves(n, threads);
  std::vector<LaneWords> passes(static_cast<size_t>(chunks * halves));
  std::atomic<int64_t> bad_chunk{-1};
  parallel_for_with_scratch(chunks * halves, threads, [] { return NoScratch{}; }, [&](NoScratch&, int64_t item) {
    const int64_t c = item / halves, begin = c * kChunkSymbols, count = std::min<int64_t>(kChunkSymbols, n - begin);
    const int32_t* s = symbols + begin;
    const int32_t* x = indexes + begin;
    LaneWords& pass = passes[size_t(item)];
    auto encode = [&](auto one_rows) {
      constexpr bool kOneRows = decltype(one_rows)::value;
      return halves == 1          ? encode_lanes<0, kLanes, kOneRows>(s, x, count, codes, vector, pass)
             : item % halves == 0 ? encode_lanes<kLanes / 2, kLanes / 2, kOneRows>(s, x, count, codes, nullptr, pass)
                                  : encode_lanes<0, kLanes / 2, kOneRows>(s, x, count, codes, nullptr, pass);
    };
    const bool ok = codes.entries.empty() ? encode(std::false_type()) : encode(std::true_type());
    if (!ok) bad_chunk = c;
  });
  if (bad_chunk >= 0) throw_chunk_status(kZeroFrequency, bad_chunk);
  std::vector<ChunkParts> parts(static_cast<size_t>(chunks));
  for (int64_t c = 0; c < chunks; ++c) {
    if (halves == 1) {
      finish_chunk(passes[size_t(c)], parts[size_t(c)]);
    } else {
      merge_halves(passes[size_t(2 * c)], passes[size_t(2 * c + 1)], parts[size_t(c)]);
    }
  }
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
