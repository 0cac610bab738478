// parse_hparams: family resolution, errors, HF defaults and per-layer attention kinds.
#include <gtest/gtest.h>

#include "arch/arch.h"
#include "core/error.h"
#include "tiny_configs.h"

namespace {

using lp::arch::Family;
using lp::arch::parse_hparams;
using lp::arch::test::tiny_config;
using nlohmann::json;

std::string error_of(const json& config) {
  try {
    parse_hparams(config, "m/config.json");
  } catch (const lp::Error& e) {
    return e.what();
  }
  return "";
}

TEST(HParams, UnknownArchitectureNamesFieldsAndListsFamilies) {
  json c = tiny_config("llama");
  c["model_type"] = "falcon";
  c["architectures"] = {"FalconForCausalLM"};
  std::string e = error_of(c);
  EXPECT_NE(e.find("m/config.json"), std::string::npos) << e;
  EXPECT_NE(e.find("model_type 'falcon'"), std::string::npos) << e;
  EXPECT_NE(e.find("FalconForCausalLM"), std::string::npos) << e;
  for (const char* f : {"llama", "mistral", "qwen2", "qwen3", "qwen3moe", "mixtral", "gpt-oss", "gemma3", "qwen35 (",
                        "qwen35moe (qwen3_5_moe_text"})
    EXPECT_NE(e.find(f), std::string::npos) << f << " missing from: " << e;
}

TEST(HParams, ArchitecturesResolveWhenModelTypeIsAbsent) {
  json c = tiny_config("llama");
  c.erase("model_type");
  c["architectures"] = {"Qwen2ForCausalLM"};
  EXPECT_EQ(parse_hparams(c, "x").family, Family::Qwen2);
}

TEST(HParams, MissingRequiredFieldIsNamed) {
  json c = tiny_config("qwen3");
  c.erase("hidden_size");
  EXPECT_NE(error_of(c).find("missing required field 'hidden_size'"), std::string::npos) << error_of(c);
  c = tiny_config("llama");
  c["num_attention_heads"] = 5;
  EXPECT_NE(error_of(c).find("num_key_value_heads"), std::string::npos) << error_of(c);
  c = tiny_config("llama");
  c["hidden_size"] = "big";
  EXPECT_NE(error_of(c).find("'hidden_size' must be an integer"), std::string::npos) << error_of(c);
}

TEST(HParams, GguFAndMlxNamesPerFamily) {
  struct Row { const char* fam; Family f; const char* gguf; const char* mlx; };
  for (auto r : {Row{"llama", Family::Llama, "llama", "llama"}, Row{"mistral", Family::Mistral, "llama", "mistral"},
                 Row{"qwen2", Family::Qwen2, "qwen2", "qwen2"}, Row{"qwen3", Family::Qwen3, "qwen3", "qwen3"},
                 Row{"qwen3moe", Family::Qwen3Moe, "qwen3moe", "qwen3_moe"},
                 Row{"mixtral", Family::Mixtral, "llama", "mixtral"}, Row{"gptoss", Family::GptOss, "gpt-oss", "gpt_oss"},
                 Row{"gemma3", Family::Gemma3, "gemma3", "gemma3_text"},
                 Row{"qwen35", Family::Qwen35, "qwen35", "qwen3_5"},
                 Row{"qwen35moe", Family::Qwen35Moe, "qwen35moe", "qwen3_5_moe"}}) {
    auto hp = parse_hparams(tiny_config(r.fam), "x");
    EXPECT_EQ(hp.family, r.f) << r.fam;
    EXPECT_EQ(hp.gguf_arch, r.gguf) << r.fam;
    EXPECT_EQ(hp.mlx_model_type, r.mlx) << r.fam;
  }
}

TEST(HParams, Qwen3MoeLayerKindsFollowMlpOnlyLayers) {
  auto hp = parse_hparams(tiny_config("qwen3moe"), "x");
  ASSERT_EQ(hp.layers.size(), 2u);
  EXPECT_TRUE(hp.layers[0].moe);
  EXPECT_FALSE(hp.layers[1].moe);
  EXPECT_EQ(hp.n_ff_expert, 32);
  EXPECT_TRUE(hp.norm_topk_prob);
  EXPECT_TRUE(hp.qk_norm);
}

TEST(HParams, GptOssDefaultsAndAlternatingLayers) {
  auto hp = parse_hparams(tiny_config("gptoss"), "x");
  EXPECT_TRUE(hp.attn_sinks);
  EXPECT_TRUE(hp.attn_qkv_bias);
  EXPECT_TRUE(hp.attn_o_bias);
  EXPECT_TRUE(hp.router_bias);
  EXPECT_DOUBLE_EQ(hp.swiglu_limit, 7.0);
  EXPECT_DOUBLE_EQ(hp.swiglu_alpha, 1.702);
  EXPECT_EQ(hp.ffn_act, lp::arch::FfnAct::GptOssSwiglu);
  EXPECT_EQ(hp.native_quant, lp::arch::NativeQuant::Mxfp4);
  EXPECT_TRUE(hp.layers[0].sliding);
  EXPECT_EQ(hp.layers[0].window, 8);
  EXPECT_FALSE(hp.layers[1].sliding);
  EXPECT_EQ(hp.rope.type, "yarn");  // GptOssConfig's default rope_scaling
  EXPECT_DOUBLE_EQ(hp.rope.factor, 32.0);
  EXPECT_EQ(hp.rope.original_max_position, 4096);
}

TEST(HParams, GptOssMxfp4NeedsBlockAlignedSizes) {
  json c = tiny_config("gptoss");
  c["intermediate_size"] = 48;
  EXPECT_NE(error_of(c).find("multiples of 32"), std::string::npos) << error_of(c);
}

TEST(HParams, Gemma3LocalGlobalRopeAndScale) {
  auto hp = parse_hparams(tiny_config("gemma3"), "x");
  EXPECT_TRUE(hp.tied_embeddings);
  EXPECT_TRUE(hp.embed_scale);
  EXPECT_TRUE(hp.norm_plus_one);
  EXPECT_EQ(hp.ffn_act, lp::arch::FfnAct::GeluTanhGlu);
  EXPECT_EQ(hp.sliding_window_pattern, 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(hp.layers[i].sliding, i != 5) << i;
    EXPECT_DOUBLE_EQ(hp.layers[i].rope_theta, i != 5 ? 10000.0 : 1000000.0) << i;
    EXPECT_EQ(hp.layers[i].rope_scaled, i == 5) << i;
  }
  EXPECT_FLOAT_EQ(hp.attn_scale, 0.25f);  // 1/sqrt(query_pre_attn_scalar = 16)
}

TEST(HParams, Gemma3MultimodalReadsTextConfig) {
  json c = {{"model_type", "gemma3"}, {"architectures", {"Gemma3ForConditionalGeneration"}},
            {"text_config", {{"hidden_size", 64}, {"intermediate_size", 96}, {"num_hidden_layers", 12},
                             {"model_type", "gemma3_text"}, {"sliding_window", 16}}}};
  auto hp = parse_hparams(c, "x");
  EXPECT_EQ(hp.family, Family::Gemma3);
  EXPECT_EQ(hp.model_type, "gemma3_text");
  EXPECT_EQ(hp.config_model_type, "gemma3");
  EXPECT_EQ(hp.tensor_prefix, "language_model.");
  EXPECT_EQ(hp.n_head, 8);       // Gemma3TextConfig defaults
  EXPECT_EQ(hp.n_head_kv, 4);
  EXPECT_EQ(hp.head_dim, 256);
  EXPECT_EQ(hp.n_vocab, 262208);
  EXPECT_EQ(hp.layers[5].sliding, false);
  EXPECT_EQ(hp.layers[11].sliding, false);
  EXPECT_EQ(hp.layers[6].sliding, true);
  json bad = c;
  bad.erase("text_config");
  EXPECT_NE(error_of(bad).find("text_config"), std::string::npos);
}

TEST(HParams, LayerTypesOverrideAndAreValidated) {
  json c = tiny_config("gemma3");
  c["layer_types"] = {"full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention",
                      "full_attention"};
  auto hp = parse_hparams(c, "x");
  EXPECT_FALSE(hp.layers[0].sliding);
  EXPECT_TRUE(hp.layers[1].sliding);
  c["layer_types"] = {"full_attention"};
  EXPECT_NE(error_of(c).find("layer_types"), std::string::npos);
}

TEST(HParams, SlidingWindowRulesPerFamily) {
  auto mistral = parse_hparams(tiny_config("mistral"), "x");
  EXPECT_EQ(mistral.sliding_window, 32);
  EXPECT_TRUE(mistral.layers[0].sliding && mistral.layers[1].sliding);
  json q = tiny_config("qwen2");
  q["sliding_window"] = 64;  // ignored unless use_sliding_window
  EXPECT_EQ(parse_hparams(q, "x").sliding_window, 0);
  q["use_sliding_window"] = true;
  q["max_window_layers"] = 1;
  auto hp = parse_hparams(q, "x");
  EXPECT_FALSE(hp.layers[0].sliding);
  EXPECT_TRUE(hp.layers[1].sliding);
  EXPECT_TRUE(hp.attn_qkv_bias);  // qwen2 always has q/k/v biases
  EXPECT_FALSE(hp.attn_o_bias);
}

TEST(HParams, RopeParametersOfTransformers5) {
  json c = tiny_config("gemma3");
  c.erase("rope_theta");
  c.erase("rope_local_base_freq");
  c["rope_parameters"] = {{"full_attention", {{"rope_type", "linear"}, {"factor", 8.0}, {"rope_theta", 500000.0}}},
                          {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 5000.0}}}};
  auto hp = parse_hparams(c, "x");
  EXPECT_DOUBLE_EQ(hp.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(hp.rope_theta_local, 5000.0);
  EXPECT_EQ(hp.rope.type, "linear");
  EXPECT_DOUBLE_EQ(hp.rope.factor, 8.0);
}

}  // namespace
