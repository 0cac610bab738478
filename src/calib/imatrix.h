// Importance matrices (imatrix): per weight matrix, the per-input-column sum of squared activations and
// the number of tokens that produced them (per expert for stacked MoE weights). Read and written in
// llama.cpp's formats so its tools accept ours and we accept theirs:
//   GGUF (current):  general.type = "imatrix", imatrix.datasets [str], imatrix.chunk_count u32,
//                    imatrix.chunk_size u32; tensors "<name>.in_sum2" F32 [n_per_row, n_mat] and
//                    "<name>.counts" F32 [1, n_mat]  (tools/imatrix/imatrix.cpp)
//   legacy .dat:     i32 n_entries; per entry: i32 len, name, i32 ncall, i32 nval, f32 values[nval]
//                    (already divided by counts and multiplied by ncall); then optional i32 chunk count,
//                    i32 len + dataset name  (common/imatrix-loader.cpp)
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lp::calib {

struct ImatrixEntry {
  std::vector<float> sums;      // n_mat * n_per_row, expert-major
  std::vector<int64_t> counts;  // n_mat (tokens seen per expert); legacy files: one ncall
  int64_t n_mat() const { return static_cast<int64_t>(counts.size()); }
  int64_t n_per_row() const { return counts.empty() ? 0 : static_cast<int64_t>(sums.size()) / n_mat(); }
};

class Imatrix {
 public:
  std::map<std::string, ImatrixEntry> entries;  // keyed by GGUF tensor name ("blk.0.attn_q.weight")
  std::vector<std::string> datasets;
  uint32_t chunk_count = 0;
  uint32_t chunk_size = 0;
  bool legacy = false;
  // Experts routed fewer tokens than this get importance shrunk toward the layer's other experts
  // (shrinkage.h); 0 = llama.cpp's behaviour (own statistics, uniform ones when never routed). Saved in
  // our GGUF imatrix files as imatrix.lp.expert_shrinkage_tokens (calibrate --min-expert-tokens); files
  // without the key (llama.cpp's) get the default.
  int64_t expert_shrinkage_tokens = 64;

  // GGUF imatrix, else legacy .dat (as llama.cpp decides: try GGUF first). Errors name the file and field.
  static Imatrix load(const std::string& path);
  void save_gguf(const std::string& path) const;  // atomic
  void save_legacy(const std::string& path) const;

  // Accumulates squared activations of `n_tokens` rows of x (n_per_row each) for `name`'s expert `expert`
  // (0 for dense weights), creating the entry with n_mat slots on first use.
  void accumulate(const std::string& name, int expert, int n_mat, const float* x, int64_t n_tokens, int64_t n_per_row);

  // The importance vector for one expert slice: sums / count as llama-quantize derives it; for an expert of a
  // stacked MoE weight with fewer than expert_shrinkage_tokens tokens, the count-weighted blend with the
  // layer's other experts (shrunk_expert_importance); all ones only when no expert of the tensor saw tokens.
  // Legacy files: sums / ncall. nullopt when the tensor has no entry.
  std::optional<std::vector<float>> importance(const std::string& name, int expert, int64_t n_per_row) const;
};

// Checks an imatrix against a model's weight matrices (name → n_per_row, n_mat). Entries for unknown tensors
// or with other sizes are errors naming the tensor ("imatrix from another model?"); returns the names of
// matrices without an entry and of experts with zero tokens, for the coverage report.
struct ImatrixCoverage {
  std::vector<std::string> missing;          // tensors with no entry
  std::vector<std::string> uncovered_experts;  // "blk.3.ffn_down_exps.weight expert 5"
  // What importance those experts get, for warnings: "the mean of the layer's other experts (shrinkage
  // below 64 tokens)" or, with shrinkage off / legacy files, "uniform importance (as llama.cpp)".
  std::string uncovered_fallback;
};
struct WeightShape {
  int64_t n_per_row;
  int64_t n_mat;
};
// Router entries ("blk.N.ffn_gate_inp.weight") are skipped when `weights` lacks them.
bool is_router_weight(const std::string& gguf_name);
ImatrixCoverage check_imatrix(const Imatrix& im, const std::map<std::string, WeightShape>& weights, const std::string& path);

}  // namespace lp::calib
