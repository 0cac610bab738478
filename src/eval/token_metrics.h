// Per-token comparison of a quantized model's next-token distribution against the reference's, and the
// running statistics over a corpus. Definitions follow llama.cpp's llama-perplexity --kl-divergence:
// KLD(ref || quant) = sum_i p_ref(i) * (log p_ref(i) - log p_quant(i)); "same top-1" compares argmaxes;
// perplexity = exp(mean negative log-likelihood of the actual next token).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lp::eval {

// One logits row turned into log-probabilities (in place), with the row's argmax.
struct LogProbRow {
  int top = 0;  // argmax
};
LogProbRow log_softmax_inplace(std::span<float> row);

// Negative log-likelihood of token `id` under a logits row (log-softmax computed in double).
double nll_from_logits(std::span<const float> logits, int32_t id);

struct TokenComparison {
  double nll_quant = 0;    // -log p_quant(next token)
  double kld = 0;          // KL(ref || quant), nats
  bool same_top1 = false;  // argmax equal
  double dp_top = 0;       // |p_quant(t*) - p_ref(t*)| for the reference's top token t*
};

// ref_logprobs: the reference row after log_softmax_inplace (ref_top its argmax); quant_logits: raw logits.
TokenComparison compare_token(std::span<const float> ref_logprobs, int ref_top, std::span<const float> quant_logits,
                              int32_t next_token);

// Linear interpolation between order statistics at fraction*(n-1) (numpy's default; llama-perplexity's too).
double percentile_sorted(std::span<const float> sorted, double fraction);
double median_sorted(std::span<const float> sorted);

struct PerplexityAccumulator {
  double sum_nll = 0, sum_nll2 = 0;
  size_t count = 0;
  void add(double nll) {
    sum_nll += nll;
    sum_nll2 += nll * nll;
    ++count;
  }
  double perplexity() const;
  double perplexity_error() const;  // one standard error, as llama-perplexity prints it
};

struct ComparisonSummary {
  size_t tokens = 0;
  double perplexity = 0, perplexity_error = 0;
  double kld_mean = 0, kld_median = 0, kld_p99 = 0, kld_max = 0;
  double same_top1 = 0;    // fraction
  double dp_top_mean = 0;  // fraction (probability units)
  // Paired per-token differences d = nll_quant - nll_ref (when the reference NLL was given): mean(d) is
  // ln(PPL_q / PPL_ref) and its standard error is sd(d)/sqrt(n), as llama-perplexity reports
  // "Mean ln(PPL(Q)/PPL(base))". Much tighter than the two perplexities' own errors (they share the text).
  bool paired = false;
  double ln_ppl_ratio = 0, ln_ppl_ratio_error = 0;
};

class ComparisonAccumulator {
 public:
  void add(const TokenComparison& t);
  void add(const TokenComparison& t, double nll_ref);  // also accumulates the paired NLL difference
  ComparisonSummary summary() const;
  size_t count() const { return kld_.size(); }

 private:
  PerplexityAccumulator ppl_;
  std::vector<float> kld_;  // one value per scored token: 4 bytes x corpus tokens
  double sum_kld_ = 0, sum_dp_ = 0;
  size_t same_ = 0;
  double sum_d_ = 0, sum_d2_ = 0;
  size_t paired_ = 0;
};

}  // namespace lp::eval
