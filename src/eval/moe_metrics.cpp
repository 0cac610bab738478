#include "eval/moe_metrics.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lp::eval {

void ChunkRouting::add(const engine::RoutingEvent& e) {
  LP_CHECK(e.n_expert > 0 && e.k > 0 && e.k <= e.n_expert && e.n_tokens >= 0, "routing event of layer {}: {} experts, k {}", e.layer, e.n_expert, e.k);
  Layer& l = layers[e.layer];
  if (l.k == 0) {
    l.n_expert = e.n_expert;
    l.k = e.k;
  }
  LP_CHECK(l.n_expert == e.n_expert && l.k == e.k, "routing of layer {} changed from {} experts top-{} to {} top-{}", e.layer, l.n_expert, l.k,
           e.n_expert, e.k);
  const size_t n = static_cast<size_t>(e.n_tokens) * static_cast<size_t>(e.k);
  for (size_t i = 0; i < n; ++i)
    LP_CHECK(e.selected[i] >= 0 && e.selected[i] < e.n_expert, "routing of layer {}: expert id {} outside 0..{}", e.layer, e.selected[i], e.n_expert - 1);
  l.selected.insert(l.selected.end(), e.selected, e.selected + n);
}

double pearson(std::span<const double> a, std::span<const double> b) {
  if (a.empty() || a.size() != b.size()) return 0;
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa == 0 || sbb == 0) return std::equal(a.begin(), a.end(), b.begin()) ? 1.0 : 0.0;
  return sab / std::sqrt(saa * sbb);
}

void MoeAccumulator::add(const ChunkRouting& reference, const ChunkRouting& quantized) {
  LP_CHECK(reference.layers.size() == quantized.layers.size(), "routing: the original reported {} MoE layers, the quantized model {}",
           reference.layers.size(), quantized.layers.size());
  for (const auto& [index, ref] : reference.layers) {
    const auto it = quantized.layers.find(index);
    LP_CHECK(it != quantized.layers.end(), "routing: the quantized model reported no routing for MoE layer {}", index);
    const ChunkRouting::Layer& q = it->second;
    LP_CHECK(q.n_expert == ref.n_expert && q.k == ref.k && q.selected.size() == ref.selected.size(),
             "routing of layer {}: original {} experts top-{} over {} tokens, quantized {} top-{} over {}", index, ref.n_expert, ref.k,
             ref.n_tokens(), q.n_expert, q.k, q.n_tokens());
    LayerState& s = layers_[index];
    if (s.n_expert == 0) {
      s.n_expert = ref.n_expert;
      s.ref_counts.assign(ref.n_expert, 0);
      s.quant_counts.assign(ref.n_expert, 0);
    }
    LP_CHECK(s.n_expert == ref.n_expert, "routing of layer {}: expert count changed between chunks", index);
    const size_t k = static_cast<size_t>(ref.k);
    std::vector<int32_t> a(k), b(k);
    for (size_t t = 0; t < ref.n_tokens(); ++t) {
      std::copy_n(ref.selected.begin() + t * k, k, a.begin());
      std::copy_n(q.selected.begin() + t * k, k, b.begin());
      for (size_t j = 0; j < k; ++j) {
        ++s.ref_counts[a[j]];
        ++s.quant_counts[b[j]];
      }
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      s.same += a == b ? 1 : 0;
      ++s.total;
    }
  }
}

std::optional<MoeSummary> MoeAccumulator::summary() const {
  if (layers_.empty()) return std::nullopt;
  MoeSummary m;
  std::vector<double> all_ref, all_quant;
  uint64_t same = 0;
  for (const auto& [index, s] : layers_) {
    const std::vector<double> ref(s.ref_counts.begin(), s.ref_counts.end()), quant(s.quant_counts.begin(), s.quant_counts.end());
    MoeLayerSummary l;
    l.layer = index;
    l.n_expert = s.n_expert;
    l.correlation = pearson(ref, quant);
    l.topk_agreement = s.total ? static_cast<double>(s.same) / static_cast<double>(s.total) : 1.0;
    l.never_original = static_cast<int>(std::count(s.ref_counts.begin(), s.ref_counts.end(), 0u));
    l.never_quantized = static_cast<int>(std::count(s.quant_counts.begin(), s.quant_counts.end(), 0u));
    m.never_original += l.never_original;
    m.never_quantized += l.never_quantized;
    m.total_experts += s.n_expert;
    m.decisions += s.total;
    same += s.same;
    all_ref.insert(all_ref.end(), ref.begin(), ref.end());
    all_quant.insert(all_quant.end(), quant.begin(), quant.end());
    m.layers.push_back(l);
  }
  m.correlation = pearson(all_ref, all_quant);
  m.topk_agreement = m.decisions ? static_cast<double>(same) / static_cast<double>(m.decisions) : 1.0;
  return m;
}

}  // namespace lp::eval
