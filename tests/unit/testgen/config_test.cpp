// Family-specific config.json fields (the four fixture families are also compared with the fixtures).
#include <gtest/gtest.h>

#include "testgen/generate.h"

namespace lp::testgen {
namespace {

using nlohmann::json;

json config_for(const std::string& family, bool rope_scaling = true) {
  GenerateOptions o;
  o.family = family;
  o.rope_scaling = rope_scaling;
  return make_config(o);
}

TEST(Config, LlamaHasLlama3RopeScalingAndNoBiases) {
  const json c = config_for("llama");
  EXPECT_EQ(c["model_type"], "llama");
  EXPECT_EQ(c["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(c["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(c["rope_scaling"]["original_max_position_embeddings"], 8192);
  EXPECT_EQ(c["rope_theta"], 500000.0);
  EXPECT_EQ(c["attention_bias"], false);
  EXPECT_EQ(c["mlp_bias"], false);
  EXPECT_EQ(c["head_dim"], 64);
  EXPECT_TRUE(config_for("llama", false)["rope_scaling"].is_null());
}

TEST(Config, MistralAndMixtralUseSlidingWindowNullByDefault) {
  const json m = config_for("mistral");
  EXPECT_EQ(m["model_type"], "mistral");
  EXPECT_TRUE(m["sliding_window"].is_null());
  EXPECT_FALSE(m.contains("head_dim"));  // implied by hidden / heads
  GenerateOptions o;
  o.family = "mistral";
  o.overrides.sliding_window = 4096;
  o.overrides.head_dim = 128;
  const json w = make_config(o);
  EXPECT_EQ(w["sliding_window"], 4096);
  EXPECT_EQ(w["head_dim"], 128);
  const json x = config_for("mixtral");
  EXPECT_EQ(x["model_type"], "mixtral");
  EXPECT_EQ(x["num_local_experts"], 4);
  EXPECT_EQ(x["num_experts_per_tok"], 2);
  EXPECT_EQ(x["intermediate_size"], 512);
  EXPECT_EQ(x["tie_word_embeddings"], false);
}

TEST(Config, Qwen2HasNoHeadDimAndDisabledSlidingWindow) {
  const json c = config_for("qwen2");
  EXPECT_EQ(c["model_type"], "qwen2");
  EXPECT_FALSE(c.contains("head_dim"));
  EXPECT_EQ(c["use_sliding_window"], false);
  EXPECT_EQ(c["tie_word_embeddings"], true);
  GenerateOptions o;
  o.family = "qwen2";
  o.preset = "qwen3-0.6b";  // head_dim follows hidden / heads for qwen2
  EXPECT_EQ(resolve_shape(o).head_dim, 64);
}

TEST(Config, GptOssAlternatesSlidingAndFullWithYarn) {
  GenerateOptions o;
  o.family = "gpt-oss";
  o.overrides.layers = 5;
  const json c = make_config(o);
  EXPECT_EQ(c["layer_types"], json::array({"sliding_attention", "full_attention", "sliding_attention", "full_attention",
                                           "sliding_attention"}));
  EXPECT_EQ(c["rope_scaling"]["rope_type"], "yarn");
  EXPECT_EQ(c["rope_scaling"]["factor"], 32.0);
  EXPECT_EQ(c["quantization_config"]["quant_method"], "mxfp4");
  EXPECT_EQ(c["swiglu_limit"], 7.0);
  EXPECT_EQ(c["experts_per_token"], c["num_experts_per_tok"]);
  EXPECT_EQ(c["sliding_window"], 32);
}

TEST(Config, Gemma3HasFiveLocalToOneGlobalLayers) {
  GenerateOptions o;
  o.family = "gemma3";
  o.overrides.layers = 12;
  const json c = make_config(o);
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(c["layer_types"][i], i % 6 == 5 ? "full_attention" : "sliding_attention") << i;
  EXPECT_EQ(c["query_pre_attn_scalar"], 64);
  EXPECT_EQ(c["num_key_value_heads"], 1);
  EXPECT_EQ(c["model_type"], "gemma3_text");
}

TEST(Config, GenerationConfigListsTheStopTokens) {
  GenerateOptions o;
  o.family = "gpt-oss";
  const json g = make_generation_config(o);
  ASSERT_TRUE(g["eos_token_id"].is_array());
  EXPECT_EQ(g["eos_token_id"].size(), 3u);
  o.family = "qwen3";
  EXPECT_EQ(make_generation_config(o)["eos_token_id"], json::array({4095, 4093}));  // <|im_end|>, <|endoftext|>
}

}  // namespace
}  // namespace lp::testgen
