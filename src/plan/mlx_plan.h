// The per-tensor plan for an MLX artifact: bits and group size of each quantized Linear/Embedding, as
// mlx-lm's `quantization` config section records them (per-module overrides keyed by module path).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/arch.h"
#include "plan/preset.h"

namespace lp::plan {

struct BitsOverride {
  std::string pattern;  // regex searched in the MLX tensor name
  int bits;
};

struct MlxPlanOptions {
  MlxPrecision precision;
  int embedding_bits = 6;  // embeddings and lm_head when precision.mixed
  bool architecture_aware = true;
  std::vector<BitsOverride> overrides;
  int float_bytes = 2;     // bytes per unquantized element (bf16/f16 checkpoints: 2; f32: 4)
};

struct MlxPlannedTensor {
  arch::MlxTensorRecipe recipe;
  bool quantized = false;
  int bits = 0;
  int group_size = 0;
  std::string rule;
  std::string reason;
  uint64_t n_params = 0;
  uint64_t bytes = 0;
};

struct MlxPlan {
  MlxPrecision precision;
  bool architecture_aware = true;
  std::vector<MlxPlannedTensor> tensors;
  uint64_t total_bytes = 0;
  uint64_t total_params = 0;
  double bpw() const { return total_params ? 8.0 * static_cast<double>(total_bytes) / static_cast<double>(total_params) : 0; }
  // config.json "quantization": {"group_size", "bits", "<module path>": {"group_size", "bits"} | false ...}
  nlohmann::json quantization_config() const;
};

MlxPlan plan_mlx(const arch::HParams& hp, const std::vector<arch::MlxTensorRecipe>& recipes, const MlxPlanOptions& options);

nlohmann::json to_json(const MlxPlan& plan);
std::string to_table(const MlxPlan& plan, bool verbose);

}  // namespace lp::plan
