// classify(): every tensor of every family gets a role; unknown, missing and mis-shaped tensors are errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

#include "arch/arch.h"
#include "core/error.h"
#include "formats/checkpoint.h"
#include "tiny_configs.h"

namespace {

using namespace lp::arch;
using lp::arch::test::tiny_config;
using nlohmann::json;

std::map<std::string, TensorDesc> by_name(const std::vector<TensorDesc>& v) {
  std::map<std::string, TensorDesc> m;
  for (const auto& t : v) m[t.hf_name] = t;
  return m;
}

std::string classify_error(const HParams& hp, const std::vector<TensorInfo>& tensors) {
  try {
    classify(hp, tensors);
  } catch (const lp::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Classify, EveryExpectedTensorOfEveryFamilyRoundTrips) {
  for (const char* fam : {"llama", "llama3", "mistral", "qwen2", "qwen3", "qwen3moe", "mixtral", "gptoss", "gemma3",
                          "qwen35", "qwen35moe"}) {
    HParams hp = parse_hparams(tiny_config(fam), "x");
    auto expected = expected_tensors(hp);
    auto descs = classify(hp, expected);
    ASSERT_EQ(descs.size(), expected.size()) << fam;
    for (const auto& d : descs) {
      EXPECT_NE(role_name(d.role), "unknown") << d.hf_name;
      if (d.role == Role::TokenEmbd || d.role == Role::Output || d.role == Role::OutputNorm) EXPECT_EQ(d.layer, -1);
      else EXPECT_GE(d.layer, 0) << d.hf_name;
    }
  }
}

TEST(Classify, LlamaRolesAndShapes) {
  HParams hp = parse_hparams(tiny_config("llama"), "x");
  auto m = by_name(classify(hp, expected_tensors(hp)));
  EXPECT_EQ(m.size(), 1 + 2 * 9 + 2u);
  EXPECT_EQ(m["model.embed_tokens.weight"].role, Role::TokenEmbd);
  EXPECT_EQ(m["model.embed_tokens.weight"].hf_shape, (std::vector<int64_t>{100, 64}));
  EXPECT_EQ(m["lm_head.weight"].role, Role::Output);
  EXPECT_EQ(m["model.norm.weight"].role, Role::OutputNorm);
  EXPECT_EQ(m["model.layers.1.input_layernorm.weight"].role, Role::AttnNorm);
  EXPECT_EQ(m["model.layers.1.post_attention_layernorm.weight"].role, Role::FfnNorm);
  EXPECT_EQ(m["model.layers.1.self_attn.k_proj.weight"].role, Role::AttnK);
  EXPECT_EQ(m["model.layers.1.self_attn.k_proj.weight"].hf_shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(m["model.layers.1.self_attn.o_proj.weight"].role, Role::AttnO);
  EXPECT_EQ(m["model.layers.0.mlp.down_proj.weight"].role, Role::FfnDown);
  EXPECT_EQ(m["model.layers.0.mlp.down_proj.weight"].hf_shape, (std::vector<int64_t>{64, 96}));
  EXPECT_EQ(m["model.layers.0.mlp.down_proj.weight"].layer, 0);
}

TEST(Classify, Qwen2BiasesAndTiedHeadOptional) {
  HParams hp = parse_hparams(tiny_config("qwen2"), "x");
  auto tensors = expected_tensors(hp);
  auto m = by_name(classify(hp, tensors));
  EXPECT_TRUE(m.count("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_TRUE(m["model.layers.0.self_attn.q_proj.bias"].is_bias);
  EXPECT_EQ(m["model.layers.0.self_attn.q_proj.bias"].part, Part::Bias);
  EXPECT_FALSE(m.count("model.layers.0.self_attn.o_proj.bias"));
  EXPECT_FALSE(m.count("lm_head.weight"));
  // A tied checkpoint that still stores lm_head is accepted; the copy is not counted twice.
  tensors.push_back({"lm_head.weight", "BF16", {100, 64}});
  auto with_head = classify(hp, tensors);
  EXPECT_EQ(by_name(with_head)["lm_head.weight"].role, Role::Output);
  EXPECT_EQ(count_params(hp, with_head).total, count_params(hp, classify(hp, expected_tensors(hp))).total);
}

TEST(Classify, Qwen3MoeExpertsAndDenseLayer) {
  HParams hp = parse_hparams(tiny_config("qwen3moe"), "x");
  auto m = by_name(classify(hp, expected_tensors(hp)));
  EXPECT_EQ(m["model.layers.0.mlp.gate.weight"].role, Role::Router);
  EXPECT_EQ(m["model.layers.0.mlp.gate.weight"].hf_shape, (std::vector<int64_t>{4, 64}));
  const auto& e3 = m["model.layers.0.mlp.experts.3.down_proj.weight"];
  EXPECT_EQ(e3.role, Role::ExpertDown);
  EXPECT_EQ(e3.expert, 3);
  EXPECT_EQ(e3.hf_shape, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(m["model.layers.0.self_attn.q_norm.weight"].role, Role::AttnQNorm);
  EXPECT_EQ(m["model.layers.1.mlp.gate_proj.weight"].role, Role::FfnGate);  // mlp_only_layers: [1]
  EXPECT_FALSE(m.count("model.layers.1.mlp.gate.weight"));
}

TEST(Classify, MixtralW1W2W3) {
  HParams hp = parse_hparams(tiny_config("mixtral"), "x");
  auto m = by_name(classify(hp, expected_tensors(hp)));
  EXPECT_EQ(m["model.layers.1.block_sparse_moe.experts.2.w1.weight"].role, Role::ExpertGate);
  EXPECT_EQ(m["model.layers.1.block_sparse_moe.experts.2.w2.weight"].role, Role::ExpertDown);
  EXPECT_EQ(m["model.layers.1.block_sparse_moe.experts.2.w3.weight"].role, Role::ExpertUp);
  EXPECT_EQ(m["model.layers.1.block_sparse_moe.gate.weight"].role, Role::Router);
}

TEST(Classify, GptOssMxfp4AndDenseLayouts) {
  HParams hp = parse_hparams(tiny_config("gptoss"), "x");
  auto m = by_name(classify(hp, expected_tensors(hp)));
  const auto& blocks = m["model.layers.0.mlp.experts.gate_up_proj_blocks"];
  EXPECT_EQ(blocks.role, Role::ExpertGateUp);
  EXPECT_EQ(blocks.part, Part::MxBlocks);
  EXPECT_EQ(blocks.hf_shape, (std::vector<int64_t>{4, 128, 2, 16}));
  EXPECT_EQ(m["model.layers.0.mlp.experts.down_proj_scales"].part, Part::MxScales);
  EXPECT_EQ(m["model.layers.0.mlp.experts.down_proj_bias"].role, Role::ExpertDown);
  EXPECT_TRUE(m["model.layers.0.mlp.experts.down_proj_bias"].is_bias);
  EXPECT_EQ(m["model.layers.0.self_attn.sinks"].role, Role::AttnSinks);
  EXPECT_EQ(m["model.layers.0.mlp.router.bias"].role, Role::Router);
  EXPECT_EQ(m["model.layers.0.self_attn.o_proj.bias"].role, Role::AttnO);
  // The dense-BF16 release layout (no quantization_config) classifies too.
  json c = tiny_config("gptoss");
  c.erase("quantization_config");
  HParams dense = parse_hparams(c, "x");
  auto d = by_name(classify(dense, expected_tensors(dense)));
  EXPECT_EQ(d["model.layers.1.mlp.experts.gate_up_proj"].hf_shape, (std::vector<int64_t>{4, 64, 128}));
  EXPECT_EQ(d["model.layers.1.mlp.experts.down_proj"].role, Role::ExpertDown);
  // Parameters: MXFP4 blocks count two per byte, scales none: both layouts agree.
  EXPECT_EQ(count_params(hp, classify(hp, expected_tensors(hp))).total,
            count_params(dense, classify(dense, expected_tensors(dense))).total);
}

TEST(Classify, Gemma3FourNormsAndMultimodalPrefix) {
  HParams hp = parse_hparams(tiny_config("gemma3"), "x");
  auto m = by_name(classify(hp, expected_tensors(hp)));
  EXPECT_EQ(m["model.layers.0.post_attention_layernorm.weight"].role, Role::AttnPostNorm);
  EXPECT_EQ(m["model.layers.0.pre_feedforward_layernorm.weight"].role, Role::FfnNorm);
  EXPECT_EQ(m["model.layers.0.post_feedforward_layernorm.weight"].role, Role::FfnPostNorm);
  json mm = {{"model_type", "gemma3"}, {"text_config", tiny_config("gemma3")}};
  HParams mhp = parse_hparams(mm, "x");
  auto tensors = expected_tensors(mhp);
  EXPECT_EQ(tensors.front().name, "language_model.model.embed_tokens.weight");
  tensors.push_back({"vision_tower.vision_model.embeddings.patch_embedding.weight", "BF16", {8, 3, 14, 14}});
  tensors.push_back({"multi_modal_projector.mm_input_projection_weight", "BF16", {8, 64}});
  auto descs = classify(mhp, tensors);
  EXPECT_EQ(descs.size(), tensors.size() - 2);
  EXPECT_TRUE(is_ignored_tensor(mhp, "vision_tower.x"));
  // transformers >= 4.52 names the same checkpoint model.language_model.* / model.vision_tower.*
  std::vector<TensorInfo> renamed;
  for (const auto& t : expected_tensors(mhp))
    renamed.push_back({"model.language_model." + t.name.substr(std::string("language_model.model.").size()), t.dtype, t.shape});
  renamed.push_back({"model.vision_tower.vision_model.post_layernorm.weight", "BF16", {8}});
  auto rd = classify(mhp, renamed);
  EXPECT_EQ(rd.size(), renamed.size() - 1);
  EXPECT_EQ(rd.front().hf_name, "model.language_model.embed_tokens.weight");
  EXPECT_EQ(rd.front().role, Role::TokenEmbd);
  bool found = false;
  for (const auto& r : mlx_tensors(mhp, rd)) found |= r.mlx_name == "model.layers.0.self_attn.q_proj.weight";
  EXPECT_TRUE(found);
}

TEST(Classify, ErrorsNameTheTensor) {
  HParams hp = parse_hparams(tiny_config("qwen3"), "x");
  auto tensors = expected_tensors(hp);
  auto extra = tensors;
  extra.push_back({"model.layers.0.mlp.mystery.weight", "BF16", {4, 4}});
  EXPECT_NE(classify_error(hp, extra).find("'model.layers.0.mlp.mystery.weight'"), std::string::npos);
  auto beyond = tensors;
  beyond.push_back({"model.layers.7.input_layernorm.weight", "BF16", {64}});
  EXPECT_NE(classify_error(hp, beyond).find("model.layers.7.input_layernorm.weight"), std::string::npos);
  auto missing = tensors;
  missing.erase(missing.begin() + 3);
  EXPECT_NE(classify_error(hp, missing).find("missing tensor '" + tensors[3].name + "'"), std::string::npos)
      << classify_error(hp, missing);
  auto wrong = tensors;
  wrong[1].shape = {63};
  std::string e = classify_error(hp, wrong);
  EXPECT_NE(e.find(wrong[1].name), std::string::npos) << e;
  EXPECT_NE(e.find("[63]"), std::string::npos) << e;
  // rotary caches of older checkpoints are skipped, not errors
  auto rotary = tensors;
  rotary.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {16}});
  EXPECT_EQ(classify_error(hp, rotary), "");
}

TEST(Classify, ParamCountsFromShapes) {
  HParams hp = parse_hparams(tiny_config("qwen3moe"), "x");
  auto c = count_params(hp, classify(hp, expected_tensors(hp)));
  // embed 6400*2 + norm 64; layer0: attn 4*64*16*2 + 2*64*16*2=12288, qk norm 32, norms 128, router 256,
  // experts 4*3*64*32=24576; layer1: attn 12288 + 32 + 128 + dense 3*64*96=18432.
  const int64_t expected_total = 12800 + 64 + (12288 + 32 + 128 + 256 + 24576) + (12288 + 32 + 128 + 18432);
  EXPECT_EQ(c.total, expected_total);
  EXPECT_EQ(c.routed_expert, 24576);
  EXPECT_EQ(c.active, expected_total - 24576 / 2);
  EXPECT_EQ(c.embedding, 6400);
  EXPECT_EQ(c.active_excl_embedding, c.active - 6400);
}

// A tiny real safetensors checkpoint on disk, read through formats::Checkpoint.
TEST(Classify, DetectOnAWrittenCheckpoint) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lp_arch_ckpt_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  json cfg = tiny_config("llama");
  std::ofstream(dir / "config.json") << cfg.dump();
  HParams hp = parse_hparams(cfg, "x");
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& t : expected_tensors(hp)) {
    uint64_t n = 2;
    for (auto d : t.shape) n *= static_cast<uint64_t>(d);
    header[t.name] = {{"dtype", "BF16"}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  std::ofstream f(dir / "model.safetensors", std::ios::binary);
  uint64_t len = h.size();
  f.write(reinterpret_cast<const char*>(&len), 8);
  f << h << std::string(offset, '\0');
  f.close();
  auto ckpt = lp::formats::Checkpoint::open(dir.string());
  auto report = detect(ckpt);
  EXPECT_TRUE(report.params_from_weights);
  EXPECT_EQ(report.params.total, count_params(hp, classify(hp, expected_tensors(hp))).total);
  EXPECT_EQ(classify(hp, ckpt).size(), expected_tensors(hp).size());
  fs::remove_all(dir);
}

}  // namespace
