// GGUF architecture metadata, both directions. The keys and their presence follow convert_hf_to_gguf.py
// (TextModel.set_gguf_parameters plus each family's additions) and what llama.cpp's load_hparams reads.
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "arch/arch.h"
#include "arch/families/family.h"
#include "core/error.h"

namespace lp::arch {

namespace {

uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

}  // namespace

std::vector<GgufKv> gguf_metadata(const HParams& hp, const std::string& model_name) {
  std::vector<GgufKv> kv;
  const detail::FamilyDesc& d = detail::family_info(hp.family);
  const std::string a = hp.gguf_arch;
  auto put = [&](const std::string& key, formats::GgufValue v) { kv.push_back({key, std::move(v)}); };
  auto k = [&](const char* suffix) { return a + "." + suffix; };

  put("general.architecture", a);
  put("general.name", model_name);
  put(k("block_count"), u32(hp.n_layer));
  put(k("context_length"), u32(hp.n_ctx_train));
  put(k("embedding_length"), u32(hp.n_embd));
  put(k("feed_forward_length"), u32(hp.n_ff));
  put(k("attention.head_count"), u32(hp.n_head));
  put(k("attention.head_count_kv"), u32(hp.n_head_kv));
  if (hp.rope.type == "linear") {
    put(k("rope.scaling.type"), std::string("linear"));
    put(k("rope.scaling.factor"), static_cast<float>(hp.rope.factor));
  } else if (hp.rope.type == "yarn") {
    put(k("rope.scaling.type"), std::string("yarn"));
    put(k("rope.scaling.factor"), static_cast<float>(hp.rope.factor));
    put(k("rope.scaling.original_context_length"), u32(hp.rope.original_max_position));
    if (hp.rope_scaling.contains("beta_fast")) put(k("rope.scaling.yarn_beta_fast"), static_cast<float>(hp.rope.beta_fast));
    if (hp.rope_scaling.contains("beta_slow")) put(k("rope.scaling.yarn_beta_slow"), static_cast<float>(hp.rope.beta_slow));
  }
  // llama3 rope scaling is carried by the rope_freqs tensor instead (see gguf_tensors).
  if (d.linear_attention) put(k("rope.dimension_sections"), hp.rope_sections);
  put(k("rope.freq_base"), static_cast<float>(hp.rope_theta));
  if (d.local_rope) put(k("rope.freq_base_swa"), static_cast<float>(hp.rope_theta_local));
  put(k("attention.layer_norm_rms_epsilon"), static_cast<float>(hp.rms_eps));
  if (hp.n_expert > 0) {
    put(k("expert_count"), u32(hp.n_expert));
    put(k("expert_used_count"), u32(hp.n_expert_used));
  }
  put(k("attention.key_length"), u32(hp.head_dim));
  put(k("attention.value_length"), u32(hp.head_dim));

  // The family's own keys, in convert_hf_to_gguf.py's order.
  if (d.linear_attention) {  // Qwen3NextModel.set_gguf_parameters
    put(k("ssm.conv_kernel"), u32(hp.ssm_conv_kernel));
    put(k("ssm.state_size"), u32(hp.ssm_head_k_dim));
    put(k("ssm.group_count"), u32(hp.ssm_k_heads));
    put(k("ssm.time_step_rank"), u32(hp.ssm_v_heads));
    put(k("ssm.inner_size"), u32(int64_t{hp.ssm_head_v_dim} * hp.ssm_v_heads));
    put(k("full_attention_interval"), u32(hp.full_attention_interval));
    put(k("rope.dimension_count"), u32(hp.rope_dim));
  }
  if (d.gguf_vocab_and_rope_dims) {
    put(k("vocab_size"), u32(hp.n_vocab));
    put(k("rope.dimension_count"), u32(hp.head_dim));
  }
  if (d.gguf_swa == detail::GgufSwaKeys::Always) put(k("attention.sliding_window"), u32(hp.sliding_window));
  if (d.gguf_expert_ff) put(k("expert_feed_forward_length"), u32(hp.n_ff_expert));
  if (d.gguf_shared_expert_ff && hp.n_ff_shared > 0) put(k("expert_shared_feed_forward_length"), u32(hp.n_ff_shared));
  if (d.gguf_final_softcap && hp.final_logit_softcapping > 0) put(k("final_logit_softcapping"), hp.final_logit_softcapping);
  if (d.gguf_swa == detail::GgufSwaKeys::WhenSliding && hp.sliding_window > 0) {
    put(k("attention.sliding_window"), u32(hp.sliding_window));
    // llama.cpp assumes the family's period when the key is absent (and its converter never writes it).
    if (hp.sliding_window_pattern != d.swa_period) put(k("attention.sliding_window_pattern"), u32(hp.sliding_window_pattern));
  }
  if (d.gguf_keys) d.gguf_keys(hp, kv);
  return kv;
}

namespace {

struct GgufReader {
  const GgufMetaLookup& get;
  std::string arch;

  std::optional<int64_t> integer(const std::string& key) const {
    auto v = get(key);
    if (!v) return std::nullopt;
    if (!formats::gguf_type_is_integer(v->type())) fail("GGUF key '{}' must be an integer", key);
    const int64_t x = v->as_i64(key);
    if (x < std::numeric_limits<int32_t>::min() || x > int64_t{std::numeric_limits<uint32_t>::max()})
      fail("GGUF key '{}' is out of range", key);
    return x;
  }
  std::string key_of(const char* suffix) const { return arch + "." + suffix; }
  int64_t required(const char* suffix) const {
    auto v = integer(arch + "." + suffix);
    if (!v) fail("GGUF: missing required key '{}.{}'", arch, suffix);
    return *v;
  }
  int64_t integer(const char* suffix, int64_t fallback) const { return integer(arch + "." + suffix).value_or(fallback); }
  double number(const char* suffix, double fallback) const {
    auto v = get(key_of(suffix));
    if (!v) return fallback;
    if (formats::gguf_type_is_float(v->type())) return v->as_f32(key_of(suffix));
    if (formats::gguf_type_is_integer(v->type())) return static_cast<double>(*integer(key_of(suffix)));
    fail("GGUF key '{}.{}' must be a number", arch, suffix);
  }
  std::string string(const std::string& key, const std::string& fallback = "") const {
    auto v = get(key);
    if (!v) return fallback;
    if (v->type() == formats::GgufType::STRING) return v->as_string(key);
    fail("GGUF key '{}' must be a string", key);
  }
};

}  // namespace

HParams hparams_from_gguf(const GgufMetaLookup& get) {
  GgufReader in{get, ""};
  in.arch = in.string("general.architecture");
  HParams hp;
  const auto family = family_from_gguf_arch(in.arch, in.integer("expert_count", 0) > 0);
  if (!family) {
    std::vector<std::string_view> known;
    for (const auto& f : detail::family_table())
      if (f.gguf_canonical && std::find(known.begin(), known.end(), f.gguf_arch) == known.end()) known.push_back(f.gguf_arch);
    fail("GGUF: unsupported general.architecture '{}' (supported: {})", in.arch.empty() ? "(absent)" : in.arch,
         fmt::join(known, ", "));
  }
  hp.family = *family;
  const detail::FamilyDesc& d = detail::family_info(hp.family);
  hp.gguf_arch = in.arch;
  hp.mlx_model_type = std::string(d.mlx_model_type);
  hp.model_type = std::string(d.model_types.front());
  hp.config_model_type = hp.model_type;

  hp.n_layer = static_cast<int>(in.required("block_count"));
  hp.n_ctx_train = in.required("context_length");
  hp.n_embd = static_cast<int>(in.required("embedding_length"));
  // Per-layer arrays (gemma4: feed_forward_length with a double-wide MLP, head_count_kv with k = v full layers).
  auto int_array = [&](const char* suffix) -> std::vector<int64_t> {
    auto v = get(in.key_of(suffix));
    if (!v || !v->is_array()) return {};
    auto a = v->as_i64_array(in.key_of(suffix));
    if (a.size() != static_cast<size_t>(hp.n_layer) || std::any_of(a.begin(), a.end(), [](int64_t x) { return x <= 0 || x > (int64_t{1} << 30); }))
      fail("GGUF key '{}' must list one positive value per layer ({})", in.key_of(suffix), hp.n_layer);
    return a;
  };
  const std::vector<int64_t> ff_per_layer = int_array("feed_forward_length");
  const std::vector<int64_t> kv_per_layer = int_array("attention.head_count_kv");
  hp.n_ff = ff_per_layer.empty() ? static_cast<int>(in.integer("feed_forward_length", 0)) : static_cast<int>(ff_per_layer.front());
  hp.n_head = static_cast<int>(in.required("attention.head_count"));
  hp.n_head_kv = kv_per_layer.empty() ? static_cast<int>(in.integer("attention.head_count_kv", hp.n_head))
                                      : static_cast<int>(kv_per_layer.front());
  if (hp.n_layer <= 0 || hp.n_embd <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0)
    fail("GGUF: inconsistent block_count/embedding_length/head counts for '{}'", in.arch);
  hp.head_dim = static_cast<int>(in.integer("attention.key_length", hp.n_embd / hp.n_head));
  hp.n_vocab = static_cast<int>(in.integer("vocab_size", 0));  // else: rows of token_embd
  hp.rms_eps = in.number("attention.layer_norm_rms_epsilon", 1e-6);
  hp.rope_theta = in.number("rope.freq_base", 10000.0);
  hp.rope.type = in.string(in.arch + ".rope.scaling.type");
  if (hp.rope.type == "none") hp.rope.type.clear();
  hp.rope.factor = in.number("rope.scaling.factor", 1.0);
  hp.rope.original_max_position = in.integer("rope.scaling.original_context_length", hp.n_ctx_train);
  hp.rope.beta_fast = in.number("rope.scaling.yarn_beta_fast", 32.0);  // llama.cpp's defaults
  hp.rope.beta_slow = in.number("rope.scaling.yarn_beta_slow", 1.0);
  hp.rope.truncate = false;
  hp.rope_interleaved = d.permute_qk;

  hp.n_expert = static_cast<int>(in.integer("expert_count", 0));
  hp.n_expert_used = static_cast<int>(in.integer("expert_used_count", 0));
  hp.n_ff_expert = hp.n_expert > 0 ? static_cast<int>(in.integer("expert_feed_forward_length", hp.n_ff)) : 0;
  hp.norm_topk_prob = hp.n_expert > 0;
  hp.n_ff_shared = hp.n_expert > 0 ? static_cast<int>(in.integer("expert_shared_feed_forward_length", 0)) : 0;
  hp.n_shared_expert = hp.n_ff_shared > 0 ? 1 : 0;
  hp.router_gating = d.router_gating;
  hp.router_bias = hp.expert_bias = d.expert_biases;
  if (d.expert_biases) {
    hp.swiglu_limit = 7.0;  // hard-coded in llama.cpp and transformers
    hp.swiglu_alpha = 1.702;
  }
  hp.qk_norm = d.qk_norm;
  hp.attn_qkv_bias = d.qkv_bias || d.default_attention_bias;
  hp.attn_o_bias = !d.qkv_bias && d.default_attention_bias;
  hp.attn_sinks = d.attn_sinks;
  hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));  // llama.cpp's choice for gemma3 too
  hp.final_logit_softcapping = static_cast<float>(in.number("final_logit_softcapping", 0));
  hp.ffn_act = d.ffn_act;
  hp.hidden_act = d.hidden_act_default;
  hp.embed_scale = d.embed_scale;
  hp.norm_plus_one = false;  // GGUF (1 + w) norms already hold w + 1

  // Sliding layers as llama.cpp's load_hparams sets them: gemma3 only when a window is set, with a period of
  // sliding_window_pattern (default 6); gpt-oss always, period 2. Local layers' rope base: rope.freq_base_swa
  // (gemma3 default 10000 and unscaled; gpt-oss default the global base, scaled like it).
  hp.sliding_window = static_cast<int>(in.integer("attention.sliding_window", 0));
  std::vector<bool> swa_per_layer;  // gemma4: the pattern as one bool per layer
  if (auto v = get(in.key_of("attention.sliding_window_pattern")); v && v->is_array()) {
    swa_per_layer = v->as_bool_array(in.key_of("attention.sliding_window_pattern"));
    if (swa_per_layer.size() != static_cast<size_t>(hp.n_layer))
      fail("GGUF key '{}.attention.sliding_window_pattern' must list one value per layer ({})", in.arch, hp.n_layer);
  }
  int period = 0;
  if (swa_per_layer.empty() && d.sliding == detail::SlidingRule::Period &&
      (d.gguf_swa == detail::GgufSwaKeys::Always || hp.sliding_window > 0))
    period = static_cast<int>(in.integer("attention.sliding_window_pattern", d.swa_period));
  if (period < 0) fail("GGUF key '{}.attention.sliding_window_pattern' must not be negative", in.arch);
  hp.sliding_window_pattern = d.pattern_in_config ? period : 0;
  if (d.local_rope) hp.rope_theta_local = in.number("rope.freq_base_swa", 10000.0);
  else if (d.sliding == detail::SlidingRule::Period) hp.rope_theta_local = in.number("rope.freq_base_swa", hp.rope_theta);
  hp.layers.resize(hp.n_layer);
  for (int i = 0; i < hp.n_layer; ++i) {
    LayerKind& l = hp.layers[i];
    // llama.cpp set_swa_pattern: a period of 0 makes every layer slide
    l.sliding = d.sliding == detail::SlidingRule::Period && hp.sliding_window > 0 &&
                (period == 0 || (i % period) < period - 1);
    if (!swa_per_layer.empty()) l.sliding = swa_per_layer[static_cast<size_t>(i)];
    if (!ff_per_layer.empty()) l.n_ff = static_cast<int>(ff_per_layer[static_cast<size_t>(i)]);
    if (!kv_per_layer.empty()) l.n_head_kv = static_cast<int>(kv_per_layer[static_cast<size_t>(i)]);
    l.window = l.sliding ? hp.sliding_window : 0;
    l.rope_theta = l.sliding && hp.rope_theta_local > 0 ? hp.rope_theta_local : hp.rope_theta;
    l.rope_scaled = !(d.local_rope && l.sliding);
    l.moe = hp.n_expert > 0;
  }
  if (hp.family == Family::Gemma4) {  // llama.cpp's llama_model_gemma4::load_arch_hparams
    hp.head_dim_global = hp.head_dim;  // key_length: the full-attention layers' head size
    hp.head_dim = static_cast<int>(in.required("attention.key_length_swa"));
    hp.n_embd_per_layer = static_cast<int>(in.required("embedding_length_per_layer_input"));
    hp.n_kv_shared_layers = static_cast<int>(in.integer("attention.shared_kv_layers", 0));
    if (hp.head_dim <= 0 || hp.head_dim_global <= 0 || hp.n_embd_per_layer < 0 || hp.n_kv_shared_layers < 0 ||
        hp.n_kv_shared_layers >= hp.n_layer || hp.sliding_window <= 0 || swa_per_layer.empty())
      fail("GGUF: inconsistent gemma4 keys (key_length{{,_swa}}, embedding_length_per_layer_input, "
           "attention.shared_kv_layers, attention.sliding_window{{,_pattern}})");
    hp.attn_scale = 1.0f;
    hp.layer_scalar = true;
    hp.rope_partial_global = 0;  // carried by the rope_freqs tensor, not by metadata
    for (int i = 0; i < hp.n_layer; ++i) {
      LayerKind& l = hp.layers[i];
      l.window = l.sliding ? hp.sliding_window : 0;
      l.rope_theta = l.sliding ? hp.rope_theta_local : hp.rope_theta;
      l.rope_scaled = false;
      if (!l.sliding) l.head_dim = hp.head_dim_global;
      l.kv_shared = i >= hp.n_layer - hp.n_kv_shared_layers;
    }
  }
  if (d.linear_attention) {  // llama.cpp's llama_model_qwen35::load_arch_hparams
    hp.ssm_conv_kernel = static_cast<int>(in.required("ssm.conv_kernel"));
    hp.ssm_head_k_dim = hp.ssm_head_v_dim = static_cast<int>(in.required("ssm.state_size"));
    hp.ssm_k_heads = static_cast<int>(in.required("ssm.group_count"));
    hp.ssm_v_heads = static_cast<int>(in.required("ssm.time_step_rank"));
    if (hp.ssm_k_heads <= 0 || hp.ssm_v_heads <= 0 || hp.ssm_v_heads % hp.ssm_k_heads != 0 ||
        in.required("ssm.inner_size") != int64_t{hp.ssm_head_v_dim} * hp.ssm_v_heads)
      fail("GGUF: inconsistent {}.ssm.* keys (group_count, time_step_rank, state_size, inner_size)", in.arch);
    hp.full_attention_interval = static_cast<int>(in.integer("full_attention_interval", 4));
    if (hp.full_attention_interval <= 0) fail("GGUF key '{}.full_attention_interval' must be positive", in.arch);
    hp.attn_output_gate = true;
    hp.rope_dim = static_cast<int>(in.integer("rope.dimension_count", hp.head_dim));
    hp.norm_plus_one = false;
    for (int i = 0; i < hp.n_layer; ++i) hp.layers[i].recurrent = (i + 1) % hp.full_attention_interval != 0;
  }
  return hp;
}

}  // namespace lp::arch
