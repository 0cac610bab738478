// Deterministic random numbers for synthetic weights: identical bits on every machine and compiler.
// SplitMix64 for bits, Marsaglia's polar method for normals with a log written in plain IEEE arithmetic
// (libm's log may differ in the last ulp between platforms; +,-,*,/ and sqrt are correctly rounded).
#pragma once
#include <cstdint>
#include <string_view>

#include "core/random.h"

namespace lp::testgen {

using lp::mix64;
using lp::SplitMix64;  // core/random.h: the project's one seeded generator

// FNV-1a, used to give every tensor its own stream from the tensor name.
inline uint64_t hash_name(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

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
