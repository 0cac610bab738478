// gpt-oss (GptOssForCausalLM): attention sinks, q/k/v/o biases, alternating sliding (even layers) / full layers,
// yarn rope by default, 128 experts with biases and a clamped SwiGLU, released with MXFP4 expert blocks
// (repacked losslessly to ggml's block_mxfp4). Router: top-k of the logits, softmax over the k chosen.
#include <fmt/format.h>

#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {
void gpt_oss_read_moe(const ConfigReader& in, HParams& hp, MoeLayout&) {
  hp.n_expert = in.count("num_local_experts", 128);
  hp.n_expert_used = in.to_int(in.integer("num_experts_per_tok", in.integer("experts_per_token", 4)), "num_experts_per_tok");
  hp.n_ff_expert = hp.n_ff;
  hp.norm_topk_prob = true;  // softmax over the top-k router logits
  hp.swiglu_limit = in.number("swiglu_limit", 7.0);
}
void gpt_oss_hf_moe_layout(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il, const LayoutOptions& opt) {
  const int64_t D = hp.n_embd, F = hp.n_ff_expert, E = hp.n_expert;
  b.add(lp + "mlp.router.weight", Role::Router, il, {E, D});
  b.add(lp + "mlp.router.bias", Role::Router, il, {E}, Part::Bias);
  const std::string x = lp + "mlp.experts.";
  if (opt.mxfp4_experts) {
    // 32 elements per block, 16 bytes per block; one E8M0 scale per block.
    b.add(x + "gate_up_proj_blocks", Role::ExpertGateUp, il, {E, 2 * F, D / 32, 16}, Part::MxBlocks, -1, "U8");
    b.add(x + "gate_up_proj_scales", Role::ExpertGateUp, il, {E, 2 * F, D / 32}, Part::MxScales, -1, "U8");
  } else {
    b.add(x + "gate_up_proj", Role::ExpertGateUp, il, {E, D, 2 * F});
  }
  b.add(x + "gate_up_proj_bias", Role::ExpertGateUp, il, {E, 2 * F}, Part::Bias);
  if (opt.mxfp4_experts) {
    b.add(x + "down_proj_blocks", Role::ExpertDown, il, {E, D, F / 32, 16}, Part::MxBlocks, -1, "U8");
    b.add(x + "down_proj_scales", Role::ExpertDown, il, {E, D, F / 32}, Part::MxScales, -1, "U8");
  } else {
    b.add(x + "down_proj", Role::ExpertDown, il, {E, F, D});
  }
  b.add(x + "down_proj_bias", Role::ExpertDown, il, {E, D}, Part::Bias);
}

void gpt_oss_mlx_config(const HParams& hp, nlohmann::json& cfg) {
  cfg["num_local_experts"] = hp.n_expert;
  cfg["num_experts_per_tok"] = hp.n_expert_used;
  cfg["sliding_window"] = hp.sliding_window;
  cfg["swiglu_limit"] = hp.swiglu_limit;
  nlohmann::json types = nlohmann::json::array();
  for (const auto& l : hp.layers) types.push_back(l.sliding ? "sliding_attention" : "full_attention");
  cfg["layer_types"] = types;
}
}  // namespace

const FamilyDesc& gpt_oss_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f;
    f.family = Family::GptOss;
    f.name = "gpt-oss";
    f.model_types = {"gpt_oss"};
    f.architectures = {"GptOssForCausalLM"};
    f.gguf_arch = "gpt-oss";
    f.mlx_model_type = "gpt_oss";
    f.moe = true;
    f.default_head_dim = 64;
    f.default_n_ctx = 131072;
    f.default_rms_eps = 1e-5;
    f.default_rope_theta = 150000.0;
    f.default_rope_scaling = R"({"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                                 "truncate": false, "original_max_position_embeddings": 4096})";  // GptOssConfig
    f.default_attention_bias = true;
    f.default_sliding_window = 128;
    f.attn_sinks = true;
    f.sliding = SlidingRule::Period;
    f.swa_period = 2;
    f.ffn_act = FfnAct::GptOssSwiglu;
    f.router_gating = RouterGating::TopKThenSoftmax;
    f.expert_biases = true;
    f.read_moe = gpt_oss_read_moe;
    f.native_mxfp4_experts = true;
    f.gguf_expert_ff = true;
    f.gguf_swa = GgufSwaKeys::Always;
    f.gguf_ffn_norm = "post_attention_norm";  // llama.cpp's LLM_TENSOR_ATTN_POST_NORM (models/openai-moe.cpp)
    f.hf_moe_layout = gpt_oss_hf_moe_layout;
    f.mlx_config = gpt_oss_mlx_config;
    f.hf_stacked_experts = true;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
