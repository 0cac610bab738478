// Token sampling in llama.cpp's default order: penalties (repetition, presence, frequency over the last
// N tokens) -> top-k -> top-p -> min-p -> temperature -> draw. temperature <= 0 is greedy (argmax after
// penalties). Deterministic for a given seed.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace lp::engine {

struct SamplerParams {
  float temperature = 0.8f;
  int top_k = 40;          // <= 0: off
  float top_p = 0.95f;     // >= 1: off
  float min_p = 0.05f;     // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off (llama.cpp: logit/p if > 0 else logit*p)
  int repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p) : p_(p), rng_(p.seed) {}
  // history: tokens so far (prompt + generated); only the last repeat_last_n count for penalties.
  int32_t sample(const float* logits, int n_vocab, std::span<const int32_t> history);
  const SamplerParams& params() const { return p_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  SamplerParams p_;
  std::mt19937_64 rng_;
  std::vector<Candidate> cand_;
  std::vector<float> work_;
};

}  // namespace lp::engine
