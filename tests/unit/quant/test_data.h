// Deterministic test inputs (pure integer/float arithmetic, identical on every platform and libm).
#pragma once
#include <cstdint>
#include <vector>

namespace lp::quant::testing {

// xorshift64* stream of uniform floats in [-1, 1).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  float uniform() { return static_cast<float>(next() >> 40) / 8388608.0f - 1.0f; }  // 24 bits
  // Irwin-Hall approximation of N(0, 1): sum of 12 uniforms on [0,1) minus 6.
  float gaussian() {
    float s = 0;
    for (int i = 0; i < 12; ++i) s += 0.5f * (uniform() + 1.0f);
    return s - 6.0f;
  }

 private:
  uint64_t s_;
};

inline std::vector<float> gaussian_matrix(int64_t rows, int64_t cols, uint64_t seed, float sigma = 0.02f) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(rows * cols));
  for (auto& x : v) x = rng.gaussian() * sigma;
  return v;
}

// Importance vector with a few dominant columns (log-normal-ish spread over ~4 orders of magnitude).
inline std::vector<float> skewed_importance(int64_t cols, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(cols));
  for (auto& x : v) {
    const float u = rng.uniform();
    x = u > 0.9f ? 1000.0f * (1.5f + u) : 0.1f + 0.5f * (u + 1.0f);
  }
  return v;
}

// 64-bit FNV-1a over bytes.
inline uint64_t fnv1a64(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace lp::quant::testing
