#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace lp::engine {

int32_t Sampler::sample(const float* logits, int n_vocab, std::span<const int32_t> history) {
  work_.assign(logits, logits + n_vocab);

  // Penalties over the recent window.
  const bool penalize = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  if (penalize && p_.repeat_last_n != 0) {
    const size_t n = p_.repeat_last_n < 0 ? history.size() : std::min(history.size(), static_cast<size_t>(p_.repeat_last_n));
    std::unordered_map<int32_t, int> counts;
    for (size_t i = history.size() - n; i < history.size(); ++i) ++counts[history[i]];
    for (const auto& [id, count] : counts) {
      if (id < 0 || id >= n_vocab) continue;
      float& l = work_[id];
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= static_cast<float>(count) * p_.frequency_penalty + p_.presence_penalty;
    }
  }

  if (p_.temperature <= 0.0f) return static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());

  cand_.resize(n_vocab);
  for (int i = 0; i < n_vocab; ++i) cand_[i] = {i, work_[i]};
  auto by_logit = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
  size_t keep = cand_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < keep) {
    keep = p_.top_k;
    std::partial_sort(cand_.begin(), cand_.begin() + keep, cand_.end(), by_logit);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  cand_.resize(keep);

  // Softmax over the survivors (at temperature 1, as llama.cpp's top-p/min-p see them).
  auto probs = [&](float temp) {
    std::vector<double> p(cand_.size());
    double sum = 0;
    for (size_t i = 0; i < cand_.size(); ++i) sum += p[i] = std::exp((cand_[i].logit - cand_[0].logit) / temp);
    for (double& v : p) v /= sum;
    return p;
  };
  if (p_.top_p < 1.0f) {
    const auto p = probs(1.0f);
    double cum = 0;
    size_t k = 0;
    while (k < p.size()) {
      cum += p[k++];
      if (cum >= p_.top_p) break;
    }
    cand_.resize(std::max<size_t>(1, k));
  }
  if (p_.min_p > 0.0f) {
    const float cutoff = cand_[0].logit + std::log(p_.min_p);  // p_i >= min_p * p_max
    size_t k = 1;
    while (k < cand_.size() && cand_[k].logit >= cutoff) ++k;
    cand_.resize(k);
  }
  const auto p = probs(p_.temperature);
  std::discrete_distribution<size_t> dist(p.begin(), p.end());
  return cand_[dist(rng_)].id;
}

}  // namespace lp::engine
