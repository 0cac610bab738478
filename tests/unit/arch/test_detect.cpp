// detect(): classification of family/attention, native quantization from config or tensors, text report.
#include <gtest/gtest.h>

#include "arch/arch.h"
#include "tiny_configs.h"

namespace {

using namespace lp::arch;
using lp::arch::test::tiny_config;
using nlohmann::json;

TEST(Detect, AllSlidingMistralIsItsOwnPattern) {
  auto r = detect(tiny_config("mistral"), "x");
  EXPECT_EQ(r.attention_pattern, "sliding");
  EXPECT_EQ(r.family_class, "dense_decoder");
  EXPECT_EQ(to_json(r)["sliding_window"], 32);
  EXPECT_EQ(r.strategy_name, "gqa_kv_cache_optimization");
}

TEST(Detect, MhaAndMqa) {
  json c = tiny_config("llama");
  c["num_key_value_heads"] = 4;
  auto mha = detect(c, "x");
  EXPECT_EQ(mha.attention_type, "mha");
  EXPECT_EQ(mha.gqa_group_size, 1);
  EXPECT_EQ(mha.strategy_name, "dense_uniform");
  c["num_key_value_heads"] = 1;
  EXPECT_EQ(detect(c, "x").attention_type, "mqa");
}

TEST(Detect, NativeQuantizationFromConfigOrTensors) {
  json c = tiny_config("qwen3");
  c["quantization_config"] = {{"quant_method", "fp8"}, {"weight_block_size", {128, 128}}};
  EXPECT_EQ(to_json(detect(c, "x"))["native_quantization"], "fp8");

  HParams hp = parse_hparams(tiny_config("qwen3"), "x");
  auto tensors = expected_tensors(hp);
  for (auto& t : tensors) t.dtype = t.shape.size() == 2 ? "F8_E4M3" : "BF16";
  auto r = detect(tiny_config("qwen3"), "x", &tensors);
  EXPECT_EQ(r.native_quant, NativeQuant::Fp8);
  EXPECT_TRUE(r.params_from_weights);

  json g = tiny_config("gptoss");
  g.erase("quantization_config");  // blocks tensors alone reveal MXFP4
  HParams ghp = parse_hparams(tiny_config("gptoss"), "x");
  auto gt = expected_tensors(ghp);
  EXPECT_EQ(detect(g, "x", &gt).native_quant, NativeQuant::Mxfp4);
  EXPECT_EQ(to_json(detect(tiny_config("llama"), "x"))["native_quantization"], json(nullptr));
}

TEST(Detect, WeightsAndConfigCountsAgree) {
  for (const char* fam : {"llama3", "qwen2", "qwen3moe", "mixtral", "gptoss", "gemma3", "qwen35", "qwen35moe"}) {
    auto from_config = detect(tiny_config(fam), "x");
    auto tensors = expected_tensors(from_config.hp);
    auto from_weights = detect(tiny_config(fam), "x", &tensors);
    EXPECT_EQ(from_config.params.total, from_weights.params.total) << fam;
    EXPECT_EQ(from_config.params.active, from_weights.params.active) << fam;
    EXPECT_FALSE(from_config.params_from_weights);
    EXPECT_EQ(to_json(from_weights)["params_source"], "weights");
  }
}

TEST(Detect, TextReportMentionsTheEssentials) {
  auto r = detect(tiny_config("gptoss"), "x");
  std::string t = to_text(r);
  for (const char* s : {"gpt_oss", "sparse_moe_alternating_attention", "4 routed, 2 per token", "window 8; SF",
                        "yarn scaling x32", "mxfp4", "expert_balanced_calibration", "router"})
    EXPECT_NE(t.find(s), std::string::npos) << s << " missing from:\n" << t;
  json j = to_json(r);
  EXPECT_EQ(j["strategy"]["name"], "expert_balanced_calibration");
  EXPECT_TRUE(j["strategy"].contains("router"));
  EXPECT_TRUE(j["strategy"].contains("dense_attention"));
  EXPECT_TRUE(j["strategy"].contains("sparse_attention"));
}

}  // namespace
