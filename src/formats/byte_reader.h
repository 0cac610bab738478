// Bounds-checked little-endian cursor over untrusted bytes. Every read names the file and the
// field being read, so a truncated or corrupt file gives a one-line error instead of a crash.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lp::formats {

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return bytes_.size(); }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  const std::string& name() const { return name_; }

  void need(uint64_t n, std::string_view field) const {
    if (n > remaining())
      fail("{}: truncated at offset {} reading {} (need {} bytes, {} left)", name_, pos_, field, n, remaining());
  }
  template <typename T>
  T read(std::string_view field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  const uint8_t* take(uint64_t n, std::string_view field) {
    need(n, field);
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::string read_string(std::string_view field) {
    const uint64_t n = read<uint64_t>(field);
    const uint8_t* p = take(n, field);
    return std::string(reinterpret_cast<const char*>(p), n);
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

}  // namespace lp::formats
