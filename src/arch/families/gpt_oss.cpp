// gpt-oss (GptOssForCausalLM): attention sinks, q/k/v/o biases, alternating sliding (even layers) / full layers,
// yarn rope by default, 128 experts with biases and a clamped SwiGLU, released with MXFP4 expert blocks
// (repacked losslessly to ggml's block_mxfp4). Router: top-k of the logits, softmax over the k chosen.
#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {
void read_moe(const ConfigReader& in, HParams& hp, MoeLayout&) {
  hp.n_expert = in.count("num_local_experts", 128);
  hp.n_expert_used = in.to_int(in.integer("num_experts_per_tok", in.integer("experts_per_token", 4)), "num_experts_per_tok");
  hp.n_ff_expert = hp.n_ff;
  hp.norm_topk_prob = true;  // softmax over the top-k router logits
  hp.swiglu_limit = in.number("swiglu_limit", 7.0);
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
    f.read_moe = read_moe;
    f.native_mxfp4_experts = true;
    f.gguf_expert_ff = true;
    f.gguf_swa = GgufSwaKeys::Always;
    f.gguf_ffn_norm = "post_attention_norm";  // llama.cpp's LLM_TENSOR_ATTN_POST_NORM (models/openai-moe.cpp)
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
