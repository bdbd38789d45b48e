#include "rans_cpu_tables.h"

#include <algorithm>
#include <cstring>

namespace walloc {
namespace rans {

std::vector<uint8_t> rows_in_use(const Tables& t, const int32_t* indexes, int64_t n) {
  std::vector<uint8_t> used(size_t(t.count), 0);
  for (int64_t i = 0; i < n; ++i) used[size_t(indexes[i])] = 1;
  return used;
}

namespace {

// 1 / freq rounded to nearest, then one double up: in [1 / freq, (1 + 2^-51) / freq].
double reciprocal_above(uint32_t freq) {
  const double r = 1.0 / double(freq);
  uint64_t bits;
  std::memcpy(&bits, &r, sizeof bits);
  ++bits;  // positive and finite: the next double up
  double above;
  std::memcpy(&above, &bits, sizeof bits);
  return above;
}

}  // namespace

SymbolCodes::SymbolCodes(const Tables& t, const int32_t* indexes, int64_t n) : rows(size_t(t.count)) {
  for (int64_t j = 0; j < t.count; ++j) {
    rows[size_t(j)] = Row{t.cdfs + j * t.stride, t.offsets[j], t.lengths[j] - 2, nullptr, 0};
  }
  int64_t size = 0;
  for (const Row& r : rows) size += r.max_value + 1;
  if (size > n / 4) return;  // more than 4 entries per group, even were every group of one row
  // Chunks hold whole groups, so groups start at multiples of kLanes.
  static_assert(kChunkSymbols % kLanes == 0, "whole groups per chunk");
  int64_t one_row_groups = 0;
  for (int64_t g = 0; g + kLanes <= n && 4 * one_row_groups < size; g += kLanes) {
    int k = 1;
    while (k < kLanes && indexes[g + k] == indexes[g]) ++k;
    one_row_groups += k == kLanes;
  }
  if (4 * one_row_groups < size) return;
  entries.reserve(size_t(size));  // no reallocation: rows point into it
  for (Row& r : rows) {
    r.entries = entries.data() + entries.size();
    bool plain = r.offset >= -(1 << 30) && r.offset <= (1 << 30) && r.max_value < (1 << 28);
    for (int32_t v = 0; v <= r.max_value; ++v) {
      const uint32_t freq = uint32_t(r.cdf[v + 1] - r.cdf[v]);
      plain &= freq != 0;
      // A zero frequency is never coded from an entry: its row is not plain.
      entries.push_back(freq == 0 ? Entry{0.0, 0, 0, 0}
                                  : Entry{reciprocal_above(freq), freq << 16, uint16_t(r.cdf[v]),
                                          uint16_t(kTotal - freq)});
    }
    if (plain) r.plain_max = uint32_t(r.max_value);
  }
}

namespace {

// log2 of a row's bucket count: `extra` more than its symbols need, at most 12.
int bucket_bits(uint32_t symbols, int extra) {
  int bits = extra;
  while (bits < 12 && (1u << (bits - extra)) < symbols) ++bits;
  return bits;
}

}  // namespace

SymbolLookup::SymbolLookup(const Tables& t, const std::vector<uint8_t>& used, int64_t n)
    : rows(size_t(t.count), Row{nullptr, 0, 16, 0, 0}) {
  // Up to 8 buckets per symbol of a row make the scan after the look-up rare, but building them costs: as many
  // as the tables of the rows in use allow while the buckets number at most a quarter of the symbols to decode
  // (and at least 2 per symbol).
  auto total = [&](int extra) {
    size_t size = 0;
    for (int64_t j = 0; j < t.count; ++j) {
      if (used[size_t(j)]) size += size_t(1) << bucket_bits(uint32_t(t.lengths[j] - 1), extra);
    }
    return size;
  };
  int extra = 3;
  while (extra > 1 && total(extra) > size_t(n / 4)) --extra;
  size_t size = 0;
  for (int64_t j = 0; j < t.count; ++j) {
    if (!used[size_t(j)]) continue;
    const int bits = bucket_bits(uint32_t(t.lengths[j] - 1), extra);
    rows[size_t(j)] = Row{t.cdfs + j * t.stride, uint32_t(size), uint32_t(kPrecision - bits), t.lengths[j] - 2,
                          t.offsets[j]};
    size += size_t(1) << bits;
  }
  buckets.resize(size);
  for (const Row& r : rows) {
    if (r.cdf == nullptr) continue;  // not in use
    // Symbol v owns the buckets whose first slot lies in [cdf[v], cdf[v + 1]): a fill per symbol.
    const uint32_t round = (1u << r.shift) - 1;
    for (int32_t v = 0; v <= r.max_value; ++v) {
      const uint32_t begin = (uint32_t(r.cdf[v]) + round) >> r.shift;
      const uint32_t end = (uint32_t(r.cdf[v + 1]) + round) >> r.shift;
      std::fill(buckets.begin() + r.first + begin, buckets.begin() + r.first + end,
                Bucket{uint16_t(v), uint16_t(r.cdf[v + 1] - 1)});
    }
  }
}

}  // namespace rans
}  // namespace walloc
