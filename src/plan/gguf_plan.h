// The per-tensor precision plan for a GGUF artifact: which ggml type each tensor gets and why.
// Two layers of rules:
//  1. llama.cpp's mix for the preset (llama-quant.cpp: attn_v / ffn_down bumped on chosen layers, output at
//     Q6_K, routers kept F32, row-size fallbacks) -- reproduced so that `--no-architecture-aware` is an exact
//     baseline and our files are comparable with llama-quantize's;
//  2. architecture rules over roles and layer kinds (native MXFP4 experts kept, GQA k/v by their real share,
//     shared experts above routed ones, global layers of hybrid attention above local ones).
// User overrides come last and always win; an override that matches nothing or cannot apply is an error.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "arch/arch.h"
#include "core/ggml_type.h"
#include "plan/preset.h"

namespace lp::plan {

struct TypeOverride {
  std::string pattern;  // ECMAScript regex searched in the GGUF tensor name (as llama-quantize --tensor-type)
  GgmlType type;
};

// A type chosen for one tensor by an allocator (src/allocate) from measured or estimated sensitivity.
// Applied after the preset's rules and before user overrides (which still win).
struct AssignedType {
  GgmlType type;
  std::string rule;                   // "allocate:measured", "allocate:proxy"
  std::string reason;
  std::optional<double> sensitivity;  // predicted loss at `type` (mean KLD for measured, scaled error for proxy)
};

struct GgufPlanOptions {
  Preset preset = Preset::Q4_K_M;
  bool architecture_aware = true;
  bool has_imatrix = false;
  std::vector<TypeOverride> overrides;        // first match wins
  std::optional<GgmlType> output_type;        // --output-tensor-type
  std::optional<GgmlType> token_embd_type;    // --token-embedding-type
  std::map<std::string, AssignedType> assigned;  // by GGUF tensor name (allocator output)
  std::string label;                          // artifact precision name when assigned ("AUTO-4.50BPW"); empty: preset
};

struct PlannedTensor {
  arch::GgufTensorRecipe recipe;
  GgmlType type = GgmlType::F32;
  std::string rule;    // short id of the deciding rule: "llama.cpp:use_more_bits", "arch:gqa_kv", "user", ...
  std::string reason;  // one sentence a user can read
  uint64_t n_params = 0;
  uint64_t bytes = 0;
  bool quantizable = false;  // a weight matrix that a quantized preset may lower
  std::optional<double> sensitivity;  // from the allocator, when one chose this tensor's type
};

struct GgufPlan {
  Preset preset = Preset::Q4_K_M;
  bool architecture_aware = true;
  std::string label;  // "AUTO-4.50BPW" for allocated plans; empty: the preset's name
  std::vector<PlannedTensor> tensors;
  uint64_t total_bytes = 0;
  uint64_t total_params = 0;
  std::string precision_name() const { return label.empty() ? preset_name(preset) : label; }
  double bpw() const { return total_params ? 8.0 * static_cast<double>(total_bytes) / static_cast<double>(total_params) : 0; }
};

// Throws lp::Error for overrides that match no tensor or whose type cannot hold a matched tensor's rows.
GgufPlan plan_gguf(const arch::HParams& hp, const std::vector<arch::GgufTensorRecipe>& recipes,
                   const GgufPlanOptions& options);

// Storage of `n` elements per row × rows in `type` (rows = product of ne[1..]).
uint64_t tensor_bytes(GgmlType type, const std::vector<int64_t>& ne);

// llama.cpp's fallback when ne[0] is not a multiple of the type's block size (tensor_type_fallback):
// IQ4_XS and the sub-4-bit i-quants -> IQ4_NL, Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16 if still no fit.
GgmlType row_fallback_type(GgmlType wanted, int64_t ncols);

// llama.cpp's tensor_requires_imatrix: IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S and IQ3_XXS tensors need importance,
// except the token embeddings and the output projection.
bool tensor_requires_imatrix(arch::Role role, GgmlType type);

// One step up the quality ladder (Q3_K -> Q4_K -> Q5_K -> Q6_K -> Q8_0, IQ4_XS -> Q5_K, ...).
GgmlType step_up(GgmlType t);

nlohmann::json to_json(const GgufPlan& plan);
std::string to_table(const GgufPlan& plan, bool verbose);

}  // namespace lp::plan
