// config.json -> HParams. Absent fields take the defaults of the family's transformers configuration class
// (e.g. Gemma-3-4B's config names only five text fields; Gemma3TextConfig supplies the rest), so that the
// shapes we derive agree with what transformers would build.
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "arch/arch.h"
#include "arch/family_table.h"
#include "core/error.h"

namespace lp::arch {

namespace {

using nlohmann::json;

struct ConfigReader {
  const json& cfg;
  const std::string& path;

  bool has(const char* key) const { return cfg.contains(key) && !cfg[key].is_null(); }

  int64_t integer(const char* key) const {
    if (!has(key)) fail("{}: missing required field '{}'", path, key);
    return as_int(key);
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? as_int(key) : fallback; }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!cfg[key].is_number()) fail("{}: field '{}' must be a number", path, key);
    return cfg[key].get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!cfg[key].is_boolean()) fail("{}: field '{}' must be true or false", path, key);
    return cfg[key].get<bool>();
  }
  std::string string(const char* key, const std::string& fallback = "") const {
    if (!has(key)) return fallback;
    if (!cfg[key].is_string()) fail("{}: field '{}' must be a string", path, key);
    return cfg[key].get<std::string>();
  }

 private:
  int64_t as_int(const char* key) const {
    const json& v = cfg[key];
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return static_cast<int64_t>(v.get<double>());
    fail("{}: field '{}' must be an integer", path, key);
  }
};

int to_int(int64_t v, const char* key, const std::string& path) {
  if (v < 0 || v > (int64_t{1} << 31) - 1) fail("{}: field '{}' = {} is out of range", path, key, v);
  return static_cast<int>(v);
}

// Family from model_type, then from architectures[].
Family resolve_family(const json& config, const std::string& path) {
  std::string model_type = config.contains("model_type") && config["model_type"].is_string()
                               ? config["model_type"].get<std::string>() : "";
  for (const auto& info : detail::family_table())
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
      else if (t != "full_attention")
        fail("{}: layer_types[{}] = '{}' (expected full_attention or sliding_attention)", in.path, i, t);
    }
    return sliding;
  }
  for (int i = 0; i < hp.n_layer; ++i) {
    switch (hp.family) {
      case Family::Gemma3: sliding[i] = (i + 1) % hp.sliding_window_pattern != 0; break;
      case Family::GptOss: sliding[i] = (i + 1) % 2 != 0; break;
      case Family::Qwen2: case Family::Qwen3: case Family::Qwen3Moe:
        sliding[i] = in.boolean("use_sliding_window", false) && i >= in.integer("max_window_layers", hp.n_layer);
        break;
      case Family::Mistral: case Family::Mixtral: sliding[i] = hp.sliding_window > 0; break;
      case Family::Llama: break;
    }
  }
  return sliding;
}

}  // namespace

HParams parse_hparams(const json& config, const std::string& config_path) {
  if (!config.is_object()) fail("{}: config must be a JSON object", config_path);
  HParams hp;
  hp.family = resolve_family(config, config_path);
  const auto& info = detail::family_info(hp.family);
  hp.gguf_arch = std::string(info.gguf_arch);
  hp.mlx_model_type = std::string(info.mlx_model_type);
  hp.config_model_type = config.value("model_type", std::string());
  if (config.contains("architectures") && config["architectures"].is_array())
    for (const auto& a : config["architectures"])
      if (a.is_string()) hp.architectures.push_back(a.get<std::string>());

  // Multimodal gemma3: the language model's fields live in text_config; its tensors under language_model.
  const json* text = &config;
  if (hp.family == Family::Gemma3 && hp.config_model_type == "gemma3") {
    if (!config.contains("text_config") || !config["text_config"].is_object())
      fail("{}: model_type 'gemma3' needs a 'text_config' object", config_path);
    text = &config["text_config"];
    hp.tensor_prefix = "language_model.";
  }
  ConfigReader in{*text, config_path};
  hp.model_type = in.string("model_type", hp.config_model_type);
  if (hp.family == Family::Gemma3) hp.model_type = "gemma3_text";

  const bool gemma = hp.family == Family::Gemma3;
  const bool gptoss = hp.family == Family::GptOss;
  hp.n_embd = to_int(in.integer("hidden_size"), "hidden_size", config_path);
  hp.n_layer = to_int(in.integer("num_hidden_layers"), "num_hidden_layers", config_path);
  hp.n_ff = to_int(in.integer("intermediate_size"), "intermediate_size", config_path);
  hp.n_head = to_int(gemma ? in.integer("num_attention_heads", 8) : in.integer("num_attention_heads"),
                     "num_attention_heads", config_path);
  hp.n_head_kv = to_int(in.integer("num_key_value_heads", gemma ? 4 : hp.n_head), "num_key_value_heads", config_path);
  if (hp.n_embd <= 0 || hp.n_layer <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 || hp.n_ff <= 0)
    fail("{}: hidden_size, num_hidden_layers, intermediate_size and head counts must be positive", config_path);
  if (hp.n_head % hp.n_head_kv != 0)
    fail("{}: num_attention_heads ({}) is not a multiple of num_key_value_heads ({})", config_path, hp.n_head, hp.n_head_kv);
  int default_head_dim = hp.n_embd / hp.n_head;
  if (gemma) default_head_dim = 256;
  if (gptoss) default_head_dim = 64;
  if (hp.family == Family::Qwen3 || hp.family == Family::Qwen3Moe) default_head_dim = 128;
  hp.head_dim = to_int(in.integer("head_dim", default_head_dim), "head_dim", config_path);
  if (hp.head_dim <= 0 || hp.head_dim % 2 != 0) fail("{}: head_dim must be a positive even number", config_path);
  hp.n_vocab = to_int(gemma ? in.integer("vocab_size", 262208) : in.integer("vocab_size"), "vocab_size", config_path);
  hp.n_ctx_train = in.integer("max_position_embeddings", gemma || gptoss ? 131072 : 2048);

  const bool mixtral_like = hp.family == Family::Mixtral || gptoss;
  hp.rms_eps = in.number("rms_norm_eps", mixtral_like ? 1e-5 : 1e-6);
  hp.rope_theta = in.number("rope_theta", gemma || hp.family == Family::Mixtral ? 1e6 : gptoss ? 150000.0 : 10000.0);
  hp.rope_scaling = in.has("rope_scaling") ? in.cfg["rope_scaling"] : json();
  if (gptoss && !in.cfg.contains("rope_scaling"))  // GptOssConfig's default
    hp.rope_scaling = {{"rope_type", "yarn"}, {"factor", 32.0}, {"beta_fast", 32.0}, {"beta_slow", 1.0},
                       {"truncate", false}, {"original_max_position_embeddings", 4096}};
  if (gemma) hp.rope_theta_local = in.number("rope_local_base_freq", 10000.0);
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
  hp.tied_embeddings = in.boolean("tie_word_embeddings", gemma);
  if (gemma && config.contains("tie_word_embeddings") && text != &config)
    hp.tied_embeddings = ConfigReader{config, config_path}.boolean("tie_word_embeddings", hp.tied_embeddings);

  // Attention details.
  const bool attention_bias = in.boolean("attention_bias", gptoss);
  hp.attn_qkv_bias = hp.family == Family::Qwen2 || attention_bias;
  hp.attn_o_bias = hp.family != Family::Qwen2 && attention_bias;
  hp.qk_norm = gemma || hp.family == Family::Qwen3 || hp.family == Family::Qwen3Moe;
  hp.attn_sinks = gptoss;
  if (gemma) hp.query_pre_attn_scalar = static_cast<float>(in.number("query_pre_attn_scalar", 256));
  hp.attn_scale = 1.0f / std::sqrt(hp.query_pre_attn_scalar > 0 ? hp.query_pre_attn_scalar : static_cast<float>(hp.head_dim));
  hp.attn_logit_softcapping = static_cast<float>(in.number("attn_logit_softcapping", 0));
  hp.final_logit_softcapping = static_cast<float>(in.number("final_logit_softcapping", 0));

  // Sliding windows.
  int64_t window = 0;
  switch (hp.family) {
    case Family::Gemma3: window = in.integer("sliding_window", 4096); break;
    case Family::GptOss: window = in.integer("sliding_window", 128); break;
    case Family::Mistral: window = in.cfg.contains("sliding_window") ? in.integer("sliding_window", 0) : 4096; break;
    case Family::Mixtral: window = in.integer("sliding_window", 0); break;
    case Family::Qwen2: case Family::Qwen3: case Family::Qwen3Moe:
      window = in.boolean("use_sliding_window", false) ? in.integer("sliding_window", 4096) : 0;
      break;
    case Family::Llama: break;
  }
  hp.sliding_window = to_int(window, "sliding_window", config_path);
  if (gemma) hp.sliding_window_pattern = to_int(in.integer("sliding_window_pattern", 6), "sliding_window_pattern", config_path);
  if (gemma && hp.sliding_window_pattern <= 0) fail("{}: sliding_window_pattern must be positive", config_path);
  std::vector<bool> sliding = sliding_layers(hp, in);
  if (std::find(sliding.begin(), sliding.end(), true) == sliding.end()) hp.sliding_window = 0;
  else if (hp.sliding_window <= 0) fail("{}: layers use sliding attention but 'sliding_window' is not set", config_path);

  // FFN / MoE.
  hp.hidden_act = in.string(gemma ? "hidden_activation" : "hidden_act", gemma ? "gelu_pytorch_tanh" : "silu");
  hp.ffn_act = gemma ? FfnAct::GeluTanhGlu : gptoss ? FfnAct::GptOssSwiglu : FfnAct::SiluGlu;
  std::vector<int> mlp_only;
  int sparse_step = 1;
  switch (hp.family) {
    case Family::Qwen3Moe:
      hp.n_expert = to_int(in.integer("num_experts", 128), "num_experts", config_path);
      hp.n_expert_used = to_int(in.integer("num_experts_per_tok", 8), "num_experts_per_tok", config_path);
      hp.n_ff_expert = to_int(in.integer("moe_intermediate_size", 768), "moe_intermediate_size", config_path);
      hp.norm_topk_prob = in.boolean("norm_topk_prob", false);
      sparse_step = to_int(in.integer("decoder_sparse_step", 1), "decoder_sparse_step", config_path);
      if (in.has("mlp_only_layers")) {
        if (!in.cfg["mlp_only_layers"].is_array()) fail("{}: field 'mlp_only_layers' must be a list", config_path);
        for (const auto& v : in.cfg["mlp_only_layers"]) mlp_only.push_back(v.get<int>());
      }
      break;
    case Family::Mixtral:
      hp.n_expert = to_int(in.integer("num_local_experts", 8), "num_local_experts", config_path);
      hp.n_expert_used = to_int(in.integer("num_experts_per_tok", 2), "num_experts_per_tok", config_path);
      hp.n_ff_expert = hp.n_ff;
      hp.norm_topk_prob = true;  // MixtralSparseMoeBlock always renormalises the top-k weights
      break;
    case Family::GptOss:
      hp.n_expert = to_int(in.integer("num_local_experts", 128), "num_local_experts", config_path);
      hp.n_expert_used = to_int(in.integer("num_experts_per_tok", in.integer("experts_per_token", 4)),
                                "num_experts_per_tok", config_path);
      hp.n_ff_expert = hp.n_ff;
      hp.norm_topk_prob = true;  // softmax over the top-k router logits
      hp.router_bias = true;
      hp.expert_bias = true;
      hp.swiglu_limit = in.number("swiglu_limit", 7.0);
      hp.swiglu_alpha = 1.702;  // hard-coded in GptOssExperts
      break;
    default:
      break;
  }
  if (hp.n_expert > 0 && (hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert))
    fail("{}: num_experts_per_tok ({}) must be between 1 and the expert count ({})", config_path, hp.n_expert_used, hp.n_expert);
  if (sparse_step <= 0) fail("{}: decoder_sparse_step must be positive", config_path);

  hp.layers.resize(hp.n_layer);
  for (int i = 0; i < hp.n_layer; ++i) {
    LayerKind& k = hp.layers[i];
    k.sliding = sliding[i];
    k.window = sliding[i] ? hp.sliding_window : 0;
    k.rope_theta = gemma && sliding[i] ? hp.rope_theta_local : hp.rope_theta;
    k.rope_scaled = !(gemma && sliding[i]);  // gemma3's local rotary embedding is unscaled
    k.moe = hp.n_expert > 0 && std::find(mlp_only.begin(), mlp_only.end(), i) == mlp_only.end() &&
            (i + 1) % sparse_step == 0;
  }

  hp.embed_scale = gemma;
  hp.norm_plus_one = gemma;

  // Native quantization of the released weights.
  const json* qc = nullptr;
  if (config.contains("quantization_config") && config["quantization_config"].is_object()) qc = &config["quantization_config"];
  else if (text->contains("quantization_config") && (*text)["quantization_config"].is_object()) qc = &(*text)["quantization_config"];
  if (qc) {
    std::string method = qc->value("quant_method", std::string());
    if (method == "mxfp4") hp.native_quant = NativeQuant::Mxfp4;
    else if (method == "fp8") hp.native_quant = NativeQuant::Fp8;
  }
  if (gptoss && hp.native_quant == NativeQuant::Mxfp4 && (hp.n_embd % 32 != 0 || hp.n_ff_expert % 32 != 0))
    fail("{}: MXFP4 experts need hidden_size ({}) and intermediate_size ({}) to be multiples of 32", config_path,
         hp.n_embd, hp.n_ff_expert);
  hp.torch_dtype = in.string("torch_dtype", in.string("dtype", ConfigReader{config, config_path}.string("torch_dtype")));
  return hp;
}

}  // namespace lp::arch
