// The trained fixture models in /work/shared/fixtures: detect + classify every tensor of the real files.
#include <gtest/gtest.h>

#include <filesystem>

#include "arch/arch.h"
#include "formats/checkpoint.h"
#include "peer_skip.h"

namespace {

namespace fs = std::filesystem;
using namespace lp::arch;

std::optional<lp::formats::Checkpoint> open_fixture(const std::string& name) {
  fs::path dir = fs::path(LP_SHARED_FIXTURES) / name;
  if (!fs::exists(dir / "model.safetensors")) return std::nullopt;
  return lp::formats::Checkpoint::open(dir.string());
}

#define OPEN_OR_SKIP(var, name)                                                         \
  auto var##_opt = open_fixture(name);                                                  \
  if (!var##_opt) LP_SKIP_OR_FAIL("fixture " << name << " missing in " LP_SHARED_FIXTURES); \
  const auto& var = *var##_opt

// Every tensor in the file is classified (none left over, none invented).
void expect_all_classified(const lp::formats::Checkpoint& ckpt, const HParams& hp, size_t* n_out = nullptr) {
  auto descs = classify(hp, ckpt);
  EXPECT_EQ(descs.size(), ckpt.tensor_count());
  for (const auto& d : descs) EXPECT_NE(ckpt.find(d.hf_name), nullptr) << d.hf_name;
  auto recipes = gguf_tensors(hp, descs);
  EXPECT_FALSE(recipes.empty());
  if (n_out) *n_out = descs.size();
}

TEST(Fixtures, TinyQwen3) {
  OPEN_OR_SKIP(ckpt, "tiny-qwen3");
  auto r = detect(ckpt);
  EXPECT_EQ(r.hp.family, Family::Qwen3);
  EXPECT_TRUE(r.params_from_weights);
  EXPECT_EQ(r.family_class, "dense_decoder");
  EXPECT_EQ(r.attention_type, "gqa");
  EXPECT_EQ(r.gqa_group_size, 2);
  EXPECT_TRUE(r.hp.tied_embeddings);
  EXPECT_EQ(to_json(r)["params_total"], "4.2M");  // README: 4.2 M; file scan: 4,197,120
  // tied: 4096*256 + 4 layers * (attn 256*256*2 + 128*256*2 + qk-norm 128 + norms 512 + ffn 3*256*768) + 256
  EXPECT_EQ(r.params.total, 4096 * 256 + 4 * (2 * 256 * 256 + 2 * 128 * 256 + 128 + 512 + 3 * 256 * 768) + 256);
  expect_all_classified(ckpt, r.hp);
}

TEST(Fixtures, TinyQwen3Moe) {
  OPEN_OR_SKIP(ckpt, "tiny-qwen3moe");
  auto r = detect(ckpt);
  EXPECT_EQ(r.hp.family, Family::Qwen3Moe);
  EXPECT_EQ(r.family_class, "moe");
  EXPECT_EQ(r.hp.n_expert, 8);
  EXPECT_EQ(r.hp.n_expert_used, 2);
  // Element counts of the file's tensors (independent scan of the safetensors header): 8,137,472 in all,
  // 6,291,456 in experts; 2 of 8 experts active. (The fixture README's "8.2 M / 2.7 M active" are approximations.)
  EXPECT_EQ(r.params.total, 8137472);
  EXPECT_EQ(r.params.routed_expert, 6291456);
  EXPECT_EQ(r.params.active, 8137472 - 6291456 * 6 / 8);
  EXPECT_EQ(r.strategy_name, "expert_balanced_calibration");
  size_t n = 0;
  expect_all_classified(ckpt, r.hp, &n);
  EXPECT_EQ(n, 1 + 4 * (8 + 1 + 8 * 3) + 1u);  // per layer: 2 norms, q/k/v/o, q/k norms; router; 24 experts
}

TEST(Fixtures, TinyGptOss) {
  OPEN_OR_SKIP(ckpt, "tiny-gptoss");
  auto r = detect(ckpt);
  EXPECT_EQ(r.hp.family, Family::GptOss);
  EXPECT_EQ(r.family_class, "sparse_moe_alternating_attention");
  EXPECT_EQ(r.attention_pattern, "alternating");
  EXPECT_EQ(r.native_quant, NativeQuant::Mxfp4);
  EXPECT_EQ(to_json(r)["native_quantization"], "mxfp4");
  // Independent scan of the file: 9,213,232 parameters (MXFP4 blocks 2 per byte, scales none), 6,316,032 of them
  // in experts (incl. expert biases); 2 of 8 active. (README: "9.2 M (2.9 M active)"; its active figure is off.)
  EXPECT_EQ(to_json(r)["params_total"], "9.2M");
  EXPECT_EQ(r.params.total, 9213232);
  EXPECT_EQ(r.params.routed_expert, 6316032);
  EXPECT_EQ(r.params.active, 9213232 - 6316032 * 6 / 8);
  EXPECT_EQ(r.layer_types, (std::vector<std::string>{"sliding_attention", "full_attention", "sliding_attention",
                                                      "full_attention"}));
  expect_all_classified(ckpt, r.hp);
  auto descs = classify(r.hp, ckpt);
  int native = 0;
  for (const auto& g : gguf_tensors(r.hp, descs)) native += g.native_mxfp4;
  EXPECT_EQ(native, 4 * 3);  // gate, up, down per layer
}

TEST(Fixtures, TinyGemma3) {
  OPEN_OR_SKIP(ckpt, "tiny-gemma3");
  auto r = detect(ckpt);
  EXPECT_EQ(r.hp.family, Family::Gemma3);
  EXPECT_EQ(r.family_class, "hybrid_attention");
  EXPECT_EQ(r.attention_type, "mqa");
  EXPECT_EQ(r.attention_pattern, "hybrid_local_global");
  EXPECT_EQ(to_json(r)["params_total"], "5.6M");  // README: 5.6 M
  EXPECT_EQ(r.params.total, 5577728);              // independent scan of the file
  EXPECT_EQ(r.layer_types.back(), "full_attention");
  EXPECT_EQ(r.layer_types.front(), "sliding_attention");
  expect_all_classified(ckpt, r.hp);
}

}  // namespace
