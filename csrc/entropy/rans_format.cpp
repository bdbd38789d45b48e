// The rANS stream format of rans.h: serialising encoded chunks and checking a stream's layout. Shared by the
// CPU and CUDA coders, so both write and accept exactly the same bytes.
#include <cstring>

#include "../common/bytes.h"
#include "rans.h"

namespace walloc {
namespace rans {

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(uint8_t(v & 0x7F) | 0x80);
    v >>= 7;
  }
  out.push_back(uint8_t(v));
}

std::vector<uint8_t> assemble(uint64_t symbols, const std::vector<ChunkParts>& chunks) {
  std::vector<uint8_t> out;
  size_t total = kHeaderBytes;
  for (const auto& c : chunks) total += 4 + kChunkHeaderBytes + 2 * c.emitted.size() + c.escapes.size();
  out.reserve(total);
  ByteWriter w(out);
  w.put_bytes(kMagic, 4);
  w.put<uint8_t>(kVersion);
  w.put<uint8_t>(kLanesLog2);
  w.put<uint8_t>(kPrecision);
  w.put<uint8_t>(0);
  w.put<uint32_t>(kChunkSymbols);
  w.put<uint64_t>(symbols);
  w.put<uint32_t>(uint32_t(chunks.size()));
  for (const auto& c : chunks) w.put<uint32_t>(uint32_t(kChunkHeaderBytes + 2 * c.emitted.size() + c.escapes.size()));
  for (const auto& c : chunks) {
    w.put<uint32_t>(uint32_t(c.emitted.size()));
    w.put<uint32_t>(uint32_t(c.escapes.size()));
    for (uint32_t s : c.states) w.put<uint32_t>(s);
    // The decoder reads words in the reverse of the order the encoder emitted them.
    w.put_reversed(c.emitted.data(), c.emitted.size());
    w.put_bytes(c.escapes.data(), c.escapes.size());
  }
  return out;
}

void throw_chunk_status(Status s, int64_t chunk) {
  const std::string where = " (chunk " + std::to_string(chunk) + ")";
  if (s == kZeroFrequency) throw std::invalid_argument(std::string("rANS: ") + status_message(s) + where);
  throw BitstreamError(status_message(s) + where);
}

StreamLayout parse_layout(const uint8_t* data, size_t size) {
  ByteReader<BitstreamError> r(data, size);
  const uint8_t* magic = r.take(4, "magic");
  if (std::memcmp(magic, kMagic, 4) != 0) throw BitstreamError("not a walloc rANS stream (bad magic)");
  if (r.get<uint8_t>("version") != kVersion) throw BitstreamError("unsupported rANS stream version");
  if (r.get<uint8_t>("lanes") != kLanesLog2 || r.get<uint8_t>("precision") != kPrecision ||
      r.get<uint8_t>("reserved") != 0) {
    throw BitstreamError("unsupported rANS stream parameters");
  }
  if (r.get<uint32_t>("chunk size") != kChunkSymbols) throw BitstreamError("unsupported rANS chunk size");
  StreamLayout layout;
  layout.symbols = r.get<uint64_t>("symbol count");
  const uint32_t chunks = r.get<uint32_t>("chunk count");
  if (layout.symbols > uint64_t(INT64_MAX) || uint64_t(chunks) != (layout.symbols + kChunkSymbols - 1) / kChunkSymbols) {
    throw BitstreamError("corrupt stream: chunk count does not match the symbol count");
  }
  // Every chunk needs its header: this bounds the symbol count by the stream length before anyone allocates.
  r.need(size_t(chunks) * (4 + kChunkHeaderBytes), "chunk directory and chunk headers");
  layout.offsets.assign(size_t(chunks) + 1, 0);
  for (uint32_t c = 0; c < chunks; ++c) {
    const uint32_t bytes = r.get<uint32_t>("chunk size");
    if (bytes < kChunkHeaderBytes) throw BitstreamError("corrupt stream: chunk shorter than its header");
    layout.offsets[c + 1] = layout.offsets[c] + bytes;
  }
  if (layout.offsets[chunks] != r.remaining()) {
    throw BitstreamError(layout.offsets[chunks] < r.remaining() ? "trailing bytes after the rANS stream"
                                                                : "truncated rANS stream: chunks extend past the end");
  }
  layout.body = r.position();
  return layout;
}

StreamLayout parse_layout(const uint8_t* data, size_t size, int64_t n) {
  StreamLayout layout = parse_layout(data, size);
  if (layout.symbols != uint64_t(n)) {
    throw BitstreamError("rANS stream holds " + std::to_string(layout.symbols) + " symbols, but " +
                         std::to_string(n) + " indexes were given");
  }
  return layout;
}

}  // namespace rans
}  // namespace walloc
