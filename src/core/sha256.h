// SHA-256 (FIPS 180-4): reproducibility hashes of calibration sets and evaluation corpora. Small and dependency-free;
// not meant for large throughput.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace lp {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  std::array<uint8_t, 32> finish();  // the object must not be updated afterwards
  std::string finish_hex();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// Lower-case hex digest of `bytes`.
std::string sha256_hex(std::string_view bytes);

}  // namespace lp
