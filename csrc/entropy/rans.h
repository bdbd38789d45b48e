// Chunked, lane-interleaved rANS with 16-bit quantized CDFs and escape coding (CompressAI's meaning of
// symbols, indexes, cdfs, cdf_lengths and offsets).
//
// Stream format (little-endian), version 1:
//   header  magic 8A 57 52 53 ("\x8aWRS") | u8 version | u8 log2(lanes) | u8 precision | u8 0
//           | u32 chunk_symbols | u64 symbols | u32 chunks | u32 chunk_bytes[chunks]
//   chunk   u32 words | u32 escape_bytes | u32 final_state[lanes] | u16 word[words] | u8 escape[escape_bytes]
// Symbol i of a chunk belongs to lane i % lanes (16 lanes). The encoder runs backwards with one 32-bit state per lane
// (lower bound 2^16, 16-bit renormalisation words) and its final states open the chunk; the decoder runs
// forwards, lanes in order, reading words from one shared stream. Escaped values (outside a table's range)
// are coded as the table's last symbol plus a LEB128 varint of CompressAI's bypass value in the escape
// section, in symbol order. The chunk layout depends on the symbol count alone, never on threads or device.
// Integrity: a decoder must end with every lane state at 2^16 and every word and escape byte consumed.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace walloc {

// Malformed, truncated or corrupted streams (Python: walloc.BitstreamError, a ValueError).
class BitstreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace rans {

constexpr int kPrecision = 16;
constexpr uint32_t kTotal = 1u << kPrecision;
constexpr uint32_t kLowerBound = 1u << 16;
constexpr int kLanesLog2 = 4;
constexpr int kLanes = 1 << kLanesLog2;
constexpr uint32_t kChunkSymbols = 1u << 16;
constexpr uint8_t kVersion = 1;
constexpr uint8_t kMagic[4] = {0x8A, 'W', 'R', 'S'};
constexpr size_t kHeaderBytes = 4 + 4 + 4 + 8 + 4;
constexpr size_t kChunkHeaderBytes = 8 + 4 * kLanes;
constexpr int kMaxEscapeBytes = 5;  // LEB128 of a 32-bit value

// What coding one chunk can end in, on the CPU and the GPU alike (the CUDA kernels report these codes per chunk),
// so a stream rejected on one device is rejected in the same words on the other.
enum Status : int32_t {
  kOk = 0,
  kZeroFrequency,   // encoder: a symbol has zero probability in its row
  kBadChunkSizes,   // decoder, in the order it checks
  kBadState,
  kWordOverrun,
  kEscapeOverrun,
  kEscapeTooLong,
  kSymbolOverflow,
  kNotAtStart,
  kUnreadData,
};

inline const char* status_message(Status s) {
  switch (s) {
    case kOk: return "ok";
    case kZeroFrequency: return "a symbol has zero probability in its cdf";
    case kBadChunkSizes: return "corrupt stream: chunk sizes do not add up to the chunk length";
    case kBadState: return "corrupt stream: a lane state is below the rANS lower bound";
    case kWordOverrun: return "corrupt stream: a lane reads past the chunk's words";
    case kEscapeOverrun: return "corrupt stream: escape section ends inside a value";
    case kEscapeTooLong: return "corrupt stream: escape value longer than 5 bytes";
    case kSymbolOverflow: return "corrupt stream: escaped symbol overflows";
    case kNotAtStart: return "corrupt stream: lane states do not return to their start";
    case kUnreadData: return "corrupt stream: unread words or escape bytes remain";
  }
  return "corrupt stream";
}

// The exception for a chunk's failure: std::invalid_argument for the encoder's input (kZeroFrequency),
// BitstreamError for a stream; both name the chunk.
[[noreturn]] void throw_chunk_status(Status s, int64_t chunk);

// The tables: cdfs is (count, stride) row-major, row j valid for lengths[j] entries; offsets[j] is subtracted
// from symbols before coding with row j, as in CompressAI.
struct Tables {
  const int32_t* cdfs;
  int64_t count;
  int64_t stride;
  const int32_t* lengths;
  const int32_t* offsets;
};

// Checks every row (lengths in [3, stride], cdf[0] == 0, non-decreasing, cdf[length - 1] == 2^16) and that
// every index is a valid row. Throws std::invalid_argument.
void validate(const Tables& tables, const int32_t* indexes, int64_t n);

// One encoded chunk before serialisation: final lane states, words in the order the encoder emitted them
// (the stream stores them reversed, in decoding order) and escape bytes in symbol order.
struct ChunkParts {
  uint32_t states[kLanes];
  std::vector<uint16_t> emitted;
  std::vector<uint8_t> escapes;
};

// Header, chunk directory and chunks: the one serialiser of the format, used by the CPU and CUDA encoders.
std::vector<uint8_t> assemble(uint64_t symbols, const std::vector<ChunkParts>& chunks);

// LEB128, as escape values are stored.
void put_varint(std::vector<uint8_t>& out, uint64_t v);

// The header and chunk directory of a stream, checked against its length (so `symbols` is bounded by it).
struct StreamLayout {
  uint64_t symbols = 0;
  std::vector<size_t> offsets;  // chunk c spans [offsets[c], offsets[c + 1]) of body
  const uint8_t* body = nullptr;
};
StreamLayout parse_layout(const uint8_t* data, size_t size);
// parse_layout() of a stream that must hold exactly n symbols (one per index given).
StreamLayout parse_layout(const uint8_t* data, size_t size, int64_t n);

std::vector<uint8_t> encode_cpu(const int32_t* symbols, const int32_t* indexes, int64_t n, const Tables& tables,
                                int threads);

// Decodes into out[0..n). Throws BitstreamError for anything but a stream this encoder made for these tables.
void decode_cpu(const uint8_t* data, size_t size, const int32_t* indexes, int64_t n, const Tables& tables,
                int32_t* out, int threads);

#ifdef WALLOC_WITH_CUDA
// The same coder on the GPU: symbols, indexes, tables and out are device pointers (tables already validated),
// data is host memory; `stream` is a cudaStream_t. Bytes are identical to encode_cpu's.
std::vector<uint8_t> encode_cuda(const int32_t* symbols, const int32_t* indexes, int64_t n, const Tables& tables,
                                 void* stream);
void decode_cuda(const uint8_t* data, size_t size, const int32_t* indexes, int64_t n, const Tables& tables,
                 int32_t* out, void* stream);
#endif

}  // namespace rans
}  // namespace walloc
