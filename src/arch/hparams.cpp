// config.json -> HParams. Absent fields take the defaults of the family's transformers configuration class
// (e.g. Gemma-3-4B's config names only five text fields; Gemma3TextConfig supplies the rest), so that the
// shapes we derive agree with what transformers would build.
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "arch/arch.h"
#include "arch/families/family.h"
#include "core/error.h"

namespace lp::arch {

namespace {

using nlohmann::json;
using detail::ConfigReader;
using detail::FamilyDesc;
using detail::SlidingRule;

int to_int(int64_t v, const char* key, const std::string& path) {
  if (v < 0 || v > (int64_t{1} << 31) - 1) fail("{}: field '{}' = {} is out of range", path, key, v);
  return static_cast<int>(v);
}

// Family from model_type, then from architectures[].
Family resolve_family(const json& config, const std::string& path) {
  std::string model_type = config.contains("model_type") && config["model_type"].is_string()
                               ? config["model_type"].get<std::string>() : "";
  for (const FamilyDesc& info : detail::family_table())
    for (auto mt : info.model_types)
      if (mt == model_type) return info.family;
  std::vector<std::string> archs;
  if (config.contains("architectures") && config["architectures"].is_array())
    for (const auto& a : config["architectures"])
      if (a.is_string()) archs.push_back(a.get<std::string>());
  for (const auto& info : detail::family_table())
    for (auto a : info.architectures)
      if (std::find(archs.begin(), archs.end(), a) != archs.end()) return info.family;
  fail("{}: unsupported model_type '{}' / architectures [{}]; supported families: {}", path,
       model_type.empty() ? "(absent)" : model_type, fmt::join(archs, ", "), supported_families_text());
}

RopeScaling parse_rope_scaling(const json& rs, const std::string& path) {
  RopeScaling r;
  if (rs.is_null()) return r;
  if (!rs.is_object()) fail("{}: field 'rope_scaling' must be an object or null", path);
  ConfigReader in{rs, path};
  r.type = in.string("rope_type", in.string("type"));
  if (r.type == "default") r.type.clear();
  r.factor = in.number("factor", 1.0);
  r.original_max_position = in.integer("original_max_position_embeddings", 0);
  r.low_freq_factor = in.number("low_freq_factor", 0);
  r.high_freq_factor = in.number("high_freq_factor", 0);
  r.beta_fast = in.number("beta_fast", 0);
  r.beta_slow = in.number("beta_slow", 0);
  r.truncate = in.boolean("truncate", true);
  return r;
}

// Per-layer attention kind, from `layer_types` when the config lists it, else as the transformers
// configuration class derives it.
std::vector<bool> sliding_layers(const HParams& hp, const ConfigReader& in) {
  std::vector<bool> sliding(hp.n_layer, false);
  if (in.has("layer_types")) {
    const json& lt = in.cfg["layer_types"];
    if (!lt.is_array() || lt.size() != static_cast<size_t>(hp.n_layer))
      fail("{}: field 'layer_types' must list one entry per layer ({})", in.path, hp.n_layer);
    for (int i = 0; i < hp.n_layer; ++i) {
      std::string t = lt[i].is_string() ? lt[i].get<std::string>() : "";
      if (t == "sliding_attention") sliding[i] = true;
      else if (t == "linear_attention" && detail::family_info(hp.family).linear_attention) continue;
      else if (t != "full_attention")
        fail("{}: layer_types[{}] = '{}' (expected full_attention or sliding_attention{})", in.path, i, t,
             detail::family_info(hp.family).linear_attention ? " or linear_attention" : "");
    }
    return sliding;
  }
  const FamilyDesc& d = detail::family_info(hp.family);
  const bool use_window = in.boolean("use_sliding_window", false);
  const int64_t max_window_layers = d.sliding == SlidingRule::MaxWindow && use_window ? in.integer("max_window_layers", hp.n_layer) : 0;
  for (int i = 0; i < hp.n_layer; ++i) {
    switch (d.sliding) {
      case SlidingRule::Period: {
        const int period = d.pattern_in_config ? hp.sliding_window_pattern : d.swa_period;
        sliding[i] = (i + 1) % period != 0;
        break;
      }
      case SlidingRule::MaxWindow: sliding[i] = use_window && i >= max_window_layers; break;
      case SlidingRule::AllWhenWindow: sliding[i] = hp.sliding_window > 0; break;
      case SlidingRule::None: break;
    }
  }
  return sliding;
}

// Gated DeltaNet hybrids (qwen35): the linear_* fields with Qwen3_5TextConfig's defaults, which layers are
// linear (layer_types, else all but every full_attention_interval-th), partial rotary and its mrope sections.
void read_linear_attention(const ConfigReader& in, HParams& hp) {
  const std::string& path = in.path;
  hp.ssm_conv_kernel = to_int(in.integer("linear_conv_kernel_dim", 4), "linear_conv_kernel_dim", path);
  hp.ssm_k_heads = to_int(in.integer("linear_num_key_heads", 16), "linear_num_key_heads", path);
  hp.ssm_v_heads = to_int(in.integer("linear_num_value_heads", 32), "linear_num_value_heads", path);
  hp.ssm_head_k_dim = to_int(in.integer("linear_key_head_dim", 128), "linear_key_head_dim", path);
  hp.ssm_head_v_dim = to_int(in.integer("linear_value_head_dim", 128), "linear_value_head_dim", path);
  hp.full_attention_interval = to_int(in.integer("full_attention_interval", 4), "full_attention_interval", path);
  if (hp.ssm_conv_kernel <= 0 || hp.ssm_k_heads <= 0 || hp.ssm_v_heads <= 0 || hp.ssm_head_k_dim <= 0 ||
      hp.ssm_head_v_dim <= 0 || hp.full_attention_interval <= 0)
    fail("{}: linear_conv_kernel_dim, linear_num_*_heads, linear_*_head_dim and full_attention_interval must be positive", path);
  if (hp.ssm_v_heads % hp.ssm_k_heads != 0)
    fail("{}: linear_num_value_heads ({}) is not a multiple of linear_num_key_heads ({})", path, hp.ssm_v_heads, hp.ssm_k_heads);
  // llama.cpp's qwen35 has one state size (ssm.state_size) for both key and value heads.
  if (hp.ssm_head_k_dim != hp.ssm_head_v_dim)
    fail("{}: linear_key_head_dim ({}) != linear_value_head_dim ({}): not representable in llama.cpp's qwen35", path,
         hp.ssm_head_k_dim, hp.ssm_head_v_dim);
  if (!in.boolean("attn_output_gate", true)) fail("{}: attn_output_gate = false is not supported (qwen35 gates attention)", path);
  hp.attn_output_gate = true;
  const nlohmann::json& lt = in.has("layer_types") ? in.cfg["layer_types"] : nlohmann::json();
  for (int i = 0; i < hp.n_layer; ++i)
    hp.layers[i].recurrent = lt.is_array() ? lt[i] == "linear_attention" : (i + 1) % hp.full_attention_interval != 0;
  double partial = 0.25;
  std::vector<int32_t> sections = {11, 11, 10};  // llama.cpp's default when the config has none
  const nlohmann::json& rp = in.has("rope_parameters") ? in.cfg["rope_parameters"] : in.cfg;
  if (rp.is_object() && rp.contains("partial_rotary_factor") && rp["partial_rotary_factor"].is_number())
    partial = rp["partial_rotary_factor"].get<double>();
  else partial = in.number("partial_rotary_factor", partial);
  if (rp.is_object() && rp.contains("mrope_section")) {
    if (!rp["mrope_section"].is_array()) fail("{}: field 'mrope_section' must be an array", path);
    sections.clear();
    for (const auto& v : rp["mrope_section"]) {
      if (!v.is_number_integer()) fail("{}: field 'mrope_section' must hold integers", path);
      sections.push_back(v.get<int32_t>());
    }
  }
  if (sections.size() > 4) sections.resize(4);
  while (sections.size() < 4) sections.push_back(0);
  hp.rope_sections = sections;
  hp.n_mtp_layers = to_int(in.integer("mtp_num_hidden_layers", 0), "mtp_num_hidden_layers", path);
  if (hp.n_mtp_layers < 0) fail("{}: mtp_num_hidden_layers must not be negative", path);
  hp.rope_dim = static_cast<int>(hp.head_dim * partial);  // int(), as convert_hf_to_gguf.py
  if (hp.rope_dim <= 0 || hp.rope_dim > hp.head_dim || hp.rope_dim % 2 != 0)
    fail("{}: partial_rotary_factor {} gives {} rotary dims of head_dim {}", path, partial, hp.rope_dim, hp.head_dim);
}

}  // namespace

HParams parse_hparams(const json& config, const std::string& config_path) {
  if (!config.is_object()) fail("{}: config must be a JSON object", config_path);
  HParams hp;
  hp.family = resolve_family(config, config_path);
  const FamilyDesc& d = detail::family_info(hp.family);
  hp.gguf_arch = std::string(d.gguf_arch);
  hp.mlx_model_type = std::string(d.mlx_model_type);
  hp.config_model_type = config.value("model_type", std::string());
  if (config.contains("architectures") && config["architectures"].is_array())
    for (const auto& a : config["architectures"])
      if (a.is_string()) hp.architectures.push_back(a.get<std::string>());

  // Multimodal wrapper (gemma3): the language model's fields live in text_config; its tensors under language_model.
  const json* text = &config;
  if (!d.wrapper_model_type.empty() && hp.config_model_type == d.wrapper_model_type) {
    if (!config.contains("text_config") || !config["text_config"].is_object())
      fail("{}: model_type '{}' needs a 'text_config' object", config_path, d.wrapper_model_type);
    text = &config["text_config"];
    hp.tensor_prefix = "language_model.";
  }
  ConfigReader in{*text, config_path};
  hp.model_type = in.string("model_type", hp.config_model_type);
  if (!d.wrapper_model_type.empty()) hp.model_type = std::string(d.model_types.front());

  auto with_default = [&](const char* key, const std::optional<int64_t>& fallback) {
    return fallback ? in.integer(key, *fallback) : in.integer(key);
  };
  hp.n_embd = to_int(in.integer("hidden_size"), "hidden_size", config_path);
  hp.n_layer = to_int(in.integer("num_hidden_layers"), "num_hidden_layers", config_path);
  hp.n_ff = to_int(in.integer("intermediate_size"), "intermediate_size", config_path);
  hp.n_head = to_int(with_default("num_attention_heads", d.default_n_head), "num_attention_heads", config_path);
  hp.n_head_kv = to_int(in.integer("num_key_value_heads", d.default_n_head_kv.value_or(hp.n_head)), "num_key_value_heads", config_path);
  if (hp.n_embd <= 0 || hp.n_layer <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 || hp.n_ff <= 0)
    fail("{}: hidden_size, num_hidden_layers, intermediate_size and head counts must be positive", config_path);
  if (hp.n_head % hp.n_head_kv != 0)
    fail("{}: num_attention_heads ({}) is not a multiple of num_key_value_heads ({})", config_path, hp.n_head, hp.n_head_kv);
  const int64_t default_head_dim = d.default_head_dim > 0 ? d.default_head_dim : hp.n_embd / hp.n_head;
  hp.head_dim = to_int(in.integer("head_dim", default_head_dim), "head_dim", config_path);
  if (hp.head_dim <= 0 || hp.head_dim % 2 != 0) fail("{}: head_dim must be a positive even number", config_path);
  hp.n_vocab = to_int(with_default("vocab_size", d.default_vocab), "vocab_size", config_path);
  hp.n_ctx_train = in.integer("max_position_embeddings", d.default_n_ctx);

  hp.rms_eps = in.number("rms_norm_eps", d.default_rms_eps);
  hp.rope_theta = in.number("rope_theta", d.default_rope_theta);
  hp.rope_scaling = in.has("rope_scaling") ? in.cfg["rope_scaling"] : json();
  if (d.default_rope_scaling && !in.cfg.contains("rope_scaling")) hp.rope_scaling = json::parse(d.default_rope_scaling);
  if (d.local_rope) hp.rope_theta_local = in.number("rope_local_base_freq", 10000.0);
  // transformers >= 5 spells rope settings as rope_parameters (per layer type for gemma3).
  if (in.has("rope_parameters") && in.cfg["rope_parameters"].is_object()) {
    const json& rp = in.cfg["rope_parameters"];
    const json& global = rp.contains("full_attention") ? rp["full_attention"] : rp;
    if (global.contains("rope_theta") && global["rope_theta"].is_number()) hp.rope_theta = global["rope_theta"].get<double>();
    if (rp.contains("sliding_attention") && rp["sliding_attention"].contains("rope_theta"))
      hp.rope_theta_local = rp["sliding_attention"]["rope_theta"].get<double>();
    std::string type = global.value("rope_type", std::string("default"));
    if (type != "default") hp.rope_scaling = global;
  }
  hp.rope = parse_rope_scaling(hp.rope_scaling, config_path);
  hp.rope_interleaved = d.permute_qk;
  hp.tied_embeddings = in.boolean("tie_word_embeddings", d.default_tied);
  if (text != &config && config.contains("tie_word_embeddings"))
    hp.tied_embeddings = ConfigReader{config, config_path}.boolean("tie_word_embeddings", hp.tied_embeddings);

  // Attention details.
  const bool attention_bias = in.boolean("attention_bias", d.default_attention_bias);
  hp.attn_qkv_bias = d.qkv_bias || attention_bias;
  hp.attn_o_bias = !d.qkv_bias && attention_bias;
  hp.qk_norm = d.qk_norm;
  hp.attn_sinks = d.attn_sinks;
  if (d.default_query_pre_attn_scalar > 0)
    hp.query_pre_attn_scalar = static_cast<float>(in.number("query_pre_attn_scalar", d.default_query_pre_attn_scalar));
  hp.attn_scale = 1.0f / std::sqrt(hp.query_pre_attn_scalar > 0 ? hp.query_pre_attn_scalar : static_cast<float>(hp.head_dim));
  hp.attn_logit_softcapping = static_cast<float>(in.number("attn_logit_softcapping", 0));
  hp.final_logit_softcapping = static_cast<float>(in.number("final_logit_softcapping", 0));

  // Sliding windows.
  int64_t window = 0;
  switch (d.sliding) {
    case SlidingRule::Period: window = in.integer("sliding_window", d.default_sliding_window); break;
    case SlidingRule::AllWhenWindow:  // an explicit null means no window
      window = in.cfg.contains("sliding_window") ? in.integer("sliding_window", 0) : d.default_sliding_window;
      break;
    case SlidingRule::MaxWindow:
      window = in.boolean("use_sliding_window", false) ? in.integer("sliding_window", d.default_sliding_window) : 0;
      break;
    case SlidingRule::None: break;
  }
  hp.sliding_window = to_int(window, "sliding_window", config_path);
  if (d.pattern_in_config) {
    hp.sliding_window_pattern = to_int(in.integer("sliding_window_pattern", d.swa_period), "sliding_window_pattern", config_path);
    if (hp.sliding_window_pattern <= 0) fail("{}: sliding_window_pattern must be positive", config_path);
  }
  std::vector<bool> sliding = sliding_layers(hp, in);
  if (std::find(sliding.begin(), sliding.end(), true) == sliding.end()) hp.sliding_window = 0;
  else if (hp.sliding_window <= 0) fail("{}: layers use sliding attention but 'sliding_window' is not set", config_path);

  // FFN / MoE.
  hp.hidden_act = in.string(d.hidden_act_key, d.hidden_act_default);
  hp.ffn_act = d.ffn_act;
  hp.router_gating = d.router_gating;
  detail::MoeLayout moe;
  if (d.read_moe) d.read_moe(in, hp, moe);
  if (d.expert_biases) {
    hp.router_bias = true;
    hp.expert_bias = true;
    hp.swiglu_alpha = 1.702;  // hard-coded in GptOssExperts
  }
  if (hp.n_expert > 0 && (hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert))
    fail("{}: num_experts_per_tok ({}) must be between 1 and the expert count ({})", config_path, hp.n_expert_used, hp.n_expert);
  if (moe.sparse_step <= 0) fail("{}: decoder_sparse_step must be positive", config_path);

  hp.layers.resize(hp.n_layer);
  for (int i = 0; i < hp.n_layer; ++i) {
    LayerKind& k = hp.layers[i];
    k.sliding = sliding[i];
    k.window = sliding[i] ? hp.sliding_window : 0;
    k.rope_theta = d.local_rope && sliding[i] ? hp.rope_theta_local : hp.rope_theta;
    k.rope_scaled = !(d.local_rope && sliding[i]);  // gemma3's local rotary embedding is unscaled
    k.moe = hp.n_expert > 0 && std::find(moe.mlp_only.begin(), moe.mlp_only.end(), i) == moe.mlp_only.end() &&
            (i + 1) % moe.sparse_step == 0;
  }

  if (d.linear_attention) read_linear_attention(in, hp);
  if (d.read_config) d.read_config(in, hp);
  hp.embed_scale = d.embed_scale;
  hp.norm_plus_one = d.norm_plus_one;

  // Native quantization of the released weights.
  const json* qc = nullptr;
  if (config.contains("quantization_config") && config["quantization_config"].is_object()) qc = &config["quantization_config"];
  else if (text->contains("quantization_config") && (*text)["quantization_config"].is_object()) qc = &(*text)["quantization_config"];
  if (qc) {
    std::string method = qc->value("quant_method", std::string());
    if (method == "mxfp4") hp.native_quant = NativeQuant::Mxfp4;
    else if (method == "fp8") hp.native_quant = NativeQuant::Fp8;
  }
  if (d.native_mxfp4_experts && hp.native_quant == NativeQuant::Mxfp4 && (hp.n_embd % 32 != 0 || hp.n_ff_expert % 32 != 0))
    fail("{}: MXFP4 experts need hidden_size ({}) and intermediate_size ({}) to be multiples of 32", config_path,
         hp.n_embd, hp.n_ff_expert);
  hp.torch_dtype = in.string("torch_dtype", in.string("dtype", ConfigReader{config, config_path}.string("torch_dtype")));
  return hp;
}

}  // namespace lp::arch
