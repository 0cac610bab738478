// Qwen 3.5 dense (issue #20): config -> HParams (linear-attention fields, layer pattern, partial rotary), checkpoint
// layout with the Gated DeltaNet tensors, GGUF names/shapes/keys as llama.cpp's converter writes them, the V-head
// reordering, and the one-line errors for a missing recurrent tensor or a conv kernel that disagrees with the config.
// The end-to-end proof (llama.cpp's perplexity on our F32 GGUF) is tests/oracles/qwen35_llamacpp.test.mjs.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

#include "arch/arch.h"
#include "arch/row_map.h"
#include "core/error.h"

namespace {

using namespace lp::arch;
using nlohmann::json;

// The tiny-qwen35 fixture's config.json (../shared/fixtures/tiny-qwen35), inline so the test needs no fixture.
json qwen35_config() {
  return json::parse(R"({
    "architectures": ["Qwen3_5ForCausalLM"], "model_type": "qwen3_5_text", "vocab_size": 4096, "hidden_size": 256,
    "intermediate_size": 768, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 64, "hidden_act": "silu", "max_position_embeddings": 4096, "rms_norm_eps": 1e-06,
    "tie_word_embeddings": true, "linear_conv_kernel_dim": 4, "linear_key_head_dim": 64, "linear_value_head_dim": 64,
    "linear_num_key_heads": 2, "linear_num_value_heads": 4,
    "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"],
    "full_attention_interval": 4,
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000000.0, "partial_rotary_factor": 0.25,
                        "mrope_section": [3, 3, 2], "mrope_interleaved": true}})");
}

std::vector<TensorInfo> checkpoint_tensors(const HParams& hp) { return expected_tensors(hp); }

TEST(Qwen35, HParamsFromConfig) {
  HParams hp = parse_hparams(qwen35_config(), "c.json");
  EXPECT_EQ(hp.family, Family::Qwen35);
  EXPECT_EQ(hp.gguf_arch, "qwen35");
  EXPECT_EQ(hp.ssm_k_heads, 2);
  EXPECT_EQ(hp.ssm_v_heads, 4);
  EXPECT_EQ(hp.ssm_head_v_dim, 64);
  EXPECT_EQ(hp.ssm_conv_kernel, 4);
  EXPECT_EQ(hp.full_attention_interval, 4);
  EXPECT_EQ(hp.rope_dim, 16);
  EXPECT_EQ(hp.rope_sections, (std::vector<int32_t>{3, 3, 2, 0}));
  EXPECT_DOUBLE_EQ(hp.rope_theta, 1e7);
  EXPECT_TRUE(hp.attn_output_gate);
  EXPECT_TRUE(hp.norm_plus_one);
  ASSERT_EQ(hp.layers.size(), 4u);
  EXPECT_TRUE(hp.layers[0].recurrent && hp.layers[2].recurrent);
  EXPECT_FALSE(hp.layers[3].recurrent);
  // Without layer_types: every full_attention_interval-th layer is full attention.
  json c = qwen35_config();
  c.erase("layer_types");
  c["num_hidden_layers"] = 8;
  c["full_attention_interval"] = 2;
  hp = parse_hparams(c, "c.json");
  for (int i = 0; i < 8; ++i) EXPECT_EQ(hp.layers[i].recurrent, i % 2 == 0) << i;
}

TEST(Qwen35, ConfigErrorsNameTheField) {
  json c = qwen35_config();
  c["linear_num_value_heads"] = 3;
  EXPECT_THROW(
      {
        try {
          parse_hparams(c, "c.json");
        } catch (const lp::Error& e) {
          EXPECT_NE(std::string(e.what()).find("linear_num_value_heads"), std::string::npos) << e.what();
          throw;
        }
      },
      lp::Error);
}

TEST(Qwen35, GgufNamesShapesAndKeysAsLlamaCpp) {
  HParams hp = parse_hparams(qwen35_config(), "c.json");
  auto recipes = gguf_tensors(hp, classify(hp, checkpoint_tensors(hp)));
  auto find = [&](const std::string& n) -> const GgufTensorRecipe& {
    auto it = std::find_if(recipes.begin(), recipes.end(), [&](const auto& r) { return r.gguf_name == n; });
    if (it == recipes.end()) throw std::runtime_error("no recipe " + n);
    return *it;
  };
  EXPECT_EQ(find("blk.0.attn_qkv.weight").ne, (std::vector<int64_t>{256, 512}));
  EXPECT_EQ(find("blk.0.attn_gate.weight").ne, (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(find("blk.0.ssm_conv1d.weight").ne, (std::vector<int64_t>{4, 512}));
  EXPECT_TRUE(find("blk.0.ssm_conv1d.weight").force_f32);
  EXPECT_EQ(find("blk.0.ssm_a").transform, Transform::NegExp);
  EXPECT_TRUE(find("blk.0.ssm_dt.bias").vheads.columns);
  EXPECT_EQ(find("blk.0.ssm_norm.weight").transform, Transform::None);  // gated norm: plain w, no +1
  EXPECT_EQ(find("blk.0.attn_norm.weight").transform, Transform::AddOne);
  EXPECT_EQ(find("blk.0.post_attention_norm.weight").transform, Transform::AddOne);
  EXPECT_EQ(find("blk.0.ssm_beta.weight").ne, (std::vector<int64_t>{256, 4}));
  EXPECT_EQ(find("blk.0.ssm_out.weight").ne, (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(find("blk.3.attn_q.weight").ne, (std::vector<int64_t>{256, 512}));
  EXPECT_EQ(find("blk.3.attn_q_norm.weight").transform, Transform::AddOne);
  EXPECT_TRUE(std::none_of(recipes.begin(), recipes.end(), [](const auto& r) { return r.gguf_name == "output.weight"; }));

  auto kv = gguf_metadata(hp, "m");
  auto get = [&](const std::string& k) -> lp::formats::GgufValue {
    for (const auto& e : kv)
      if (e.key == k) return e.value;
    throw std::runtime_error("no key " + k);
  };
  EXPECT_EQ(get("qwen35.ssm.conv_kernel").type(), lp::formats::GgufType::UINT32);
  EXPECT_EQ(get("qwen35.ssm.conv_kernel").as_u32(), 4u);
  EXPECT_EQ(get("qwen35.ssm.state_size").type(), lp::formats::GgufType::UINT32);
  EXPECT_EQ(get("qwen35.ssm.state_size").as_u32(), 64u);
  EXPECT_EQ(get("qwen35.ssm.group_count").type(), lp::formats::GgufType::UINT32);
  EXPECT_EQ(get("qwen35.ssm.group_count").as_u32(), 2u);
  EXPECT_EQ(get("qwen35.ssm.time_step_rank").type(), lp::formats::GgufType::UINT32);
  EXPECT_EQ(get("qwen35.ssm.time_step_rank").as_u32(), 4u);
  EXPECT_EQ(get("qwen35.ssm.inner_size").type(), lp::formats::GgufType::UINT32);
  EXPECT_EQ(get("qwen35.ssm.inner_size").as_u32(), 256u);
  EXPECT_EQ(get("qwen35.full_attention_interval").type(), lp::formats::GgufType::UINT32);
  EXPECT_EQ(get("qwen35.full_attention_interval").as_u32(), 4u);
  EXPECT_EQ(get("qwen35.rope.dimension_count").type(), lp::formats::GgufType::UINT32);
  EXPECT_EQ(get("qwen35.rope.dimension_count").as_u32(), 16u);
  EXPECT_EQ(get("qwen35.rope.dimension_sections").array_type(), lp::formats::GgufType::INT32);
  EXPECT_EQ(get("qwen35.rope.dimension_sections").as_i32_array(), (std::vector<int32_t>{3, 3, 2, 0}));

  // And back: the engine-side reader sees the same linear-attention shape.
  HParams back = hparams_from_gguf([&](std::string_view k) -> std::optional<lp::formats::GgufValue> {
    for (const auto& e : kv)
      if (e.key == k) return e.value;
    return std::nullopt;
  });
  EXPECT_EQ(back.family, Family::Qwen35);
  EXPECT_EQ(back.ssm_v_heads, 4);
  EXPECT_EQ(back.rope_dim, 16);
  EXPECT_TRUE(back.layers[0].recurrent);
  EXPECT_FALSE(back.layers[3].recurrent);
}

// llama.cpp's _reorder_v_heads: grouped [k0: v0 v1, k1: v0 v1] -> tiled [v0: k0 k1, v1: k0 k1].
TEST(Qwen35, VHeadReorderIsLlamaCppsTiledOrder) {
  VHeadOrder o;
  o.k_heads = 2;
  o.v_per_k = 2;
  o.head_dim = 1;
  std::vector<int64_t> src;
  for (int i = 0; i < 4; ++i) src.push_back(o.source(i));
  EXPECT_EQ(src, (std::vector<int64_t>{0, 2, 1, 3}));
  o.head_dim = 3;
  o.offset = 5;  // leading q/k rows stay
  EXPECT_EQ(o.source(4), 4);
  EXPECT_EQ(o.source(5 + 3), 5 + 6);  // tiled head 1 (v0 of k1) <- grouped head 2
  EXPECT_EQ(o.source(5 + 6 + 2), 5 + 3 + 2);  // tiled head 2 (v1 of k0) <- grouped head 1
  RowMap m(Transform::None, 5 + 12, 1, 0, false, "t", o);
  EXPECT_EQ(m.locate(5 + 3).row, 5 + 6);
  EXPECT_THROW(RowMap(Transform::None, 5 + 11, 1, 0, false, "t", o), lp::Error);
}

TEST(Qwen35, MissingRecurrentTensorOrWrongConvKernelNamesTheTensor) {
  HParams hp = parse_hparams(qwen35_config(), "c.json");
  auto tensors = checkpoint_tensors(hp);
  auto without = tensors;
  std::erase_if(without, [](const TensorInfo& t) { return t.name == "model.layers.1.linear_attn.A_log"; });
  try {
    classify(hp, without);
    FAIL() << "no error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.linear_attn.A_log"), std::string::npos) << e.what();
  }
  auto wrong = tensors;
  for (auto& t : wrong)
    if (t.name == "model.layers.2.linear_attn.conv1d.weight") t.shape = {512, 1, 3};
  try {
    classify(hp, wrong);
    FAIL() << "no error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.2.linear_attn.conv1d.weight"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

// Qwen 3.5 MoE (qwen35moe): the dense config plus Qwen3_5MoeTextConfig's MoE fields.
json qwen35moe_config() {
  json c = qwen35_config();
  c["architectures"] = {"Qwen3_5MoeForCausalLM"};
  c["model_type"] = "qwen3_5_moe_text";
  c["num_experts"] = 8;
  c["num_experts_per_tok"] = 2;
  c["moe_intermediate_size"] = 256;
  c["shared_expert_intermediate_size"] = 512;
  c["tie_word_embeddings"] = false;
  return c;
}

TEST(Qwen35Moe, HParamsLayoutAndGgufAsLlamaCpp) {
  HParams hp = parse_hparams(qwen35moe_config(), "c.json");
  EXPECT_EQ(hp.family, Family::Qwen35Moe);
  EXPECT_EQ(hp.gguf_arch, "qwen35moe");
  EXPECT_EQ(hp.n_expert, 8);
  EXPECT_EQ(hp.n_expert_used, 2);
  EXPECT_EQ(hp.n_ff_expert, 256);
  EXPECT_EQ(hp.n_ff_shared, 512);
  EXPECT_EQ(hp.n_shared_expert, 1);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(hp.layers[i].moe) << i;
  EXPECT_TRUE(hp.layers[0].recurrent);
  EXPECT_FALSE(hp.layers[3].recurrent);

  auto recipes = gguf_tensors(hp, classify(hp, checkpoint_tensors(hp)));
  auto find = [&](const std::string& n) -> const GgufTensorRecipe& {
    auto it = std::find_if(recipes.begin(), recipes.end(), [&](const auto& r) { return r.gguf_name == n; });
    if (it == recipes.end()) throw std::runtime_error("no recipe " + n);
    return *it;
  };
  for (int il : {0, 3}) {
    const std::string p = "blk." + std::to_string(il) + ".";
    EXPECT_EQ(find(p + "ffn_gate_inp.weight").ne, (std::vector<int64_t>{256, 8}));
    EXPECT_TRUE(find(p + "ffn_gate_inp.weight").force_f32);
    EXPECT_EQ(find(p + "ffn_gate_exps.weight").ne, (std::vector<int64_t>{256, 256, 8}));
    EXPECT_EQ(find(p + "ffn_gate_exps.weight").transform, Transform::StackExperts);
    EXPECT_EQ(find(p + "ffn_down_exps.weight").ne, (std::vector<int64_t>{256, 256, 8}));
    EXPECT_EQ(find(p + "ffn_up_shexp.weight").ne, (std::vector<int64_t>{256, 512}));
    EXPECT_EQ(find(p + "ffn_down_shexp.weight").ne, (std::vector<int64_t>{512, 256}));
    EXPECT_EQ(find(p + "ffn_gate_inp_shexp.weight").ne, (std::vector<int64_t>{256, 1}));
    EXPECT_TRUE(find(p + "ffn_gate_inp_shexp.weight").force_f32);  // as llama.cpp's converter keeps it
  }
  EXPECT_EQ(find("blk.0.ssm_conv1d.weight").ne, (std::vector<int64_t>{4, 512}));
  EXPECT_EQ(find("output.weight").ne, (std::vector<int64_t>{256, 4096}));

  std::map<std::string, lp::formats::GgufValue> kv;
  for (const auto& e : gguf_metadata(hp, "m")) kv.emplace(e.key, e.value);
  EXPECT_EQ(kv.at("qwen35moe.expert_count").as_u32(), 8u);
  EXPECT_EQ(kv.at("qwen35moe.expert_used_count").as_u32(), 2u);
  EXPECT_EQ(kv.at("qwen35moe.expert_feed_forward_length").as_u32(), 256u);
  EXPECT_EQ(kv.at("qwen35moe.expert_shared_feed_forward_length").as_u32(), 512u);
  EXPECT_EQ(kv.at("qwen35moe.ssm.time_step_rank").as_u32(), 4u);
  HParams back = hparams_from_gguf([&](std::string_view k) -> std::optional<lp::formats::GgufValue> {
    auto it = kv.find(std::string(k));
    if (it == kv.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_EQ(back.family, Family::Qwen35Moe);
  EXPECT_EQ(back.n_ff_shared, 512);
  EXPECT_TRUE(back.layers[0].moe && back.layers[0].recurrent);
}

// transformers 5 fused experts (the released checkpoints): gate_up_proj [E, 2F, D] = per expert [gate; up],
// down_proj [E, D, F]; split into llama.cpp's ffn_gate_exps / ffn_up_exps and taken as is for ffn_down_exps.
TEST(Qwen35Moe, FusedExpertsSplitIntoGateAndUpHalves) {
  HParams hp = parse_hparams(qwen35moe_config(), "c.json");
  std::vector<TensorInfo> tensors;
  for (const auto& t : checkpoint_tensors(hp))
    if (t.name.find(".mlp.experts.") == std::string::npos) tensors.push_back(t);
  for (int il = 0; il < 4; ++il) {
    const std::string p = "model.layers." + std::to_string(il) + ".mlp.experts.";
    tensors.push_back({p + "gate_up_proj", "BF16", {8, 512, 256}});
    tensors.push_back({p + "down_proj", "BF16", {8, 256, 256}});
  }
  auto recipes = gguf_tensors(hp, classify(hp, tensors));
  auto find = [&](const std::string& n) -> const GgufTensorRecipe& {
    auto it = std::find_if(recipes.begin(), recipes.end(), [&](const auto& r) { return r.gguf_name == n; });
    if (it == recipes.end()) throw std::runtime_error("no recipe " + n);
    return *it;
  };
  const auto& gate = find("blk.2.ffn_gate_exps.weight");
  const auto& up = find("blk.2.ffn_up_exps.weight");
  EXPECT_EQ(gate.ne, (std::vector<int64_t>{256, 256, 8}));
  EXPECT_EQ(gate.transform, Transform::SplitGateUpLower);
  EXPECT_EQ(up.transform, Transform::SplitGateUpUpper);
  EXPECT_FALSE(gate.transpose_source);
  EXPECT_EQ(find("blk.2.ffn_down_exps.weight").transform, Transform::None);
  EXPECT_EQ(find("blk.2.ffn_down_exps.weight").ne, (std::vector<int64_t>{256, 256, 8}));
  // Output row (expert e, row f) reads source row e * 2F + f (gate) or e * 2F + F + f (up).
  const RowMap g = row_map(hp, gate, 3), u = row_map(hp, up, 3);
  EXPECT_EQ(g.rows(), 8 * 256);
  EXPECT_EQ(g.locate(0).row, 0);
  EXPECT_EQ(g.locate(3 * 256 + 5).row, 3 * 512 + 5);
  EXPECT_EQ(u.locate(3 * 256 + 5).row, 3 * 512 + 256 + 5);
  EXPECT_EQ(u.locate(8 * 256 - 1).row, 8 * 512 - 1);
  // A fused tensor whose shape disagrees with the config is named.
  for (auto& t : tensors)
    if (t.name == "model.layers.1.mlp.experts.gate_up_proj") t.shape = {8, 256, 256};
  try {
    classify(hp, tensors);
    FAIL() << "no error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.mlp.experts.gate_up_proj"), std::string::npos) << e.what();
  }
}

// The released checkpoints' multimodal wrapper (Qwen3_5MoeForConditionalGeneration, model_type qwen3_5_moe): text
// fields in text_config, language-model tensors under model.language_model., lm_head at the top, the vision tower
// (model.visual.) ignored, mtp.* at the top level (counted, dropped). Same GGUF as the text-only layout.
TEST(Qwen35Moe, MultimodalWrapperReadsTheTextModel) {
  json wrapped = {{"architectures", {"Qwen3_5MoeForConditionalGeneration"}},
                  {"model_type", "qwen3_5_moe"},
                  {"tie_word_embeddings", false},
                  {"text_config", qwen35moe_config()},
                  {"vision_config", {{"model_type", "qwen3_5_moe"}, {"depth", 27}}}};
  wrapped["text_config"].erase("architectures");
  wrapped["text_config"]["mtp_num_hidden_layers"] = 1;
  HParams hp = parse_hparams(wrapped, "c.json");
  EXPECT_EQ(hp.family, Family::Qwen35Moe);
  EXPECT_EQ(hp.model_type, "qwen3_5_moe_text");
  EXPECT_EQ(hp.n_expert, 8);
  EXPECT_EQ(hp.n_mtp_layers, 1);
  const HParams text_hp = parse_hparams(qwen35moe_config(), "c.json");
  std::vector<TensorInfo> tensors;
  for (auto t : checkpoint_tensors(text_hp)) {
    if (t.name.rfind("model.", 0) == 0) t.name = "model.language_model." + t.name.substr(6);
    tensors.push_back(t);
  }
  tensors.push_back({"model.visual.blocks.0.attn.qkv.weight", "BF16", {3456, 1152}});
  tensors.push_back({"mtp.fc.weight", "BF16", {256, 512}});
  tensors.push_back({"mtp.layers.0.input_layernorm.weight", "BF16", {256}});
  auto wrapped_recipes = gguf_tensors(hp, classify(hp, tensors));
  auto text_recipes = gguf_tensors(text_hp, classify(text_hp, checkpoint_tensors(text_hp)));
  ASSERT_EQ(wrapped_recipes.size(), text_recipes.size());
  for (size_t i = 0; i < text_recipes.size(); ++i) {
    EXPECT_EQ(wrapped_recipes[i].gguf_name, text_recipes[i].gguf_name);
    EXPECT_EQ(wrapped_recipes[i].ne, text_recipes[i].ne);
    ASSERT_FALSE(wrapped_recipes[i].sources.empty());
    EXPECT_EQ(wrapped_recipes[i].sources[0].rfind("model.language_model.", 0) == 0 ||
                  wrapped_recipes[i].sources[0] == "lm_head.weight",
              true)
        << wrapped_recipes[i].sources[0];
  }
}

TEST(Qwen35Moe, ConfigErrorsNameTheField) {
  json c = qwen35moe_config();
  c["norm_topk_prob"] = false;
  try {
    parse_hparams(c, "c.json");
    FAIL() << "no error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("norm_topk_prob"), std::string::npos) << e.what();
  }
  c = qwen35moe_config();
  c["shared_expert_intermediate_size"] = 0;
  try {
    parse_hparams(c, "c.json");
    FAIL() << "no error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("shared_expert_intermediate_size"), std::string::npos) << e.what();
  }
}

// MTP layers (mtp.*) are dropped, but their count must be the config's mtp_num_hidden_layers.
TEST(Qwen35, MtpTensorsDroppedAndCountedAgainstTheConfig) {
  json c = qwen35_config();
  c["mtp_num_hidden_layers"] = 1;
  HParams hp = parse_hparams(c, "c.json");
  auto tensors = checkpoint_tensors(hp);
  const size_t n_trunk = tensors.size();
  tensors.push_back({"mtp.fc.weight", "BF16", {256, 512}});
  tensors.push_back({"mtp.layers.0.self_attn.q_proj.weight", "BF16", {512, 256}});
  tensors.push_back({"mtp.norm.weight", "BF16", {256}});
  EXPECT_EQ(classify(hp, tensors).size(), n_trunk);
  tensors.push_back({"mtp.layers.1.self_attn.q_proj.weight", "BF16", {512, 256}});
  try {
    classify(hp, tensors);
    FAIL() << "no error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'mtp_num_hidden_layers' is 1 but the checkpoint has 2"), std::string::npos) << e.what();
  }
}

}  // namespace

namespace {

// The 35B-A3B shapes (Qwen3_5MoeTextConfig's defaults for the MoE and linear-attention fields, written out here for
// the others; 40 layers LLLF, 256 experts top-8, vocabulary 248320, untied): the parameter counts the model's name
// promises, counted from the layout (vision tower and MTP block not included).
TEST(Qwen35Moe, ThirtyFiveBA3BShapesGiveTheNamedParameterCounts) {
  json c = {{"architectures", {"Qwen3_5MoeForCausalLM"}}, {"model_type", "qwen3_5_moe_text"}, {"vocab_size", 248320},
            {"hidden_size", 2048}, {"num_hidden_layers", 40}, {"num_attention_heads", 16}, {"num_key_value_heads", 2},
            {"intermediate_size", 512}, {"tie_word_embeddings", false}};
  const HParams hp = parse_hparams(c, "c.json");
  EXPECT_EQ(hp.head_dim, 256);
  EXPECT_EQ(hp.n_expert, 256);
  EXPECT_EQ(hp.n_expert_used, 8);
  EXPECT_EQ(hp.ssm_v_heads, 32);
  EXPECT_EQ(hp.rope_dim, 64);
  EXPECT_EQ(hp.rope_sections, (std::vector<int32_t>{11, 11, 10, 0}));
  const ParamCounts p = count_params(hp, classify(hp, expected_tensors(hp)));
  EXPECT_GT(p.total, 34'000'000'000);
  EXPECT_LT(p.total, 36'000'000'000);
  EXPECT_GT(p.active, 2'500'000'000);
  EXPECT_LT(p.active, 3'600'000'000);
}

}  // namespace
