// Deterministic random numbers for synthetic weights: identical bits on every machine and compiler.
// SplitMix64 for bits, Marsaglia's polar method for normals with a log written in plain IEEE arithmetic
// (libm's log may differ in the last ulp between platforms; +,-,*,/ and sqrt are correctly rounded).
#pragma once
#include <cstdint>
#include <string_view>

namespace lp::testgen {

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// FNV-1a, used to give every tensor its own stream from the tensor name.
inline uint64_t hash_name(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_ += 0x9E3779B97F4A7C15ull); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  uint64_t state_;
};

// Natural log for x > 0 using frexp and the atanh series (error below 1e-15 relative).
double portable_log(double x);

// Standard normal samples (pairs from the polar method; the second one is cached).
class NormalSampler {
 public:
  explicit NormalSampler(uint64_t seed) : rng_(seed) {}
  double next();

 private:
  SplitMix64 rng_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace lp::testgen
