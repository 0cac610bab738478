// A recipe file (YAML or JSON) holds the user's precision choices so a conversion can be repeated:
//
//   architecture_aware: true
//   gguf:
//     precision: q4_k_m
//     tensor_types: [{pattern: "blk\\.0\\.", type: q8_0}]   # or a map {"blk\\.0\\.": q8_0}; first match wins
//     output_type: q6_k
//     token_embedding_type: q4_k
//   mlx:
//     precision: 4bit
//     embedding_bits: 6
//     overrides: [{pattern: "mlp\\.gate$", bits: 8}]
//   validation:                 # PASS/FAIL gates of `validate` (and `convert --validate`)
//     max_ppl_increase: 0.03    # fraction
//     max_kld_mean: 0.002
//
// Command-line flags are applied after the recipe (CLI --tensor-type patterns are tried before the recipe's).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "plan/gguf_plan.h"
#include "plan/mlx_plan.h"

namespace lp::plan {

struct Recipe {
  std::optional<bool> architecture_aware;
  std::optional<std::string> gguf_precision;
  std::vector<TypeOverride> tensor_types;
  std::optional<GgmlType> output_type;
  std::optional<GgmlType> token_embedding_type;
  std::optional<std::string> mlx_precision;
  std::optional<int> embedding_bits;
  std::vector<BitsOverride> mlx_overrides;
  std::optional<double> max_ppl_increase;  // validation gates
  std::optional<double> max_kld_mean;
};

// Reads .yaml/.yml/.json (by content: JSON is valid YAML). Errors name the file and the field.
Recipe load_recipe(const std::string& path);

// "REGEX=TYPE" as --tensor-type takes it.
TypeOverride parse_type_override(const std::string& text);
GgmlType parse_ggml_type(const std::string& text, const std::string& what);

}  // namespace lp::plan
