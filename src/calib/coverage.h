// Expert coverage of a calibration run on a MoE model: how many tokens the router sent to each expert of
// each MoE layer (from the engine's routing observer), and which experts stay under a threshold. Printed by
// `calibrate`, stored next to the imatrix (imatrix.coverage.json) for the planner, and the quantity the
// expert balancer (balance.h) drives up.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lp::calib {

// layer id -> tokens routed to each expert of that layer.
using ExpertCounts = std::map<int, std::vector<int64_t>>;

// Adds one routing decision batch: `selected` holds n_tokens * k expert ids. An id outside [0, n_expert) or a
// layer seen before with another expert count is an lp::Error naming the layer.
void add_routing(ExpertCounts& counts, int layer, int n_expert, int k, std::span<const int32_t> selected);
void add_counts(ExpertCounts& into, const ExpertCounts& other);  // element-wise sum (shapes must agree)

struct ExpertRef {
  int layer = 0;
  int expert = 0;
  int64_t tokens = 0;
  bool operator==(const ExpertRef&) const = default;
};

// Sum over experts of max(0, threshold - tokens): how far a set is from covering every expert.
int64_t coverage_deficit(const ExpertCounts& counts, int64_t threshold);

struct LayerCoverage {
  int layer = 0;
  int n_expert = 0;
  int64_t min = 0, median = 0, max = 0;  // median: lower median
  std::vector<ExpertRef> under;          // experts with fewer than the threshold, by expert id
};

struct ExpertCoverage {
  ExpertCounts routed;
  int64_t threshold = 64;
  int64_t tokens = 0;  // tokens evaluated (each routed to k experts per layer)

  bool empty() const { return routed.empty(); }
  std::vector<LayerCoverage> layers() const;
  std::vector<ExpertRef> under_threshold() const;  // every layer, by layer then expert
  int64_t deficit() const { return coverage_deficit(routed, threshold); }

  // Compact terminal report: one line per layer (min/median/max) and the under-threshold experts.
  std::string render() const;
  // {"format": "llama-pajamas-expert-coverage", "threshold", "tokens", "layers": [{"layer", "n_expert",
  //  "tokens_per_expert": [...], "min", "median", "max", "under_threshold": [ids]}], "under_threshold_total"}
  nlohmann::ordered_json to_json() const;
  static ExpertCoverage from_json(const nlohmann::json& j, const std::string& origin);  // errors name origin
  void save(const std::string& path) const;  // atomic
  static ExpertCoverage load(const std::string& path);
};

}  // namespace lp::calib
