#include "plan/gguf_plan.h"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "core/error.h"
#include "core/units.h"
#include "quant/quantize.h"

namespace lp::plan {
namespace {

using arch::Role;

// llama.cpp's broad tensor categories (llama-quant.cpp tensor_category), derived from roles.
enum class Category { TokenEmbd, AttnQ, AttnK, AttnV, AttnOut, FfnUp, FfnGate, FfnDown, Output, Other };

Category category_of(Role r) {
  switch (r) {
    // llama.cpp's tensor_name_match_token_embd: gemma4's per-layer table is a token embedding too (so in a tied model
    // it takes the output projection's type, Q6_K in Q4_K_M, exactly as llama-quantize does).
    case Role::TokenEmbd: case Role::PleEmbd: return Category::TokenEmbd;
    case Role::Output: return Category::Output;
    case Role::AttnQ: return Category::AttnQ;
    case Role::AttnK: return Category::AttnK;
    case Role::AttnV: return Category::AttnV;
    // llama.cpp's category_is_attn_v: attn_qkv (qwen35's fused linear-attention q/k/v) is ranked like attn_v, and
    // counts towards its use_more_bits ordinal (one such tensor per layer, so the layer index is that ordinal).
    case Role::SsmQkv: return Category::AttnV;
    case Role::AttnO: return Category::AttnOut;
    case Role::FfnUp: case Role::ExpertUp: case Role::SharedExpertUp: return Category::FfnUp;
    case Role::FfnGate: case Role::ExpertGate: case Role::SharedExpertGate: return Category::FfnGate;
    case Role::FfnDown: case Role::ExpertDown: case Role::SharedExpertDown: return Category::FfnDown;
    default: return Category::Other;
  }
}

bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

bool is_k_quant(GgmlType t) {
  return t == GgmlType::Q2_K || t == GgmlType::Q3_K || t == GgmlType::Q4_K || t == GgmlType::Q5_K ||
         t == GgmlType::Q6_K;
}

struct Decision {
  GgmlType type;
  std::string rule;
  std::string reason;
};

// Role-level facts about the model the rules need.
struct ModelFacts {
  int n_layer = 0;
  int n_expert = 0;
  int n_gqa = 1;
  bool tied = false;
};

// The i-quant presets below 2.7 bits (llama.cpp's IQ2_XXS, IQ2_XS, IQ1_S, IQ2_S, IQ2_M, IQ1_M branch).
bool is_low_bit(Preset p) {
  using P = Preset;
  return p == P::IQ2_XXS || p == P::IQ2_XS || p == P::IQ1_S || p == P::IQ2_S || p == P::IQ2_M || p == P::IQ1_M;
}

// llama.cpp's rules for the i-quant mixes below 2.7 bits (every tensor but output / token embeddings).
// i_ffn_down: ordinal of this ffn_down tensor among the model's (llama.cpp counts them, not layers).
Decision low_bit_rule(const ModelFacts& m, Preset preset, Category cat, int i_ffn_down) {
  using P = Preset;
  const GgmlType base = preset_base_type(preset);
  const bool iq2_s_m = preset == P::IQ2_S || preset == P::IQ2_M;
  if (cat == Category::AttnV) {
    if (m.n_gqa >= 4 || m.n_expert >= 4) return {GgmlType::Q4_K, "llama.cpp:attn_v", "attn_v at Q4_K (GQA >= 4 or MoE)"};
    return {iq2_s_m ? GgmlType::IQ3_S : GgmlType::Q2_K, "llama.cpp:attn_v", "attn_v raised in a sub-3-bit i-quant mix"};
  }
  if (m.n_expert == 8 && cat == Category::AttnK)
    return {GgmlType::Q4_K, "llama.cpp:attn_k", "attn_k at Q4_K in 8-expert models"};
  if (cat == Category::FfnDown && i_ffn_down < m.n_layer / 8)
    return {iq2_s_m ? GgmlType::IQ3_S : GgmlType::Q2_K, "llama.cpp:ffn_down", "ffn_down of the first eighth raised"};
  if (cat == Category::AttnOut) {
    if (m.n_expert == 8) return {GgmlType::Q5_K, "llama.cpp:attn_output", "attn_output at Q5_K in 8-expert models"};
    if (preset == P::IQ1_S || preset == P::IQ1_M)
      return {GgmlType::IQ2_XXS, "llama.cpp:attn_output", "attn_output at IQ2_XXS in IQ1 mixes"};
    if (iq2_s_m) return {GgmlType::IQ3_S, "llama.cpp:attn_output", "attn_output at IQ3_S in IQ2_S/IQ2_M"};
  }
  return {base, "preset", "preset type"};
}

// llama.cpp's llama_tensor_get_type_impl for the presets we offer, over roles instead of names.
Decision llama_cpp_rule(const ModelFacts& m, Preset preset, const arch::GgufTensorRecipe& t, bool has_imatrix,
                        int i_ffn_down) {
  const GgmlType base = preset_base_type(preset);
  const Category cat = category_of(t.role);
  const int layer = t.layer;
  const int n = m.n_layer;
  using P = Preset;

  if (t.role == Role::PleModelProj)  // llama-quant.cpp: "these are not too big so keep them as it is"
    return {GgmlType::F16, "llama.cpp:per_layer_model_proj", "per_layer_model_proj is never quantized by llama.cpp: F16"};

  if (cat == Category::Output || (m.tied && cat == Category::TokenEmbd)) {
    const char* what = cat == Category::Output ? "output projection" : "token embeddings (tied: also the output projection)";
    if (preset == P::MXFP4_MOE) return {GgmlType::Q8_0, "llama.cpp:output", fmt::format("{} kept at Q8_0 in MXFP4_MOE", what)};
    if (t.ne[0] % ggml_traits(base).block_size != 0)
      return {GgmlType::Q8_0, "llama.cpp:output", fmt::format("{}: rows not a multiple of the block size", what)};
    if (is_low_bit(preset) || preset == P::IQ3_XXS)
      return {GgmlType::Q5_K, "llama.cpp:output", fmt::format("{}: Q5_K in the IQ1/IQ2/IQ3_XXS mixes", what)};
    if (base != GgmlType::Q8_0)
      return {GgmlType::Q6_K, "llama.cpp:output", fmt::format("{}: every token's logits go through it", what)};
    return {base, "preset", "preset type"};
  }
  if (preset == P::MXFP4_MOE) {
    if (t.ne.size() > 2 && t.ne[2] > 1) return {GgmlType::MXFP4, "llama.cpp:mxfp4_moe", "expert tensor: MXFP4 in MXFP4_MOE"};
    return {GgmlType::Q8_0, "llama.cpp:mxfp4_moe", "non-expert tensor: Q8_0 in MXFP4_MOE"};
  }
  if (cat == Category::TokenEmbd) {
    if (preset == P::IQ2_XXS || preset == P::IQ2_XS || preset == P::IQ1_S || preset == P::IQ1_M)
      return {GgmlType::Q2_K, "llama.cpp:token_embd", "token embeddings at Q2_K in IQ1/IQ2_XXS/IQ2_XS"};
    if (preset == P::IQ2_S || preset == P::IQ2_M || preset == P::IQ3_XXS)
      return {GgmlType::IQ3_S, "llama.cpp:token_embd", "token embeddings at IQ3_S"};
    return {base, "preset", "token embeddings at the preset type (a lookup, not a matmul)"};
  }
  if (is_low_bit(preset)) return low_bit_rule(m, preset, cat, i_ffn_down);

  if (cat == Category::AttnV) {
    GgmlType type = base;
    std::string why;
    if (preset == P::Q2_K) {
      type = m.n_gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
      why = "attn_v raised in Q2_K";
    } else if (preset == P::IQ3_XXS) {
      type = m.n_gqa >= 4 ? GgmlType::Q4_K : !has_imatrix ? GgmlType::IQ3_S : GgmlType::IQ3_XXS;
      why = m.n_gqa >= 4 ? "attn_v at Q4_K (GQA >= 4)" : "attn_v at IQ3_S without an imatrix";
    } else if ((preset == P::IQ3_XS || preset == P::IQ3_S) && m.n_gqa >= 4) {
      type = GgmlType::Q4_K;
      why = "attn_v at Q4_K (GQA >= 4)";
    } else if (preset == P::IQ3_M) {
      type = GgmlType::Q4_K;
      why = "attn_v at Q4_K in IQ3_M";
    } else if (preset == P::Q3_K_M) {
      type = layer < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
      why = layer < 2 ? "attn_v of the first two layers at Q5_K" : "attn_v at Q4_K in Q3_K_M";
    } else if (preset == P::Q3_K_L) {
      type = GgmlType::Q5_K;
      why = "attn_v at Q5_K in Q3_K_L";
    } else if ((preset == P::IQ4_NL || preset == P::IQ4_XS) && m.n_gqa >= 4) {
      type = GgmlType::Q5_K;
      why = "attn_v at Q5_K (GQA >= 4)";
    } else if ((preset == P::Q4_K_M || preset == P::Q5_K_M) && use_more_bits(layer, n)) {
      type = GgmlType::Q6_K;
      why = "attn_v on a use_more_bits layer (first/last eighth, every third)";
    } else if (preset == P::Q4_K_S && layer < 4) {
      type = GgmlType::Q5_K;
      why = "attn_v of the first four layers at Q5_K";
    }
    if (m.n_expert == 8) {
      type = GgmlType::Q8_0;
      why = "attn_v at Q8_0 in 8-expert models (attention is a small share of an MoE)";
    }
    if (type != base) return {type, "llama.cpp:attn_v", why};
    return {base, "preset", "preset type"};
  }
  if (cat == Category::AttnK && m.n_expert == 8)
    return {GgmlType::Q8_0, "llama.cpp:attn_k", "attn_k at Q8_0 in 8-expert models"};
  if ((cat == Category::AttnK || cat == Category::AttnQ) && (preset == P::IQ3_XS || preset == P::IQ3_XXS))
    return {preset == P::IQ3_XS ? GgmlType::IQ3_XXS : GgmlType::IQ2_S, "llama.cpp:attn_qk",
            "attn_q/attn_k one step below the mix (their errors are softened by the softmax)"};
  if ((cat == Category::FfnGate || cat == Category::FfnUp) && preset == P::IQ3_XS && layer >= n / 8 &&
      layer < 7 * n / 8)
    return {GgmlType::IQ3_XXS, "llama.cpp:ffn_up_gate", "ffn_up/gate of the middle layers at IQ3_XXS in IQ3_XS"};
  if (cat == Category::FfnDown) {
    GgmlType type = base;
    std::string why;
    if (preset == P::Q2_K) {
      type = GgmlType::Q3_K;
      why = "ffn_down raised in Q2_K";
    } else if (preset == P::IQ3_XXS && !has_imatrix) {
      type = layer < n / 8 ? GgmlType::Q4_K : GgmlType::Q3_K;
      why = "ffn_down at a K-quant in IQ3_XXS without an imatrix";
    } else if (preset == P::IQ3_M && (layer < n / 8 || (m.n_expert == 8 && use_more_bits(layer, n)))) {
      type = GgmlType::Q4_K;
      why = "ffn_down of the first eighth at Q4_K in IQ3_M";
    } else if (preset == P::Q3_K_M) {
      type = layer < n / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
      why = layer < n / 16 ? "ffn_down of the first sixteenth of layers at Q5_K" : "ffn_down at Q4_K in Q3_K_M";
    } else if (preset == P::Q3_K_L) {
      type = GgmlType::Q5_K;
      why = "ffn_down at Q5_K in Q3_K_L";
    } else if (preset == P::Q4_K_M && use_more_bits(layer, n)) {
      type = GgmlType::Q6_K;
      why = "ffn_down on a use_more_bits layer";
    } else if (layer < n / 8 && (preset == P::IQ4_NL || preset == P::IQ4_XS) && !has_imatrix) {
      type = GgmlType::Q5_K;
      why = "ffn_down of the first eighth at Q5_K (no imatrix)";
    } else if (preset == P::Q5_K_M && use_more_bits(layer, n)) {
      type = GgmlType::Q6_K;
      why = "ffn_down on a use_more_bits layer";
    } else if (preset == P::Q4_K_S && layer < n / 8) {
      type = GgmlType::Q5_K;
      why = "ffn_down of the first eighth at Q5_K";
    } else if ((preset == P::Q4_0 || preset == P::Q5_0) && has_imatrix && layer < n / 8) {
      type = preset == P::Q4_0 ? GgmlType::Q4_1 : GgmlType::Q5_1;
      why = "ffn_down of the first eighth with an offset type (imatrix)";
    }
    if (type != base) return {type, "llama.cpp:ffn_down", why};
    return {base, "preset", "preset type"};
  }
  if (cat == Category::AttnOut) {
    if (m.n_expert == 8) {
      if (preset == P::Q2_K || preset == P::Q3_K_S || preset == P::Q3_K_M || preset == P::IQ4_NL ||
          preset == P::Q4_K_S || preset == P::Q4_K_M || preset == P::IQ4_XS || preset == P::IQ3_XS ||
          preset == P::IQ3_XXS || preset == P::IQ3_S || preset == P::IQ3_M)
        return {GgmlType::Q5_K, "llama.cpp:attn_output", "attn_output at Q5_K in 8-expert models"};
    } else {
      if (preset == P::Q2_K) return {GgmlType::Q3_K, "llama.cpp:attn_output", "attn_output raised in Q2_K"};
      if (preset == P::IQ3_XXS) return {GgmlType::IQ3_S, "llama.cpp:attn_output", "attn_output at IQ3_S in IQ3_XXS"};
      if (preset == P::IQ3_M) return {GgmlType::Q4_K, "llama.cpp:attn_output", "attn_output at Q4_K in IQ3_M"};
      if (preset == P::Q3_K_M) return {GgmlType::Q4_K, "llama.cpp:attn_output", "attn_output at Q4_K in Q3_K_M"};
      if (preset == P::Q3_K_L) return {GgmlType::Q5_K, "llama.cpp:attn_output", "attn_output at Q5_K in Q3_K_L"};
    }
  }
  return {base, "preset", "preset type"};
}

// Rules that need the architecture (roles, layer kinds, native formats). Applied on top of llama.cpp's mix.
Decision architecture_rule(const arch::HParams& hp, const ModelFacts& m, Preset preset,
                           const arch::GgufTensorRecipe& t, Decision d, double kv_share) {
  const GgmlType base = preset_base_type(preset);
  if (!ggml_traits(base).quantized || preset == Preset::MXFP4_MOE) return d;
  const Category cat = category_of(t.role);

  if (t.native_mxfp4)
    return {GgmlType::MXFP4, "arch:native_mxfp4",
            "experts ship as MXFP4 in the checkpoint: kept bit-exact instead of re-quantized (no added error, "
            "and smaller than most 4-bit K-quants)"};

  if (arch::role_is_shared_expert(t.role)) {
    GgmlType up = step_up(step_up(base));
    if (ggml_type_bpw(up) > ggml_type_bpw(d.type))
      return {up, "arch:shared_expert", "shared expert runs for every token: two steps above routed experts"};
  }

  const bool layer_known = t.layer >= 0 && t.layer < static_cast<int>(hp.layers.size());
  const bool mixed_attention = std::any_of(hp.layers.begin(), hp.layers.end(), [](const arch::LayerKind& k) { return k.sliding; }) &&
                               std::any_of(hp.layers.begin(), hp.layers.end(), [](const arch::LayerKind& k) { return !k.sliding; });
  if (mixed_attention && layer_known && !hp.layers[t.layer].sliding &&
      (cat == Category::AttnQ || cat == Category::AttnK || cat == Category::AttnV || cat == Category::AttnOut)) {
    GgmlType up = step_up(d.type);
    if (up != d.type)
      return {up, "arch:global_attention",
              fmt::format("full-attention layer ({}) among sliding-window layers: it alone carries long-range "
                          "context, one step above", hp.sliding_window_pattern > 0 ? fmt::format("1 in {}", hp.sliding_window_pattern) : "1 in 2")};
  }

  if (m.n_gqa >= 2 && (t.role == Role::AttnV || t.role == Role::AttnK) && kv_share < 0.10 && is_k_quant(base)) {
    GgmlType target = cat == Category::AttnV ? std::max(step_up(step_up(base)), d.type, [](GgmlType a, GgmlType b) {
      return ggml_type_bpw(a) < ggml_type_bpw(b);
    })
                                              : step_up(base);
    if (target == GgmlType::Q8_0 && d.type != GgmlType::Q8_0) target = GgmlType::Q6_K;
    if (ggml_type_bpw(target) > ggml_type_bpw(d.type))
      return {target, "arch:gqa_kv",
              fmt::format("GQA {}:1: each k/v head serves {} query heads and k/v are only {:.1f}% of the weights, "
                          "so extra bits here are cheap", m.n_gqa, m.n_gqa, 100 * kv_share)};
  }
  return d;
}

}  // namespace

uint64_t tensor_bytes(GgmlType type, const std::vector<int64_t>& ne) {
  if (ne.empty()) return 0;
  uint64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) rows *= static_cast<uint64_t>(ne[i]);
  return rows * ggml_row_bytes(type, static_cast<uint64_t>(ne[0]));
}

GgmlType row_fallback_type(GgmlType wanted, int64_t ncols) { return quant::fallback_type(wanted, ncols); }

bool tensor_requires_imatrix(arch::Role role, GgmlType type) {
  if (role == Role::TokenEmbd || role == Role::Output || role == Role::PleEmbd) return false;
  switch (type) {
    case GgmlType::IQ3_XXS: case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S:
    case GgmlType::IQ1_M: case GgmlType::IQ1_S:
      return true;
    default:
      return false;
  }
}

GgmlType step_up(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K: return GgmlType::Q3_K;
    case GgmlType::Q3_K: return GgmlType::Q4_K;
    case GgmlType::Q4_K: return GgmlType::Q5_K;
    case GgmlType::Q5_K: return GgmlType::Q6_K;
    case GgmlType::Q6_K: return GgmlType::Q8_0;
    case GgmlType::IQ4_XS: case GgmlType::IQ4_NL: return GgmlType::Q5_K;
    case GgmlType::Q4_0: return GgmlType::Q5_0;
    case GgmlType::Q4_1: return GgmlType::Q5_1;
    case GgmlType::Q5_0: case GgmlType::Q5_1: return GgmlType::Q8_0;
    case GgmlType::MXFP4: return GgmlType::Q8_0;
    default: return t;
  }
}

GgufPlan plan_gguf(const arch::HParams& hp, const std::vector<arch::GgufTensorRecipe>& recipes,
                   const GgufPlanOptions& options) {
  // MXFP4_MOE changes only routed-expert tensors (the rest is Q8_0): on a dense model it would be a Q8_0-sized
  // file labelled MXFP4, so it is refused with the reason rather than written under a misleading name.
  if (options.preset == Preset::MXFP4_MOE && hp.n_expert == 0)
    fail("--precision mxfp4_moe: the model is dense (no MoE expert tensors); MXFP4_MOE quantizes only expert weights "
         "to MXFP4 and keeps everything else at Q8_0, so this would be a Q8_0 file under an MXFP4 label. Use q8_0, or a "
         "4-bit preset such as q4_k_m / iq4_nl");
  GgufPlan plan;
  plan.preset = options.preset;
  plan.architecture_aware = options.architecture_aware;
  plan.label = options.label;

  ModelFacts m;
  m.n_layer = hp.n_layer;
  m.n_expert = hp.n_expert;
  m.n_gqa = hp.n_head_kv > 0 ? hp.n_head / hp.n_head_kv : 1;
  m.tied = std::none_of(recipes.begin(), recipes.end(), [](const auto& r) { return r.role == Role::Output; });

  uint64_t all_params = 0, kv_params = 0;
  for (const auto& r : recipes) {
    uint64_t n = 1;
    for (int64_t d : r.ne) n *= static_cast<uint64_t>(d);
    all_params += n;
    if ((r.role == Role::AttnK || r.role == Role::AttnV) && !r.is_bias) kv_params += n;
  }
  const double kv_share = all_params ? static_cast<double>(kv_params) / static_cast<double>(all_params) : 0;

  struct CompiledOverride {
    std::regex re;
    const TypeOverride* src;
    int hits = 0;
  };
  std::vector<CompiledOverride> overrides;
  for (const auto& o : options.overrides) {
    try {
      overrides.push_back({std::regex(o.pattern), &o});
    } catch (const std::regex_error& e) {
      fail("--tensor-type: '{}' is not a valid regular expression: {}", o.pattern, e.what());
    }
  }

  const GgmlType base = preset_base_type(options.preset);
  int i_ffn_down = 0;  // llama.cpp's qs.i_ffn_down: ffn_down tensors seen so far
  for (const auto& r : recipes) {
    PlannedTensor p;
    p.recipe = r;
    p.n_params = 1;
    for (int64_t d : r.ne) p.n_params *= static_cast<uint64_t>(d);
    p.quantizable = !r.force_f32 && !r.is_bias && arch::role_is_matrix(r.role) && r.ne.size() >= 2 &&
                    r.role != Role::Router && r.role != Role::SharedExpertRouter;

    Decision d{GgmlType::F32, "f32", ""};
    if (!p.quantizable) {
      if (r.role == Role::Router || r.role == Role::SharedExpertRouter)
        d = {GgmlType::F32, "arch:router", "router: tiny, and every routing decision depends on it; kept F32"};
      else if (arch::role_is_norm(r.role))
        d = {GgmlType::F32, "f32", "norm weights: 1-D, kept F32"};
      else if (r.is_bias)
        d = {GgmlType::F32, "f32", "bias: 1-D, kept F32"};
      else
        d = {GgmlType::F32, "f32", "kept F32 (llama.cpp requires it)"};
    } else if (r.native_mxfp4 && (options.preset == Preset::F16 || options.preset == Preset::BF16)) {
      d = {GgmlType::MXFP4, "native_mxfp4", "native MXFP4 experts kept as in the checkpoint (as convert_hf_to_gguf does)"};
    } else if (preset_is_float(options.preset)) {
      d = {base, "preset", "preset type"};
    } else {
      if (r.role == Role::TokenEmbd && options.token_embd_type && !m.tied) {
        d = {*options.token_embd_type, "user", "--token-embedding-type"};
      } else if ((r.role == Role::Output || (m.tied && r.role == Role::TokenEmbd)) && options.output_type) {
        d = {*options.output_type, "user", "--output-tensor-type"};
      } else {
        d = llama_cpp_rule(m, options.preset, r, options.has_imatrix, i_ffn_down);
        if (options.architecture_aware) d = architecture_rule(hp, m, options.preset, r, d, kv_share);
      }
      if (auto a = options.assigned.find(r.gguf_name); a != options.assigned.end()) {
        d = {a->second.type, a->second.rule, a->second.reason};
        p.sensitivity = a->second.sensitivity;
      }
    }

    bool manual = false;
    for (auto& o : overrides) {
      if (!std::regex_search(r.gguf_name, o.re)) continue;
      ++o.hits;
      if (!p.quantizable) break;  // reported below if the pattern never hits a quantizable tensor
      d = {o.src->type, "user", fmt::format("--tensor-type {}={}", o.src->pattern, ggml_type_name(o.src->type))};
      p.sensitivity.reset();
      manual = true;
      break;
    }

    if (p.quantizable) {
      const int64_t ncols = r.ne[0];
      if (ncols % ggml_traits(d.type).block_size != 0) {
        if (manual)
          fail("--tensor-type {}: {} has rows of {} values, not a multiple of {}'s block of {}", d.reason, r.gguf_name,
               ncols, ggml_type_name(d.type), ggml_traits(d.type).block_size);
        GgmlType f = row_fallback_type(d.type, ncols);
        d.reason += fmt::format("; rows of {} are not a multiple of {}'s block ({}), fell back to {}", ncols,
                                ggml_type_name(d.type), ggml_traits(d.type).block_size, ggml_type_name(f));
        d.rule += "+fallback";
        d.type = f;
      }
    }
    if (p.quantizable && category_of(r.role) == Category::FfnDown) ++i_ffn_down;
    p.type = d.type;
    p.rule = d.rule;
    p.reason = d.reason;
    p.bytes = tensor_bytes(p.type, r.ne);
    plan.total_bytes += p.bytes;
    plan.total_params += p.n_params;
    plan.tensors.push_back(std::move(p));
  }

  for (const auto& o : overrides) {
    if (o.hits == 0) fail("--tensor-type {}: the pattern matches no tensor of this model", o.src->pattern);
    bool any_quantizable = false;
    std::regex re(o.src->pattern);
    for (const auto& p : plan.tensors)
      if (p.quantizable && std::regex_search(p.recipe.gguf_name, re)) any_quantizable = true;
    if (!any_quantizable)
      fail("--tensor-type {}: it matches only tensors that are never quantized (norms, biases, routers)", o.src->pattern);
  }
  return plan;
}

nlohmann::json to_json(const GgufPlan& plan) {
  nlohmann::json j;
  j["format"] = "gguf";
  j["precision"] = plan.precision_name();
  j["architecture_aware"] = plan.architecture_aware;
  j["total_bytes"] = plan.total_bytes;
  j["total_params"] = plan.total_params;
  j["bpw"] = plan.bpw();
  auto& arr = j["tensors"] = nlohmann::json::array();
  for (const auto& p : plan.tensors) {
    arr.push_back({{"name", p.recipe.gguf_name},
                   {"role", std::string(arch::role_name(p.recipe.role))},
                   {"layer", p.recipe.layer},
                   {"shape", p.recipe.ne},
                   {"type", ggml_type_name(p.type)},
                   {"bytes", p.bytes},
                   {"params", p.n_params},
                   {"rule", p.rule},
                   {"reason", p.reason}});
    if (p.sensitivity) arr.back()["sensitivity"] = *p.sensitivity;
  }
  return j;
}

std::string to_table(const GgufPlan& plan, bool verbose) {
  std::string out = fmt::format("GGUF plan {} ({}architecture-aware)\n", plan.precision_name(),
                                plan.architecture_aware ? "" : "not ");
  const bool any_sensitivity = std::any_of(plan.tensors.begin(), plan.tensors.end(), [](const auto& p) { return p.sensitivity.has_value(); });
  out += fmt::format("{:<34} {:<18} {:>4} {:<20} {:>8} {:>10}{}  {}\n", "tensor", "role", "lyr", "shape", "type",
                     "bytes", any_sensitivity ? fmt::format(" {:>11}", "sensitivity") : "", "reason");
  for (const auto& p : plan.tensors) {
    if (!verbose && !p.quantizable && p.type == GgmlType::F32 && p.rule == "f32") continue;
    std::string shape;
    for (size_t i = 0; i < p.recipe.ne.size(); ++i) shape += (i ? "x" : "") + std::to_string(p.recipe.ne[i]);
    std::string sens;
    if (any_sensitivity) sens = p.sensitivity ? fmt::format(" {:>11.3e}", *p.sensitivity) : fmt::format(" {:>11}", "-");
    out += fmt::format("{:<34} {:<18} {:>4} {:<20} {:>8} {:>10}{}  {}\n", p.recipe.gguf_name,
                       arch::role_name(p.recipe.role), p.recipe.layer < 0 ? std::string("-") : std::to_string(p.recipe.layer),
                       shape, ggml_type_name(p.type), p.bytes, sens, p.reason);
  }
  if (!verbose) out += "(norms and biases: F32, hidden; --verbose shows them)\n";
  out += fmt::format("total: {} tensors, {} parameters, {} ({:.3f} bits per weight)\n", plan.tensors.size(),
                     format_count(plan.total_params), format_bytes(plan.total_bytes), plan.bpw());
  return out;
}

}  // namespace lp::plan
