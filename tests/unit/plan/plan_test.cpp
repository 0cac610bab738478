// Precision planning over the real public configs (tests/data/configs): llama.cpp's mix reproduced rule by
// rule, the architecture rules on top, overrides that always win, and MLX bit allocation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "arch/arch.h"
#include "core/error.h"
#include "plan/gguf_plan.h"
#include "plan/mlx_plan.h"
#include "plan/preset.h"
#include "plan/recipe.h"
#include "scratch_path.h"

namespace fs = std::filesystem;
using lp::GgmlType;
using namespace lp::plan;

namespace {

struct Model {
  lp::arch::HParams hp;
  std::vector<lp::arch::GgufTensorRecipe> gguf;
  std::vector<lp::arch::MlxTensorRecipe> mlx;
};

Model load_config(const nlohmann::json& cfg) {
  Model m;
  m.hp = lp::arch::parse_hparams(cfg, "config.json");
  auto tensors = lp::arch::classify(m.hp, lp::arch::expected_tensors(m.hp));
  m.gguf = lp::arch::gguf_tensors(m.hp, tensors);
  m.mlx = lp::arch::mlx_tensors(m.hp, tensors);
  return m;
}

Model load_public(const std::string& name) {
  std::ifstream in(fs::path(LP_SOURCE_DIR) / "tests/data/configs" / name / "config.json");
  return load_config(nlohmann::json::parse(in));
}

nlohmann::json tiny_qwen3_config() {
  return {{"architectures", {"Qwen3ForCausalLM"}}, {"model_type", "qwen3"}, {"hidden_size", 256},
          {"intermediate_size", 768}, {"num_hidden_layers", 4}, {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"head_dim", 64}, {"max_position_embeddings", 4096},
          {"rms_norm_eps", 1e-6}, {"rope_theta", 1e6}, {"tie_word_embeddings", true}, {"vocab_size", 4096},
          {"torch_dtype", "bfloat16"}};
}

std::map<std::string, GgmlType> types_of(const GgufPlan& p) {
  std::map<std::string, GgmlType> m;
  for (const auto& t : p.tensors) m[t.recipe.gguf_name] = t.type;
  return m;
}

GgufPlan plan(const Model& m, Preset preset, bool arch_aware, std::vector<TypeOverride> overrides = {}) {
  GgufPlanOptions o;
  o.preset = preset;
  o.architecture_aware = arch_aware;
  o.overrides = std::move(overrides);
  return plan_gguf(m.hp, m.gguf, o);
}

}  // namespace

TEST(Preset, ParsesNamesAndPrecisionStrings) {
  EXPECT_EQ(preset_from_name("Q4_K_M"), Preset::Q4_K_M);
  EXPECT_EQ(preset_from_name("iq4_xs"), Preset::IQ4_XS);
  EXPECT_FALSE(preset_from_name("q4_k").has_value());
  EXPECT_EQ(preset_base_type(Preset::Q3_K_M), GgmlType::Q3_K);
  EXPECT_EQ(preset_llama_ftype(Preset::Q4_K_M), 15u);

  auto r = parse_precision("q4_k_m,q8_0:4bit,8bit-g32", true, true);
  ASSERT_EQ(r.gguf.size(), 2u);
  EXPECT_EQ(r.gguf[1], Preset::Q8_0);
  ASSERT_EQ(r.mlx.size(), 2u);
  EXPECT_EQ(r.mlx[1].bits, 8);
  EXPECT_EQ(r.mlx[1].group_size, 32);
  EXPECT_EQ(r.mlx[0].name(), "4bit-mixed");
  EXPECT_THROW(parse_precision("q4_k_m", true, true), lp::Error);  // both formats need GGUF:MLX
  EXPECT_THROW(parse_precision("q9_k", true, false), lp::Error);
  EXPECT_THROW(parse_precision("7bit", false, true), lp::Error);
  EXPECT_EQ(parse_precision("6bit-pure", false, true).mlx[0].mixed, false);

  // Formats inferred item by item: a name is GGUF or MLX by itself; GGUF:MLX pairs one of each.
  auto mlx_only = parse_precision("4bit");
  EXPECT_TRUE(mlx_only.gguf.empty());
  ASSERT_EQ(mlx_only.mlx.size(), 1u);
  auto pairs = parse_precision("q4_k_m:4bit,q8_0:8bit");
  EXPECT_EQ(pairs.gguf, (std::vector<Preset>{Preset::Q4_K_M, Preset::Q8_0}));
  ASSERT_EQ(pairs.mlx.size(), 2u);
  EXPECT_EQ(pairs.mlx[1].bits, 8);
  auto mixed = parse_precision("q4_k_m,4bit");
  EXPECT_EQ(mixed.gguf, std::vector<Preset>{Preset::Q4_K_M});
  EXPECT_EQ(mixed.mlx.size(), 1u);
  EXPECT_TRUE(parse_precision("auto:4bit").gguf_auto);
  EXPECT_THROW(parse_precision("4bit:q4_k_m"), lp::Error);   // sides swapped
  EXPECT_THROW(parse_precision("q4_k_m:4bit:8bit"), lp::Error);
  EXPECT_THROW(parse_precision("q4_k_m,,4bit"), lp::Error);
  EXPECT_THROW(parse_precision("q4_k_m:4bit", true, false), lp::Error);  // MLX asked for, not in --formats
  EXPECT_THROW(parse_precision("4bit", true, true), lp::Error);          // GGUF in --formats, none named
}

TEST(LlamaCppMix, Q4KMOnTinyQwen3MatchesLlamaQuantRules) {
  Model m = load_config(tiny_qwen3_config());
  auto t = types_of(plan(m, Preset::Q4_K_M, false));
  // tied embeddings: token_embd is also the output -> Q6_K
  EXPECT_EQ(t.at("token_embd.weight"), GgmlType::Q6_K);
  EXPECT_EQ(t.count("output.weight"), 0u);
  // use_more_bits(i, 4) is true for layers 2 and 3
  for (int i = 0; i < 4; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const GgmlType more = i >= 2 ? GgmlType::Q6_K : GgmlType::Q4_K;
    EXPECT_EQ(t.at(b + "attn_v.weight"), more) << i;
    EXPECT_EQ(t.at(b + "ffn_down.weight"), more) << i;
    EXPECT_EQ(t.at(b + "attn_q.weight"), GgmlType::Q4_K);
    EXPECT_EQ(t.at(b + "attn_k.weight"), GgmlType::Q4_K);
    EXPECT_EQ(t.at(b + "ffn_up.weight"), GgmlType::Q4_K);
    EXPECT_EQ(t.at(b + "attn_norm.weight"), GgmlType::F32);
    EXPECT_EQ(t.at(b + "attn_q_norm.weight"), GgmlType::F32);
  }
}

TEST(LlamaCppMix, Q3KMAndQ2KRaiseTheRightTensors) {
  Model m = load_public("Qwen3-8B");  // 36 layers, GQA 4:1
  auto q3 = types_of(plan(m, Preset::Q3_K_M, false));
  EXPECT_EQ(q3.at("blk.0.attn_v.weight"), GgmlType::Q5_K);
  EXPECT_EQ(q3.at("blk.1.attn_v.weight"), GgmlType::Q5_K);
  EXPECT_EQ(q3.at("blk.2.attn_v.weight"), GgmlType::Q4_K);
  EXPECT_EQ(q3.at("blk.1.ffn_down.weight"), GgmlType::Q5_K);  // i < 36/16 = 2
  EXPECT_EQ(q3.at("blk.2.ffn_down.weight"), GgmlType::Q4_K);
  EXPECT_EQ(q3.at("blk.5.attn_output.weight"), GgmlType::Q4_K);
  EXPECT_EQ(q3.at("blk.5.ffn_up.weight"), GgmlType::Q3_K);
  EXPECT_EQ(q3.at("output.weight"), GgmlType::Q6_K);
  EXPECT_EQ(q3.at("token_embd.weight"), GgmlType::Q3_K);  // untied: preset type
  auto q2 = types_of(plan(m, Preset::Q2_K, false));
  EXPECT_EQ(q2.at("blk.7.attn_v.weight"), GgmlType::Q4_K);  // n_gqa >= 4
  EXPECT_EQ(q2.at("blk.7.ffn_down.weight"), GgmlType::Q3_K);
  EXPECT_EQ(q2.at("blk.7.attn_output.weight"), GgmlType::Q3_K);
  EXPECT_EQ(q2.at("blk.7.ffn_gate.weight"), GgmlType::Q2_K);
}

TEST(LlamaCppMix, EightExpertModelsProtectAttention) {
  Model m = load_public("Mixtral-8x7B");
  auto t = types_of(plan(m, Preset::Q4_K_M, false));
  EXPECT_EQ(t.at("blk.0.attn_v.weight"), GgmlType::Q8_0);
  EXPECT_EQ(t.at("blk.0.attn_k.weight"), GgmlType::Q8_0);
  EXPECT_EQ(t.at("blk.0.attn_output.weight"), GgmlType::Q5_K);
  EXPECT_EQ(t.at("blk.0.ffn_gate_inp.weight"), GgmlType::F32);  // router never quantized
}

TEST(ArchitectureRules, GqaKvCheapBitsOnlyWhenAware) {
  Model m = load_config(tiny_qwen3_config());
  auto aware = types_of(plan(m, Preset::Q4_K_M, true));
  EXPECT_EQ(aware.at("blk.0.attn_v.weight"), GgmlType::Q6_K);
  EXPECT_EQ(aware.at("blk.0.attn_k.weight"), GgmlType::Q5_K);
  EXPECT_EQ(aware.at("blk.0.attn_q.weight"), GgmlType::Q4_K);
}

TEST(ArchitectureRules, NativeMxfp4ExpertsKeptAndRouterF32) {
  Model m = load_public("GPT-OSS-20B");
  GgufPlan aware = plan(m, Preset::Q4_K_M, true);
  GgufPlan naive = plan(m, Preset::Q4_K_M, false);
  auto a = types_of(aware), n = types_of(naive);
  EXPECT_EQ(a.at("blk.0.ffn_gate_exps.weight"), GgmlType::MXFP4);
  EXPECT_EQ(a.at("blk.0.ffn_down_exps.weight"), GgmlType::MXFP4);
  EXPECT_NE(n.at("blk.0.ffn_gate_exps.weight"), GgmlType::MXFP4);
  EXPECT_EQ(a.at("blk.0.ffn_gate_inp.weight"), GgmlType::F32);
  // hidden 2880 is not a multiple of 256: K-quants fall back as llama.cpp does
  EXPECT_EQ(n.at("blk.0.ffn_gate_exps.weight"), GgmlType::Q5_0);
  for (const auto& t : aware.tensors)
    if (t.recipe.gguf_name == "blk.0.ffn_gate_exps.weight") {
      EXPECT_EQ(t.rule, "arch:native_mxfp4");
    }
}

TEST(ArchitectureRules, GemmaGlobalLayersGetMoreBits) {
  Model m = load_public("Gemma-3-4B-it");
  ASSERT_FALSE(m.hp.layers[5].sliding);  // every 6th layer is global
  ASSERT_TRUE(m.hp.layers[4].sliding);
  auto t = types_of(plan(m, Preset::Q4_K_M, true));
  EXPECT_EQ(t.at("blk.5.attn_q.weight"), GgmlType::Q5_K);
  EXPECT_EQ(t.at("blk.4.attn_q.weight"), GgmlType::Q4_K);
  auto naive = types_of(plan(m, Preset::Q4_K_M, false));
  EXPECT_EQ(naive.at("blk.5.attn_q.weight"), GgmlType::Q4_K);
}

TEST(Overrides, AlwaysWinAndAreNeverSilentlyIgnored) {
  Model m = load_config(tiny_qwen3_config());
  auto t = types_of(plan(m, Preset::Q4_K_M, true, {{"ffn_up", GgmlType::Q8_0}, {"attn_.*", GgmlType::IQ4_XS}}));
  EXPECT_EQ(t.at("blk.0.ffn_up.weight"), GgmlType::Q8_0);
  EXPECT_EQ(t.at("blk.1.attn_v.weight"), GgmlType::IQ4_XS);
  EXPECT_EQ(t.at("blk.1.attn_norm.weight"), GgmlType::F32);  // never quantized
  EXPECT_THROW(plan(m, Preset::Q4_K_M, true, {{"no_such_tensor", GgmlType::Q8_0}}), lp::Error);
  EXPECT_THROW(plan(m, Preset::Q4_K_M, true, {{"_norm", GgmlType::Q8_0}}), lp::Error);
  EXPECT_THROW(plan(m, Preset::Q4_K_M, true, {{"([", GgmlType::Q8_0}}), lp::Error);
}

TEST(Sizes, BytesAndBitsPerWeightAddUp) {
  Model m = load_config(tiny_qwen3_config());
  GgufPlan f32 = plan(m, Preset::F32, true);
  EXPECT_DOUBLE_EQ(f32.bpw(), 32.0);
  GgufPlan q8 = plan(m, Preset::Q8_0, true);
  uint64_t sum = 0;
  for (const auto& t : q8.tensors) sum += t.bytes;
  EXPECT_EQ(sum, q8.total_bytes);
  EXPECT_GT(q8.bpw(), 8.0);
  EXPECT_LT(q8.bpw(), 8.6);
  EXPECT_EQ(tensor_bytes(GgmlType::Q4_K, {256, 10}), 1440u);
  EXPECT_EQ(row_fallback_type(GgmlType::Q4_K, 2880), GgmlType::Q5_0);
  EXPECT_EQ(row_fallback_type(GgmlType::IQ4_XS, 2880), GgmlType::IQ4_NL);
  EXPECT_EQ(row_fallback_type(GgmlType::Q6_K, 48), GgmlType::F16);
}

TEST(MlxPlan, MixedPrecisionRouterAndQuantizationConfig) {
  Model m = load_public("Qwen3-30B-A3B");
  MlxPlanOptions o;
  o.precision = *mlx_precision_from_name("4bit");
  MlxPlan p = plan_mlx(m.hp, m.mlx, o);
  std::map<std::string, int> bits;
  for (const auto& t : p.tensors) bits[t.recipe.mlx_name] = t.bits;
  EXPECT_EQ(bits.at("model.embed_tokens.weight"), 6);
  EXPECT_EQ(bits.at("lm_head.weight"), 6);
  EXPECT_EQ(bits.at("model.layers.0.mlp.gate.weight"), 8);
  EXPECT_EQ(bits.at("model.layers.3.self_attn.q_proj.weight"), 4);
  EXPECT_EQ(bits.at("model.layers.0.input_layernorm.weight"), 0);
  nlohmann::json q = p.quantization_config();
  EXPECT_EQ(q["bits"], 4);
  EXPECT_EQ(q["group_size"], 64);
  EXPECT_EQ(q["model.layers.0.mlp.gate"]["bits"], 8);
  EXPECT_EQ(q["model.embed_tokens"]["bits"], 6);
  EXPECT_FALSE(q.contains("model.layers.3.self_attn.q_proj"));

  o.precision.mixed = false;
  o.architecture_aware = false;
  MlxPlan pure = plan_mlx(m.hp, m.mlx, o);
  for (const auto& t : pure.tensors)
    if (t.quantized) {
      EXPECT_EQ(t.bits, 4) << t.recipe.mlx_name;
    }
  EXPECT_LT(pure.total_bytes, p.total_bytes);
}

TEST(Recipe, LoadsYamlAndJsonAndNamesBadFields) {
  fs::path dir = lp::test::scratch_path("lp_recipe_test");
  fs::create_directories(dir);
  {
    std::ofstream(dir / "r.yaml") << "architecture_aware: false\ngguf:\n  precision: q3_k_m\n  tensor_types:\n"
                                     "    - {pattern: \"attn_v\", type: q8_0}\n  output_type: q8_0\nmlx:\n"
                                     "  precision: 6bit\n  overrides: {\"mlp\\\\.gate$\": 8}\n";
  }
  Recipe r = load_recipe((dir / "r.yaml").string());
  EXPECT_EQ(r.architecture_aware, false);
  EXPECT_EQ(r.gguf_precision, "q3_k_m");
  ASSERT_EQ(r.tensor_types.size(), 1u);
  EXPECT_EQ(r.tensor_types[0].type, GgmlType::Q8_0);
  EXPECT_EQ(r.output_type, GgmlType::Q8_0);
  ASSERT_EQ(r.mlx_overrides.size(), 1u);
  EXPECT_EQ(r.mlx_overrides[0].bits, 8);
  { std::ofstream(dir / "r.json") << R"({"gguf": {"tensor_types": {"ffn_down": "q6_k"}}})"; }
  EXPECT_EQ(load_recipe((dir / "r.json").string()).tensor_types[0].type, GgmlType::Q6_K);
  { std::ofstream(dir / "bad.yaml") << "gguf:\n  tensor_type: q4_k\n"; }
  try {
    load_recipe((dir / "bad.yaml").string());
    FAIL() << "expected an error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("gguf.tensor_type"), std::string::npos) << e.what();
  }
  { std::ofstream(dir / "badtype.yaml") << "gguf:\n  output_type: q9_k\n"; }
  EXPECT_THROW(load_recipe((dir / "badtype.yaml").string()), lp::Error);
  EXPECT_THROW(load_recipe((dir / "missing.yaml").string()), lp::Error);
  EXPECT_THROW(parse_type_override("attn_v"), lp::Error);
  EXPECT_EQ(parse_type_override("a=b=q8_0").pattern, "a=b");
  fs::remove_all(dir);
}
