// The architecture report behind `llama-pajamas-quant detect`, and the recommended quantization strategy
// (documented in docs/ARCHITECTURES.md). Parameter counts come from the real tensor shapes when weights are
// present, else from the shapes the config implies (the same layout, so both paths agree).
#include <fmt/format.h>

#include <algorithm>

#include "arch/arch.h"
#include "arch/families/family.h"
#include "arch/layout.h"
#include "core/error.h"
#include "core/units.h"

namespace lp::arch {

namespace {

using nlohmann::json;

std::string classify_family(const HParams& hp, bool any_sliding, bool any_full) {
  const bool mixed = any_sliding && any_full;
  if (hp.is_moe() && mixed) return "sparse_moe_alternating_attention";
  if (hp.is_moe()) return "moe";
  if (mixed) return "hybrid_attention";
  return "dense_decoder";
}

std::string attention_pattern(const HParams& hp) {
  for (const auto& l : hp.layers)
    if (l.recurrent) return "hybrid_linear_full";
  int sliding = 0;
  bool alternating = true;
  for (int i = 0; i < hp.n_layer; ++i) {
    sliding += hp.layers[i].sliding;
    if (i > 0 && hp.layers[i].sliding == hp.layers[i - 1].sliding) alternating = false;
  }
  if (sliding == 0) return "full";
  if (sliding == hp.n_layer) return "sliding";
  return alternating ? "alternating" : "hybrid_local_global";
}

// Recommended precision per role group. These are starting points for the planner, chosen from where the
// architecture concentrates its sensitivity; see docs/ARCHITECTURES.md for the reasoning.
void recommend(ModelReport& r) {
  const HParams& hp = r.hp;
  json s = json::object();
  s["embeddings"] = "q6_k (mlx: 6-bit); token lookup tolerates low bits less than matmuls";
  s["output"] = hp.tied_embeddings ? "shared with embeddings (tied): keep at q6_k / 6-bit"
                                   : "q6_k (mlx: 6-bit); logits are the most sensitive projection";
  s["norms"] = "f32 (never quantized)";
  if (hp.attn_qkv_bias || hp.attn_o_bias || hp.attn_sinks) s["biases_and_sinks"] = "f32";
  if (r.attention_type == "gqa" || r.attention_type == "mqa")
    s["attention_kv"] = fmt::format(
        "attn_v and attn_k one step higher than attn_q (e.g. q6_k/q5_k): each kv head serves {} query heads",
        r.gqa_group_size);
  else
    s["attention_kv"] = "same as attn_q";

  if (hp.is_moe()) {
    r.strategy_name = "expert_balanced_calibration";
    s["router"] = "q8_0 or higher (llama.cpp keeps ffn_gate_inp f32; mlx: 8-bit): routing flips cost far more than bits";
    s["dense_attention"] = "q6_k / q5_k_m: attention runs for every token while each expert sees a fraction";
    s["experts"] = hp.native_quant == NativeQuant::Mxfp4
                       ? "keep the native MXFP4 blocks (re-quantizing costs ~12x the KLD for ~8% size)"
                       : "q4_k (down_proj q5_k); calibrate per expert so rarely routed experts get their own statistics";
    s["calibration"] = "expert-balanced: cover every expert with enough tokens; never merge importance across experts";
    if (hp.n_shared_expert > 0) s["shared_experts"] = "q6_k: used by every token";
  } else if (r.attention_pattern == "hybrid_local_global" || r.attention_pattern == "alternating") {
    r.strategy_name = "global_attention_priority";
    s["ffn"] = "q4_k_m (ffn_down q5_k)";
  } else if (r.attention_type == "gqa" || r.attention_type == "mqa") {
    r.strategy_name = "gqa_kv_cache_optimization";
    s["ffn"] = "q4_k_m (ffn_down q5_k/q6_k in the first and last layers)";
    s["kv_cache"] = fmt::format("kv cache is already {}x smaller than MHA; q8_0 kv cache is safe", r.gqa_group_size);
  } else {
    r.strategy_name = "dense_uniform";
    s["ffn"] = "q4_k_m (ffn_down q5_k)";
  }
  if (r.attention_pattern == "hybrid_linear_full") {
    r.strategy_name = "recurrent_state_precision";
    s["ffn"] = "q4_k_m (ffn_down q5_k)";
    s["linear_attention"] = "in_proj_qkv/z and out_proj like attention matrices; ssm_conv1d, A, dt bias and the gated "
                            "norm stay f32 (tiny, and errors there compound through the recurrent state every token)";
    s["dense_attention"] = fmt::format("full-attention layers (one in {}): q6_k; they are the only exact long-range "
                                       "memory", hp.full_attention_interval);
  }
  if (hp.n_embd_per_layer > 0)
    s["per_layer_embeddings"] = fmt::format(
        "per_layer_token_embd typed as llama.cpp types token_embd (tied: the output's type, Q6_K in Q4_K_M): a lookup "
        "table read one row of {} values per token, so its bits cost file size and memory ({:.0f}% of the parameters) "
        "but almost no decode time; per_layer_model_proj unquantized (F16, as llama.cpp keeps it)",
        int64_t{hp.n_layer} * hp.n_embd_per_layer,
        r.params.total ? 100.0 * static_cast<double>(int64_t{hp.n_vocab} * hp.n_layer * hp.n_embd_per_layer) /
                             static_cast<double>(r.params.total) : 0.0);
  if (hp.n_kv_shared_layers > 0)
    s["kv_sharing"] = fmt::format("the last {} layers reuse the KV of layers {} (sliding) and {} (full): those two "
                                  "source layers' attn_k/attn_v feed {} layers each way; keep them one step higher",
                                  hp.n_kv_shared_layers, hp.n_layer - hp.n_kv_shared_layers - 2,
                                  hp.n_layer - hp.n_kv_shared_layers - 1, hp.n_kv_shared_layers);
  const bool mixed = r.attention_pattern == "alternating" || r.attention_pattern == "hybrid_local_global";
  if (mixed) {
    s["sparse_attention"] = fmt::format("sliding layers (window {}): q5_k; they only see recent tokens", hp.sliding_window);
    s["dense_attention"] = "full-attention layers: q6_k or higher; they carry all long-range information";
  }
  s["name"] = r.strategy_name;
  r.strategy = s;
}

}  // namespace

ModelReport detect(const json& config, const std::string& config_path, const std::vector<TensorInfo>* tensors) {
  ModelReport r;
  r.hp = parse_hparams(config, config_path);
  HParams& hp = r.hp;

  std::vector<TensorDesc> descs;
  if (tensors) {
    descs = classify(hp, *tensors);
    r.params_from_weights = true;
  } else {
    detail::LayoutOptions opt;
    opt.mxfp4_experts = detail::family_info(hp.family).native_mxfp4_experts && hp.native_quant == NativeQuant::Mxfp4;
    opt.lm_head = !hp.tied_embeddings;
    descs = detail::checkpoint_layout(hp, opt);
    std::erase_if(descs, [](const TensorDesc& t) { return t.optional; });
  }
  r.params = count_params(hp, descs);

  r.native_quant = hp.native_quant;
  if (tensors) {
    for (const auto& t : *tensors) {
      if (t.name.size() > 7 && t.name.ends_with("_blocks")) r.native_quant = NativeQuant::Mxfp4;
      if (r.native_quant == NativeQuant::None && t.dtype.starts_with("F8_")) r.native_quant = NativeQuant::Fp8;
    }
  }

  r.gqa_group_size = hp.n_head / hp.n_head_kv;
  r.attention_type = hp.n_head_kv == hp.n_head ? "mha" : hp.n_head_kv == 1 ? "mqa" : "gqa";
  bool any_sliding = false, any_full = false;
  for (const auto& l : hp.layers) {
    r.layer_types.push_back(l.recurrent ? "linear_attention" : l.sliding ? "sliding_attention" : "full_attention");
    (l.sliding || l.recurrent ? any_sliding : any_full) = true;
  }
  r.family_class = classify_family(hp, any_sliding, any_full);
  if (hp.full_attention_interval > 0) r.family_class = hp.is_moe() ? "moe_hybrid_linear_attention" : "hybrid_linear_attention";
  r.attention_pattern = attention_pattern(hp);
  recommend(r);
  return r;
}

json to_json(const ModelReport& r) {
  const HParams& hp = r.hp;
  json j;
  j["model_type"] = hp.model_type;
  j["architecture"] = std::string(family_name(hp.family));
  j["family"] = r.family_class;
  j["gguf_architecture"] = hp.gguf_arch;
  j["params_total"] = format_count(static_cast<uint64_t>(r.params.total));
  j["params_total_count"] = r.params.total;
  j["params_active"] = format_count(static_cast<uint64_t>(r.params.active));
  j["params_active_count"] = r.params.active;
  j["params_active_excl_embedding"] = format_count(static_cast<uint64_t>(r.params.active_excl_embedding));
  j["params_active_excl_embedding_count"] = r.params.active_excl_embedding;
  j["params_embedding_count"] = r.params.embedding;
  j["params_source"] = r.params_from_weights ? "weights" : "config";
  j["attention_type"] = r.attention_type;
  j["num_query_heads"] = hp.n_head;
  j["num_kv_heads"] = hp.n_head_kv;
  j["gqa_group_size"] = r.gqa_group_size;
  j["head_dim"] = hp.head_dim;
  j["num_layers"] = hp.n_layer;
  j["hidden_size"] = hp.n_embd;
  j["intermediate_size"] = hp.n_ff;
  j["vocab_size"] = hp.n_vocab;
  j["context_length"] = hp.n_ctx_train;
  j["is_moe"] = hp.is_moe();
  j["num_experts"] = hp.n_expert;
  j["num_experts_active"] = hp.n_expert_used;
  j["num_shared_experts"] = hp.n_shared_expert;
  j["expert_intermediate_size"] = hp.n_ff_expert;
  j["attention_pattern"] = r.attention_pattern;
  j["layer_types"] = r.layer_types;
  if (hp.full_attention_interval > 0)
    j["linear_attention"] = {{"kind", "gated_deltanet"}, {"key_heads", hp.ssm_k_heads}, {"value_heads", hp.ssm_v_heads},
                             {"key_head_dim", hp.ssm_head_k_dim}, {"value_head_dim", hp.ssm_head_v_dim},
                             {"conv_kernel", hp.ssm_conv_kernel}, {"full_attention_interval", hp.full_attention_interval},
                             {"attn_output_gate", hp.attn_output_gate}, {"rope_dims", hp.rope_dim}};
  if (hp.n_embd_per_layer > 0)
    j["per_layer_embeddings"] = {{"dim_per_layer", hp.n_embd_per_layer},
                                 {"table_shape", {hp.n_vocab, int64_t{hp.n_layer} * hp.n_embd_per_layer}},
                                 {"table_params", int64_t{hp.n_vocab} * hp.n_layer * hp.n_embd_per_layer}};
  if (hp.n_kv_shared_layers > 0) {
    const int first = hp.n_layer - hp.n_kv_shared_layers;
    j["kv_sharing"] = {{"shared_layers", hp.n_kv_shared_layers}, {"first_shared_layer", first},
                       {"source_layer_sliding", first - 2}, {"source_layer_full", first - 1}};
  }
  if (hp.head_dim_global > 0) j["global_head_dim"] = hp.head_dim_global;
  j["sliding_window"] = hp.sliding_window > 0 ? json(hp.sliding_window) : json(nullptr);
  j["rope_theta"] = hp.rope_theta;
  j["rope_theta_local"] = hp.rope_theta_local > 0 ? json(hp.rope_theta_local) : json(nullptr);
  j["rope_scaling"] = hp.rope_scaling;
  j["tied_embeddings"] = hp.tied_embeddings;
  j["native_quantization"] = r.native_quant == NativeQuant::None ? json(nullptr) : json(native_quant_name(r.native_quant));
  j["strategy"] = r.strategy;
  return j;
}

std::string to_text(const ModelReport& r) {
  const HParams& hp = r.hp;
  std::string s;
  auto line = [&](std::string_view key, const std::string& value) { s += fmt::format("  {:<22} {}\n", key, value); };
  s += fmt::format("{} ({}, {})\n", hp.model_type, family_name(hp.family), r.family_class);
  std::string params = fmt::format("{} total, {} active per token", format_count(r.params.total), format_count(r.params.active));
  if (hp.is_moe()) params += fmt::format(" ({} without the embedding table)", format_count(r.params.active_excl_embedding));
  if (!r.params_from_weights) params += " (from config shapes)";
  line("parameters", params);
  line("layers", std::to_string(hp.n_layer));
  line("hidden size", std::to_string(hp.n_embd));
  line("ffn size", std::to_string(hp.n_ff));
  line("vocab", std::to_string(hp.n_vocab));
  line("attention", fmt::format("{} ({} query heads, {} kv heads, {}:1, head_dim {})", r.attention_type, hp.n_head,
                                hp.n_head_kv, r.gqa_group_size, hp.head_dim));
  if (hp.is_moe())
    line("experts", fmt::format("{} routed, {} per token, expert ffn {}{}", hp.n_expert, hp.n_expert_used, hp.n_ff_expert,
                                hp.n_shared_expert ? fmt::format(", {} shared", hp.n_shared_expert) : std::string()));
  std::string pattern = r.attention_pattern;
  if (hp.sliding_window > 0) {
    std::string layers;
    for (const auto& l : hp.layers) layers += l.sliding ? 'S' : 'F';
    pattern += fmt::format(" (window {}; {})", hp.sliding_window, layers);
  }
  if (hp.full_attention_interval > 0) {
    std::string layers;
    for (const auto& l : hp.layers) layers += l.recurrent ? 'L' : 'F';
    pattern += fmt::format(" ({}; Gated DeltaNet {} key / {} value heads of {}, conv {}; rotary {} of {} dims)", layers,
                           hp.ssm_k_heads, hp.ssm_v_heads, hp.ssm_head_v_dim, hp.ssm_conv_kernel, hp.rope_dim, hp.head_dim);
  }
  line("attention pattern", pattern);
  if (hp.head_dim_global > 0 && hp.head_dim_global != hp.head_dim)
    line("global head dim", fmt::format("{} (full-attention layers; rotary {} of {} dims)", hp.head_dim_global,
                                        static_cast<int>(hp.head_dim_global * hp.rope_partial_global), hp.head_dim_global));
  if (hp.n_embd_per_layer > 0)
    line("per-layer embeddings", fmt::format("{} per layer: table [{}, {}] ({} params)", hp.n_embd_per_layer, hp.n_vocab,
                                             int64_t{hp.n_layer} * hp.n_embd_per_layer,
                                             format_count(static_cast<uint64_t>(int64_t{hp.n_vocab} * hp.n_layer * hp.n_embd_per_layer))));
  if (hp.n_kv_shared_layers > 0) {
    const int first = hp.n_layer - hp.n_kv_shared_layers;
    line("kv sharing", fmt::format("layers {}..{} reuse the KV of layer {} (sliding) / {} (full)", first, hp.n_layer - 1,
                                   first - 2, first - 1));
  }
  std::string rope = fmt::format("theta {}", hp.rope_theta);
  if (hp.rope_theta_local > 0) rope += fmt::format(", local theta {}", hp.rope_theta_local);
  if (!hp.rope.type.empty()) rope += fmt::format(", {} scaling x{}", hp.rope.type, hp.rope.factor);
  line("rope", rope);
  line("context length", std::to_string(hp.n_ctx_train));
  line("tied embeddings", hp.tied_embeddings ? "yes" : "no");
  line("native quantization", r.native_quant == NativeQuant::None ? "none" : std::string(native_quant_name(r.native_quant)));
  line("strategy", r.strategy_name);
  for (const auto& [key, value] : r.strategy.items())
    if (key != "name") s += fmt::format("    {:<20} {}\n", key, value.get<std::string>());
  return s;
}

}  // namespace lp::arch
