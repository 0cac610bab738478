// llama.cpp's tensor names (src/llama-arch.cpp LLM_TENSOR_NAMES) and layouts (convert_hf_to_gguf.py) per role.
#include <fmt/format.h>

#include <map>

#include "arch/arch.h"
#include "arch/families/family.h"
#include "core/error.h"

namespace lp::arch {

namespace {

// Base name without ".weight"/".bias"; nullptr when the role has no GGUF tensor of its own.
const char* gguf_base(Family f, Role r) {
  switch (r) {
    case Role::TokenEmbd: return "token_embd";
    case Role::Output: return "output";
    case Role::OutputNorm: return "output_norm";
    case Role::RopeFreqs: return "rope_freqs";
    case Role::AttnNorm: return "attn_norm";
    case Role::AttnQ: return "attn_q";
    case Role::AttnK: return "attn_k";
    case Role::AttnV: return "attn_v";
    case Role::AttnO: return "attn_output";
    case Role::AttnQNorm: return "attn_q_norm";
    case Role::AttnKNorm: return "attn_k_norm";
    case Role::AttnSinks: return "attn_sinks";
    case Role::AttnPostNorm: return "post_attention_norm";
    case Role::FfnNorm: return detail::family_info(f).gguf_ffn_norm;
    case Role::FfnPostNorm: return "post_ffw_norm";
    case Role::FfnGate: return "ffn_gate";
    case Role::FfnUp: return "ffn_up";
    case Role::FfnDown: return "ffn_down";
    case Role::Router: return "ffn_gate_inp";
    case Role::ExpertGate: return "ffn_gate_exps";
    case Role::ExpertUp: return "ffn_up_exps";
    case Role::ExpertDown: return "ffn_down_exps";
    case Role::ExpertGateUp: return nullptr;  // split into ffn_gate_exps + ffn_up_exps
    case Role::SharedExpertGate: return "ffn_gate_shexp";
    case Role::SharedExpertUp: return "ffn_up_shexp";
    case Role::SharedExpertDown: return "ffn_down_shexp";
    case Role::SharedExpertRouter: return "ffn_gate_inp_shexp";
    case Role::SsmQkv: return "attn_qkv";
    case Role::SsmGate: return "attn_gate";
    case Role::SsmBeta: return "ssm_beta";
    case Role::SsmAlpha: return "ssm_alpha";
    case Role::SsmConv1d: return "ssm_conv1d";
    case Role::SsmDt: return "ssm_dt";
    case Role::SsmA: return "ssm_a";
    case Role::SsmNorm: return "ssm_norm";
    case Role::SsmOut: return "ssm_out";
    case Role::PleEmbd: return "per_layer_token_embd";
    case Role::PleModelProj: return "per_layer_model_proj";
    case Role::PleProjNorm: return "per_layer_proj_norm";
    case Role::PleInpGate: return "inp_gate";
    case Role::PleProj: return "proj";
    case Role::PlePostNorm: return "post_norm";
    case Role::LayerOutScale: return "layer_output_scale";
    case Role::Count: break;
  }
  return nullptr;
}

std::string full_name(Family f, Role r, int layer, bool bias) {
  const char* base = gguf_base(f, r);
  if (!base) return {};
  if (r == Role::SsmA) return fmt::format("blk.{}.{}", layer, base);  // llama.cpp's LLM_TENSOR_SSM_A_NOSCAN: no suffix
  const char* suffix = bias ? "bias" : "weight";
  return layer < 0 ? fmt::format("{}.{}", base, suffix) : fmt::format("blk.{}.{}.{}", layer, base, suffix);
}

std::vector<int64_t> reversed(const std::vector<int64_t>& v) { return {v.rbegin(), v.rend()}; }

// llama.cpp's _LinearAttentionVReorderBase.modify_tensors: which part of each linear-attention tensor has its value
// heads reordered from grouped-by-key-head to tiled.
VHeadOrder vhead_order(const HParams& hp, Role r) {
  VHeadOrder o;
  if (hp.ssm_k_heads <= 0 || hp.ssm_v_heads == hp.ssm_k_heads) return o;
  o.k_heads = hp.ssm_k_heads;
  o.v_per_k = hp.ssm_v_heads / hp.ssm_k_heads;
  switch (r) {
    case Role::SsmQkv: case Role::SsmConv1d:  // the v channels, after q and k
      o.head_dim = hp.ssm_head_v_dim;
      o.offset = 2 * int64_t{hp.ssm_k_heads} * hp.ssm_head_k_dim;
      break;
    case Role::SsmGate: o.head_dim = hp.ssm_head_v_dim; break;
    case Role::SsmBeta: case Role::SsmAlpha: o.head_dim = 1; break;
    case Role::SsmDt: case Role::SsmA: o.head_dim = 1; o.columns = true; break;
    case Role::SsmOut: o.head_dim = hp.ssm_head_v_dim; o.columns = true; break;
    default: return {};
  }
  return o;
}

}  // namespace

std::string gguf_tensor_name(const HParams& hp, Role role, int layer, bool is_bias) {
  return full_name(hp.family, role, layer, is_bias);
}

std::vector<GgufTensorRecipe> gguf_tensors(const HParams& hp, const std::vector<TensorDesc>& tensors) {
  std::vector<GgufTensorRecipe> out;
  const int64_t D = hp.n_embd, F = hp.n_ff_expert, E = hp.n_expert;
  const Family f = hp.family;
  const detail::FamilyDesc& d = detail::family_info(f);

  auto recipe = [&](const TensorDesc& t, std::vector<int64_t> ne, std::vector<std::string> sources, Transform tr) {
    GgufTensorRecipe r;
    r.gguf_name = full_name(f, t.role, t.layer, t.is_bias);
    r.role = t.role;
    r.layer = t.layer;
    r.is_bias = t.is_bias;
    r.ne = std::move(ne);
    r.sources = std::move(sources);
    r.transform = tr;
    r.force_f32 = t.is_bias || role_is_norm(t.role) || t.role == Role::AttnSinks || t.role == Role::Router ||
                  t.role == Role::SharedExpertRouter;  // llama.cpp's converter keeps ffn_gate_inp_shexp F32
    return r;
  };

  // LlamaModel.generate_extra_tensors (llama3 factors); Gemma4Model.generate_extra_tensors (proportional rope of the
  // full-attention layers), written first as the converter yields it before the checkpoint's tensors.
  const bool gemma4_rope = f == Family::Gemma4;
  if (hp.rope.type == "llama3" || gemma4_rope) {
    GgufTensorRecipe r;
    r.gguf_name = "rope_freqs.weight";
    r.role = Role::RopeFreqs;
    r.ne = {(gemma4_rope ? hp.head_dim_global : hp.head_dim) / 2};
    r.transform = Transform::GenerateRopeFreqs;
    r.force_f32 = true;
    out.push_back(std::move(r));
  }

  // Per-expert tensors are gathered per (layer, role) and written as one stacked tensor where the first
  // expert of the group appears; gpt-oss blocks/scales pairs merge the same way.
  std::map<std::pair<int, Role>, std::vector<const TensorDesc*>> experts;
  std::map<std::pair<int, Role>, const TensorDesc*> mx_blocks, mx_scales;
  for (const auto& t : tensors) {
    if (t.expert >= 0) experts[{t.layer, t.role}].push_back(&t);
    if (t.part == Part::MxBlocks) mx_blocks[{t.layer, t.role}] = &t;
    if (t.part == Part::MxScales) mx_scales[{t.layer, t.role}] = &t;
  }

  for (const auto& t : tensors) {
    if (t.role == Role::Output && hp.tied_embeddings) continue;  // llama.cpp falls back to token_embd
    if (t.expert > 0) continue;                                // emitted with expert 0
    if (t.part == Part::MxScales) continue;                     // emitted with its blocks
    if (t.expert == 0) {
      auto& group = experts[{t.layer, t.role}];
      std::vector<std::string> sources(group.size());
      for (const auto* g : group) {
        if (g->expert >= static_cast<int>(group.size())) fail("expert {} of '{}' out of range", g->expert, g->hf_name);
        sources[g->expert] = g->hf_name;
      }
      const auto& s = t.hf_shape;  // [out, in]
      out.push_back(recipe(t, {s[1], s[0], static_cast<int64_t>(group.size())}, sources, Transform::StackExperts));
      continue;
    }
    if (t.role == Role::ExpertGateUp) {  // gpt-oss: rows interleaved, even = gate, odd = up
      TensorDesc gate = t, up = t;
      gate.role = Role::ExpertGate;
      up.role = Role::ExpertUp;
      if (d.hf_fused_expert_halves) {  // transformers 5 [E, 2F, D]: per expert, gate rows then up rows
        out.push_back(recipe(gate, {D, F, E}, {t.hf_name}, Transform::SplitGateUpLower));
        out.push_back(recipe(up, {D, F, E}, {t.hf_name}, Transform::SplitGateUpUpper));
      } else if (t.part == Part::Bias) {
        out.push_back(recipe(gate, {F, E}, {t.hf_name}, Transform::SplitGateUpEven));
        out.push_back(recipe(up, {F, E}, {t.hf_name}, Transform::SplitGateUpOdd));
      } else if (t.part == Part::MxBlocks) {
        const TensorDesc* scales = mx_scales[{t.layer, t.role}];
        if (!scales) fail("'{}' has no matching *_scales tensor", t.hf_name);
        auto g = recipe(gate, {D, F, E}, {t.hf_name, scales->hf_name}, Transform::SplitGateUpEvenMxfp4);
        auto u = recipe(up, {D, F, E}, {t.hf_name, scales->hf_name}, Transform::SplitGateUpOddMxfp4);
        g.native_mxfp4 = u.native_mxfp4 = true;
        out.push_back(std::move(g));
        out.push_back(std::move(u));
      } else {  // dense BF16 layout [E, D, 2F]
        auto g = recipe(gate, {D, F, E}, {t.hf_name}, Transform::SplitGateUpEven);
        auto u = recipe(up, {D, F, E}, {t.hf_name}, Transform::SplitGateUpOdd);
        g.transpose_source = u.transpose_source = true;
        out.push_back(std::move(g));
        out.push_back(std::move(u));
      }
      continue;
    }
    if (t.role == Role::ExpertDown && t.expert < 0) {  // gpt-oss stacked down projection
      if (d.hf_fused_expert_halves) {  // transformers 5 [E, D, F]: already [expert][out][in]
        out.push_back(recipe(t, {F, D, E}, {t.hf_name}, Transform::None));
      } else if (t.part == Part::Bias) {
        out.push_back(recipe(t, {D, E}, {t.hf_name}, Transform::None));
      } else if (t.part == Part::MxBlocks) {
        const TensorDesc* scales = mx_scales[{t.layer, t.role}];
        if (!scales) fail("'{}' has no matching *_scales tensor", t.hf_name);
        auto r = recipe(t, {F, D, E}, {t.hf_name, scales->hf_name}, Transform::Mxfp4Repack);
        r.native_mxfp4 = true;
        out.push_back(std::move(r));
      } else {  // dense BF16 layout [E, F, D]
        auto r = recipe(t, {F, D, E}, {t.hf_name}, Transform::None);
        r.transpose_source = true;
        out.push_back(std::move(r));
      }
      continue;
    }
    Transform tr = Transform::None;
    if (d.permute_qk && (t.role == Role::AttnQ || t.role == Role::AttnK)) tr = Transform::PermuteQK;
    if (hp.norm_plus_one && role_is_norm(t.role)) tr = Transform::AddOne;
    if (t.role == Role::SsmA) tr = Transform::NegExp;
    std::vector<int64_t> ne = reversed(t.hf_shape);
    if (t.role == Role::SsmConv1d) ne = {t.hf_shape.back(), t.hf_shape.front()};  // [C, 1, K] squeezed: ne {K, C}
    auto r = recipe(t, std::move(ne), {t.hf_name}, tr);
    r.vheads = vhead_order(hp, t.role);
    // llama.cpp keeps these F32 whatever the file type (its converter's 1-D rule and llama-quant's ssm exceptions).
    if (t.role == Role::SsmConv1d || t.role == Role::SsmDt || t.role == Role::SsmA || t.role == Role::SsmNorm ||
        t.role == Role::LayerOutScale)
      r.force_f32 = true;
    if (t.role == Role::TokenEmbd && d.trim_embd_to_tokenizer) r.trim_to_tokenizer_vocab = true;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace lp::arch
