// Little-endian byte writing and bounds-checked reading for bitstreams.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace walloc {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  template <typename T>
  void put(T value) {
    for (size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<uint8_t>(uint64_t(value) >> (8 * i)));
  }
  void put_bytes(const uint8_t* p, size_t n) { out_.insert(out_.end(), p, p + n); }

  // values[n - 1], ..., values[0], each little-endian: one resize and a loop the compiler vectorizes.
  void put_reversed(const uint16_t* values, size_t n) {
    const size_t at = out_.size();
    out_.resize(at + 2 * n);
    uint8_t* p = out_.data() + at;
    for (size_t i = 0; i < n; ++i) {
      const uint16_t v = values[n - 1 - i];
      p[2 * i] = static_cast<uint8_t>(v);
      p[2 * i + 1] = static_cast<uint8_t>(v >> 8);
    }
  }

 private:
  std::vector<uint8_t>& out_;
};

// Every read checks the remaining length first and throws Error (naming `what`) instead of reading past it.
template <typename Error>
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* position() const { return p_; }

  void need(size_t n, const char* what) const {
    if (remaining() < n) {
      throw Error(std::string("truncated stream: ") + what + " needs " + std::to_string(n) + " bytes, " +
                  std::to_string(remaining()) + " left");
    }
  }

  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t(p_[i]) << (8 * i);
    p_ += sizeof(T);
    return static_cast<T>(v);
  }

  const uint8_t* take(size_t n, const char* what) {
    need(n, what);
    const uint8_t* start = p_;
    p_ += n;
    return start;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace walloc
