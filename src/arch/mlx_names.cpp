// mlx-lm's parameter names and config fields per family. mlx-lm loads HF names and fixes them up in each
// model's sanitize(); we write the already-sanitized form (stacked experts as SwitchGLU expects, gpt-oss
// gate/up split), so sanitize() is a no-op on our output.
#include <fmt/format.h>

#include <map>

#include "arch/arch.h"
#include "arch/families/family.h"
#include "core/error.h"

namespace lp::arch {

using detail::FamilyDesc;
using detail::family_info;

namespace {

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Multimodal gemma3 checkpoints keep the language model under "language_model."; the MLX output is text-only.
std::string mlx_base_name(const HParams& hp, const std::string& hf) {
  if (hp.tensor_prefix.empty()) return hf;
  if (has_prefix(hf, "language_model.")) return hf.substr(std::string_view("language_model.").size());
  if (has_prefix(hf, "model.language_model.")) return "model." + hf.substr(std::string_view("model.language_model.").size());
  return hf;
}

const char* switch_name(Role r) {
  switch (r) {
    case Role::ExpertGate: return "gate_proj";
    case Role::ExpertUp: return "up_proj";
    case Role::ExpertDown: return "down_proj";
    default: return nullptr;
  }
}

}  // namespace

std::vector<MlxTensorRecipe> mlx_tensors(const HParams& hp, const std::vector<TensorDesc>& tensors) {
  std::vector<MlxTensorRecipe> out;
  const int64_t D = hp.n_embd, F = hp.n_ff_expert, E = hp.n_expert;

  auto recipe = [&](const TensorDesc& t, std::string name, std::vector<int64_t> shape, std::vector<std::string> sources,
                    Transform tr) {
    MlxTensorRecipe r;
    r.mlx_name = std::move(name);
    r.role = t.role;
    r.layer = t.layer;
    r.is_bias = t.is_bias;
    r.shape = std::move(shape);
    r.sources = std::move(sources);
    r.transform = tr;
    r.quantizable = !t.is_bias && role_is_matrix(t.role);
    return r;
  };

  std::map<std::pair<int, Role>, std::vector<const TensorDesc*>> experts;
  std::map<std::pair<int, Role>, const TensorDesc*> mx_scales;
  for (const auto& t : tensors) {
    if (t.expert >= 0) experts[{t.layer, t.role}].push_back(&t);
    if (t.part == Part::MxScales) mx_scales[{t.layer, t.role}] = &t;
  }
  const FamilyDesc& d = family_info(hp.family);
  if (d.linear_attention)
    fail("MLX output for {} (Gated DeltaNet layers) is not supported yet; convert to GGUF", family_name(hp.family));
  if (!d.mlx_supported)
    fail("MLX output for {} (per-layer embeddings, KV sharing) is not supported yet; convert to GGUF", family_name(hp.family));
  const std::string moe_block(d.mlx_moe_block);

  for (const auto& t : tensors) {
    if (t.role == Role::Output && hp.tied_embeddings) continue;  // mlx-lm ties lm_head to embed_tokens itself
    if (t.expert > 0 || t.part == Part::MxScales) continue;
    if (t.expert == 0) {  // qwen3_moe / mixtral: SwitchGLU wants [E, out, in] under switch_mlp
      auto& group = experts[{t.layer, t.role}];
      std::vector<std::string> sources(group.size());
      for (const auto* g : group) sources.at(g->expert) = g->hf_name;
      std::string name = fmt::format("model.layers.{}.{}.switch_mlp.{}.weight", t.layer, moe_block, switch_name(t.role));
      std::vector<int64_t> shape = {static_cast<int64_t>(group.size()), t.hf_shape[0], t.hf_shape[1]};
      out.push_back(recipe(t, name, shape, sources, Transform::StackExperts));
      continue;
    }
    if (d.hf_stacked_experts && (t.role == Role::ExpertGateUp || t.role == Role::ExpertDown)) {
      const std::string x = fmt::format("model.layers.{}.mlp.experts.", t.layer);
      const std::string suffix = t.is_bias ? "bias" : "weight";
      std::vector<std::string> sources = {t.hf_name};
      const bool mx = t.part == Part::MxBlocks;
      if (mx) {
        const TensorDesc* scales = mx_scales[{t.layer, t.role}];
        if (!scales) fail("'{}' has no matching *_scales tensor", t.hf_name);
        sources.push_back(scales->hf_name);
      }
      const bool dense_layout = t.part == Part::Weight;  // [E, D, 2F] / [E, F, D]: transpose to [E, out, in]
      if (t.role == Role::ExpertGateUp) {
        TensorDesc gate = t, up = t;
        gate.role = Role::ExpertGate;
        up.role = Role::ExpertUp;
        std::vector<int64_t> shape = t.is_bias ? std::vector<int64_t>{E, F} : std::vector<int64_t>{E, F, D};
        auto g = recipe(gate, x + "gate_proj." + suffix, shape, sources, Transform::SplitGateUpEven);
        auto u = recipe(up, x + "up_proj." + suffix, shape, sources, Transform::SplitGateUpOdd);
        g.source_mxfp4 = u.source_mxfp4 = mx;
        g.transpose_source = u.transpose_source = dense_layout;
        out.push_back(std::move(g));
        out.push_back(std::move(u));
      } else {
        std::vector<int64_t> shape = t.is_bias ? std::vector<int64_t>{E, D} : std::vector<int64_t>{E, D, F};
        auto r = recipe(t, x + "down_proj." + suffix, shape, sources, Transform::None);
        r.source_mxfp4 = mx;
        r.transpose_source = dense_layout;
        out.push_back(std::move(r));
      }
      continue;
    }
    out.push_back(recipe(t, mlx_base_name(hp, t.hf_name), t.hf_shape, {t.hf_name}, Transform::None));
  }
  return out;
}

nlohmann::json mlx_config(const HParams& hp, const nlohmann::json& hf_config) {
  using nlohmann::json;
  json cfg = hf_config.is_object() ? hf_config : json::object();
  const FamilyDesc& d = family_info(hp.family);
  if (!d.wrapper_model_type.empty() && hf_config.contains("text_config") && hf_config["text_config"].is_object()) {
    json text = hf_config["text_config"];
    for (const char* key : {"eos_token_id", "bos_token_id", "pad_token_id", "torch_dtype"})
      if (hf_config.contains(key) && !text.contains(key)) text[key] = hf_config[key];
    cfg = text;
    cfg["architectures"] = json::array({std::string(d.architectures.front())});
  }
  cfg.erase("quantization_config");
  cfg.erase("quantization");
  // Write every field mlx-lm's ModelArgs reads explicitly: its defaults are not always transformers' defaults.
  cfg["model_type"] = hp.mlx_model_type;
  cfg["hidden_size"] = hp.n_embd;
  cfg["num_hidden_layers"] = hp.n_layer;
  cfg["intermediate_size"] = hp.n_ff;
  cfg["num_attention_heads"] = hp.n_head;
  cfg["num_key_value_heads"] = hp.n_head_kv;
  cfg["head_dim"] = hp.head_dim;
  cfg["vocab_size"] = hp.n_vocab;
  cfg["rms_norm_eps"] = hp.rms_eps;
  cfg["rope_theta"] = hp.rope_theta;
  cfg["rope_scaling"] = hp.rope_scaling;
  cfg["tie_word_embeddings"] = hp.tied_embeddings;
  cfg["max_position_embeddings"] = hp.n_ctx_train;
  if (d.mlx_attention_bias) cfg["attention_bias"] = hp.attn_o_bias;
  if (d.mlx_config) d.mlx_config(hp, cfg);
  return cfg;
}

}  // namespace lp::arch
