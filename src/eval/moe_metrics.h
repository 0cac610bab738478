// MoE validation metrics from the engine's routing observer (engine::RoutingEvent): how far quantization
// moved the routers. Per MoE layer and overall:
//   - expert activation correlation: Pearson correlation between the original's and the quantized model's
//     per-expert selection counts over the corpus (overall: over every (layer, expert) count);
//   - router top-k agreement: share of (token, layer) decisions whose selected expert SET is identical
//     (order and mixing weights ignored);
//   - experts never activated: experts with zero selections over the corpus, original and quantized.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "engine/observers.h"

namespace lp::eval {

// The routing decisions of one forward pass, per MoE layer, in token order.
struct ChunkRouting {
  struct Layer {
    int n_expert = 0, k = 0;
    std::vector<int32_t> selected;  // n_tokens * k expert ids
    size_t n_tokens() const { return k ? selected.size() / static_cast<size_t>(k) : 0; }
  };
  std::map<int, Layer> layers;
  // Appends an event's tokens (a pass may report one layer in several batches); throws when a layer's
  // expert count or k changes, or an expert id is out of range.
  void add(const engine::RoutingEvent& e);
  void clear() { layers.clear(); }
  bool empty() const { return layers.empty(); }
};

// Pearson correlation; when either side is constant it is 1 for identical vectors and 0 otherwise
// (the coefficient is undefined there). Empty or size-mismatched input: 0.
double pearson(std::span<const double> a, std::span<const double> b);

struct MoeLayerSummary {
  int layer = 0, n_expert = 0;
  double correlation = 0;     // expert activation counts, original vs quantized
  double topk_agreement = 0;  // fraction of tokens with the identical expert set
  int never_original = 0, never_quantized = 0;
};

struct MoeSummary {
  std::vector<MoeLayerSummary> layers;
  double correlation = 0, topk_agreement = 0;
  int never_original = 0, never_quantized = 0, total_experts = 0;  // summed over layers
  uint64_t decisions = 0;  // (token, layer) pairs compared
};

// One per quantized format: fed the reference's and the format's routing of the same chunk.
class MoeAccumulator {
 public:
  void add(const ChunkRouting& reference, const ChunkRouting& quantized);  // throws when layers/tokens differ
  std::optional<MoeSummary> summary() const;  // nullopt when no routing was ever seen

 private:
  struct LayerState {
    int n_expert = 0;
    std::vector<uint64_t> ref_counts, quant_counts;
    uint64_t same = 0, total = 0;
  };
  std::map<int, LayerState> layers_;
};

struct MoeGate {
  double min_correlation = 0.95, min_topk_agreement = 0.95;
};

}  // namespace lp::eval
