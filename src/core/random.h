// The project's one seeded random generator: SplitMix64, identical sequences on every platform, compiler and
// standard library (std::mt19937 is portable too, but its distributions are not). Used wherever a seed must
// reproduce a result: synthetic test checkpoints (testgen), calibration set shuffles and expert balancing (calib).
#pragma once
#include <cstdint>

namespace lp {

// SplitMix64's output function: a strong 64-bit mix (also used to derive per-stream seeds).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_ += 0x9E3779B97F4A7C15ull); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  // Uniform in [0, n) by rejection (unbiased, independent of any library's distributions); n > 0.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }

 private:
  uint64_t state_;
};

}  // namespace lp
