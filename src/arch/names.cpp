// Stable names of the enums in arch.h (they appear in plans, manifests and JSON reports).
#include <array>

#include "arch/arch.h"

namespace lp::arch {

namespace {
constexpr std::array<std::string_view, static_cast<size_t>(Role::Count)> kRoleNames = {
    "token_embd",   "output",        "output_norm",     "rope_freqs",      "attn_norm",
    "attn_q",       "attn_k",        "attn_v",          "attn_o",          "attn_q_norm",
    "attn_k_norm",  "attn_sinks",    "attn_post_norm",  "ffn_norm",        "ffn_post_norm",
    "ffn_gate",     "ffn_up",        "ffn_down",        "router",          "expert_gate",
    "expert_up",    "expert_down",   "expert_gate_up",  "shared_expert_gate", "shared_expert_up",
    "shared_expert_down", "shared_expert_router",
    "ssm_qkv",      "ssm_gate",      "ssm_beta",        "ssm_alpha",       "ssm_conv1d",
    "ssm_dt",       "ssm_a",         "ssm_norm",        "ssm_out",
    "per_layer_token_embd", "per_layer_model_proj", "per_layer_proj_norm", "per_layer_inp_gate",
    "per_layer_proj", "per_layer_post_norm", "layer_out_scale",
};
}  // namespace

std::string_view role_name(Role r) {
  auto i = static_cast<size_t>(r);
  return i < kRoleNames.size() ? kRoleNames[i] : "unknown";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (size_t i = 0; i < kRoleNames.size(); ++i)
    if (kRoleNames[i] == name) return static_cast<Role>(i);
  return std::nullopt;
}

bool role_is_norm(Role r) {
  switch (r) {
    case Role::OutputNorm: case Role::AttnNorm: case Role::AttnQNorm: case Role::AttnKNorm:
    case Role::AttnPostNorm: case Role::FfnNorm: case Role::FfnPostNorm:
    case Role::PleProjNorm: case Role::PlePostNorm:
      return true;
    default:
      return false;
  }
}

bool role_is_attention(Role r) { return r >= Role::AttnNorm && r <= Role::AttnPostNorm; }

bool role_is_routed_expert(Role r) { return r >= Role::ExpertGate && r <= Role::ExpertGateUp; }

bool role_is_shared_expert(Role r) { return r >= Role::SharedExpertGate && r <= Role::SharedExpertRouter; }

bool role_is_ffn(Role r) { return r >= Role::FfnNorm && r <= Role::SharedExpertRouter; }

bool role_is_matrix(Role r) {
  switch (r) {
    case Role::TokenEmbd: case Role::Output: case Role::AttnQ: case Role::AttnK: case Role::AttnV: case Role::AttnO:
    case Role::FfnGate: case Role::FfnUp: case Role::FfnDown: case Role::Router: case Role::ExpertGate:
    case Role::ExpertUp: case Role::ExpertDown: case Role::ExpertGateUp: case Role::SharedExpertGate:
    case Role::SharedExpertUp: case Role::SharedExpertDown: case Role::SharedExpertRouter:
    case Role::SsmQkv: case Role::SsmGate: case Role::SsmBeta: case Role::SsmAlpha: case Role::SsmOut:
    case Role::PleEmbd: case Role::PleModelProj: case Role::PleInpGate: case Role::PleProj:
      return true;
    default:
      return false;
  }
}

std::string_view part_name(Part p) {
  switch (p) {
    case Part::Weight: return "weight";
    case Part::Bias: return "bias";
    case Part::MxBlocks: return "blocks";
    case Part::MxScales: return "scales";
  }
  return "unknown";
}

std::string_view native_quant_name(NativeQuant q) {
  switch (q) {
    case NativeQuant::None: return "none";
    case NativeQuant::Mxfp4: return "mxfp4";
    case NativeQuant::Fp8: return "fp8";
  }
  return "unknown";
}

std::string_view transform_name(Transform t) {
  switch (t) {
    case Transform::None: return "none";
    case Transform::PermuteQK: return "permute_qk";
    case Transform::AddOne: return "add_one";
    case Transform::StackExperts: return "stack_experts";
    case Transform::SplitGateUpEven: return "split_gate_up_even";
    case Transform::SplitGateUpOdd: return "split_gate_up_odd";
    case Transform::SplitGateUpLower: return "split_gate_up_lower";
    case Transform::SplitGateUpUpper: return "split_gate_up_upper";
    case Transform::Mxfp4Repack: return "mxfp4_repack";
    case Transform::SplitGateUpEvenMxfp4: return "split_gate_up_even_mxfp4";
    case Transform::SplitGateUpOddMxfp4: return "split_gate_up_odd_mxfp4";
    case Transform::GenerateRopeFreqs: return "generate_rope_freqs";
    case Transform::NegExp: return "neg_exp";
  }
  return "unknown";
}

}  // namespace lp::arch
