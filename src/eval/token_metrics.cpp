#include "eval/token_metrics.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lp::eval {

namespace {

struct RowStats {
  float max = 0;
  int top = 0;
  double log_sum_exp = 0;  // log sum exp(x - max)
};

RowStats row_stats(std::span<const float> row) {
  RowStats s;
  s.max = row[0];
  for (size_t i = 1; i < row.size(); ++i)
    if (row[i] > s.max) {
      s.max = row[i];
      s.top = static_cast<int>(i);
    }
  double sum = 0;
  for (float v : row) sum += std::exp(static_cast<double>(v) - s.max);
  s.log_sum_exp = std::log(sum);
  return s;
}

}  // namespace

LogProbRow log_softmax_inplace(std::span<float> row) {
  LP_CHECK(!row.empty(), "log_softmax: empty logits row");
  const RowStats s = row_stats(row);
  for (float& v : row) v = static_cast<float>(static_cast<double>(v) - s.max - s.log_sum_exp);
  return {s.top};
}

double nll_from_logits(std::span<const float> logits, int32_t id) {
  LP_CHECK(id >= 0 && static_cast<size_t>(id) < logits.size(), "token id {} outside the vocabulary of {}", id, logits.size());
  const RowStats s = row_stats(logits);
  return s.max + s.log_sum_exp - logits[id];
}

TokenComparison compare_token(std::span<const float> ref_logprobs, int ref_top, std::span<const float> quant_logits,
                              int32_t next_token) {
  LP_CHECK(ref_logprobs.size() == quant_logits.size(), "vocabulary sizes differ: reference {} vs quantized {}", ref_logprobs.size(), quant_logits.size());
  LP_CHECK(next_token >= 0 && static_cast<size_t>(next_token) < quant_logits.size(), "token id {} outside the vocabulary", next_token);
  const RowStats q = row_stats(quant_logits);
  const double q_norm = q.max + q.log_sum_exp;  // log p_quant(i) = logit(i) - q_norm
  double kld = 0;
  for (size_t i = 0; i < ref_logprobs.size(); ++i) {
    const double lp = ref_logprobs[i];
    kld += std::exp(lp) * (lp - (static_cast<double>(quant_logits[i]) - q_norm));
  }
  TokenComparison t;
  t.nll_quant = q_norm - quant_logits[next_token];
  t.kld = std::max(0.0, kld);  // exact KL is >= 0; rounding can leave -1e-12
  t.same_top1 = q.top == ref_top;
  t.dp_top = std::fabs(std::exp(static_cast<double>(quant_logits[ref_top]) - q_norm) - std::exp(static_cast<double>(ref_logprobs[ref_top])));
  return t;
}

double percentile_sorted(std::span<const float> sorted, double fraction) {
  if (sorted.empty()) return 0;
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  const double pos = fraction * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double w = pos - static_cast<double>(i);
  const size_t j = std::min(i + 1, sorted.size() - 1);
  return (1 - w) * sorted[i] + w * sorted[j];
}

double median_sorted(std::span<const float> sorted) {
  const size_t n = sorted.size();
  if (n == 0) return 0;
  return n % 2 ? sorted[n / 2] : 0.5 * (static_cast<double>(sorted[n / 2 - 1]) + sorted[n / 2]);
}

double PerplexityAccumulator::perplexity() const { return count ? std::exp(sum_nll / static_cast<double>(count)) : 0; }

double PerplexityAccumulator::perplexity_error() const {
  if (count < 2) return 0;
  const double n = static_cast<double>(count), mean = sum_nll / n;
  const double var = std::max(0.0, sum_nll2 / n - mean * mean);
  return perplexity() * std::sqrt(var / (n - 1));
}

void ComparisonAccumulator::add(const TokenComparison& t) {
  ppl_.add(t.nll_quant);
  kld_.push_back(static_cast<float>(t.kld));
  sum_kld_ += t.kld;
  sum_dp_ += t.dp_top;
  same_ += t.same_top1 ? 1 : 0;
}

void ComparisonAccumulator::add(const TokenComparison& t, double nll_ref) {
  add(t);
  const double d = t.nll_quant - nll_ref;
  sum_d_ += d;
  sum_d2_ += d * d;
  ++paired_;
}

ComparisonSummary ComparisonAccumulator::summary() const {
  ComparisonSummary s;
  s.tokens = kld_.size();
  if (kld_.empty()) return s;
  const double n = static_cast<double>(kld_.size());
  s.perplexity = ppl_.perplexity();
  s.perplexity_error = ppl_.perplexity_error();
  s.kld_mean = sum_kld_ / n;
  std::vector<float> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  s.kld_median = median_sorted(sorted);
  s.kld_p99 = percentile_sorted(sorted, 0.99);
  s.kld_max = sorted.back();
  s.same_top1 = static_cast<double>(same_) / n;
  s.dp_top_mean = sum_dp_ / n;
  if (paired_ == kld_.size() && paired_ > 1) {
    const double m = static_cast<double>(paired_);
    s.paired = true;
    s.ln_ppl_ratio = sum_d_ / m;
    const double var = std::max(0.0, (sum_d2_ / m - s.ln_ppl_ratio * s.ln_ppl_ratio) * m / (m - 1));
    s.ln_ppl_ratio_error = std::sqrt(var / m);
  }
  return s;
}

}  // namespace lp::eval
