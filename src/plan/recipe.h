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
#include <map>
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

// The precision flags `plan` and `convert` share, as typed on the command line.
struct PrecisionFlags {
  std::string precision;                  // --precision ("" = from the recipe, else the caller's default)
  std::string recipe;                     // --recipe path
  std::vector<std::string> tensor_types;  // --tensor-type REGEX=TYPE
  std::vector<std::string> mlx_bits;      // --mlx-bits REGEX=BITS
  std::string output_type, token_embedding_type;
  bool no_architecture_aware = false;
  bool architecture_aware_flag = false;   // --architecture-aware: the default, accepted for explicitness
  int embedding_bits = 6;
};

// Flags merged with the recipe: CLI values win; CLI --tensor-type / --mlx-bits patterns come before the recipe's.
struct PrecisionChoice {
  Recipe recipe;
  std::string precision;  // merged text, "" when neither the CLI nor the recipe gives one
  bool architecture_aware = true;
  std::vector<TypeOverride> tensor_types;
  std::optional<GgmlType> output_type, token_embedding_type;
  std::vector<BitsOverride> mlx_overrides;
  int embedding_bits = 6;
};

// want_gguf/want_mlx pick which of the recipe's precisions apply (both: "GGUF:MLX" when the recipe has both).
PrecisionChoice resolve_precision_flags(const PrecisionFlags& flags, bool want_gguf, bool want_mlx);

// Everything but the preset / MLX precision that shapes a plan. `plan`, `convert` and the Python bindings build
// their plan options from it through the two functions below, so the plan shown is the plan converted.
struct PlanSettings {
  bool architecture_aware = true;
  std::vector<TypeOverride> tensor_types;                    // GGUF --tensor-type
  std::optional<GgmlType> output_type, token_embedding_type;
  std::vector<BitsOverride> mlx_overrides;
  int embedding_bits = 6;
  bool has_imatrix = false;
  std::map<std::string, AssignedType> assigned;              // allocator output (`--precision auto`)
  std::string label;                                         // "AUTO-4.50BPW" when assigned
};
PlanSettings plan_settings(const PrecisionChoice& choice);
GgufPlanOptions gguf_plan_options(const PlanSettings& settings, Preset preset);
MlxPlanOptions mlx_plan_options(const PlanSettings& settings, const MlxPrecision& precision);

// GGUF plan options for one preset from a resolved choice (no imatrix, no allocation).
GgufPlanOptions gguf_plan_options(const PrecisionChoice& choice, Preset preset);

// "REGEX=TYPE" as --tensor-type takes it.
TypeOverride parse_type_override(const std::string& text);
GgmlType parse_ggml_type(const std::string& text, const std::string& what);
// "REGEX=BITS" as --mlx-bits takes it.
BitsOverride parse_bits_override(const std::string& text);

}  // namespace lp::plan
