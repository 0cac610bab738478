// GGUF (llama.cpp) and MLX (mlx-lm) naming, layouts and metadata per family.
#include <gtest/gtest.h>

#include <map>

#include "arch/arch.h"
#include "core/error.h"
#include "tiny_configs.h"

namespace {

using namespace lp::arch;
using lp::arch::test::tiny_config;
using nlohmann::json;
using Ne = std::vector<int64_t>;

struct Model {
  HParams hp;
  std::vector<TensorDesc> tensors;
};
Model model(const json& cfg) {
  Model m{parse_hparams(cfg, "x"), {}};
  m.tensors = classify(m.hp, expected_tensors(m.hp));
  return m;
}
Model model(const char* fam) { return model(tiny_config(fam)); }

std::map<std::string, GgufTensorRecipe> gguf_by_name(const Model& m) {
  std::map<std::string, GgufTensorRecipe> out;
  for (auto& r : gguf_tensors(m.hp, m.tensors)) {
    EXPECT_FALSE(out.count(r.gguf_name)) << "duplicate " << r.gguf_name;
    out[r.gguf_name] = r;
  }
  return out;
}
std::map<std::string, MlxTensorRecipe> mlx_by_name(const Model& m) {
  std::map<std::string, MlxTensorRecipe> out;
  for (auto& r : mlx_tensors(m.hp, m.tensors)) {
    EXPECT_FALSE(out.count(r.mlx_name)) << "duplicate " << r.mlx_name;
    out[r.mlx_name] = r;
  }
  return out;
}
std::map<std::string, lp::formats::GgufValue> meta(const Model& m) {
  std::map<std::string, lp::formats::GgufValue> out;
  for (auto& kv : gguf_metadata(m.hp, "tiny")) {
    EXPECT_FALSE(out.count(kv.key)) << "duplicate key " << kv.key;
    out[kv.key] = kv.value;
  }
  return out;
}
// The GGUF type a key must have for T (llama.cpp's converter writes uint32, float32 and string keys).
template <typename T>
constexpr lp::formats::GgufType gguf_type_of() {
  if constexpr (std::is_same_v<T, uint32_t>) return lp::formats::GgufType::UINT32;
  else if constexpr (std::is_same_v<T, float>) return lp::formats::GgufType::FLOAT32;
  else return lp::formats::GgufType::STRING;
}
template <typename T>
T get(const std::map<std::string, lp::formats::GgufValue>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) ADD_FAILURE() << "missing key " << key;
  if (it == m.end() || it->second.type() != gguf_type_of<T>()) {
    ADD_FAILURE() << "key " << key << " has another type";
    return T{};
  }
  if constexpr (std::is_same_v<T, uint32_t>) return it->second.as_u32(key);
  else if constexpr (std::is_same_v<T, float>) return it->second.as_f32(key);
  else return it->second.as_string(key);
}

TEST(Gguf, LlamaNamesPermuteAndLayout) {
  auto g = gguf_by_name(model("llama"));
  EXPECT_EQ(g.size(), 1 + 2 * 9 + 2u);
  EXPECT_EQ(g["token_embd.weight"].ne, (Ne{64, 100}));
  EXPECT_EQ(g["output.weight"].ne, (Ne{64, 100}));
  EXPECT_TRUE(g["output_norm.weight"].force_f32);
  EXPECT_EQ(g["blk.1.attn_q.weight"].transform, Transform::PermuteQK);
  EXPECT_EQ(g["blk.1.attn_k.weight"].transform, Transform::PermuteQK);
  EXPECT_EQ(g["blk.1.attn_k.weight"].ne, (Ne{64, 32}));
  EXPECT_EQ(g["blk.1.attn_v.weight"].transform, Transform::None);
  EXPECT_EQ(g["blk.1.attn_output.weight"].sources, (std::vector<std::string>{"model.layers.1.self_attn.o_proj.weight"}));
  EXPECT_EQ(g["blk.0.ffn_down.weight"].ne, (Ne{96, 64}));
  EXPECT_TRUE(g.count("blk.0.ffn_norm.weight"));
  EXPECT_FALSE(g.count("rope_freqs.weight"));
}

TEST(Gguf, Llama3RopeFreqsAndMistralPermute) {
  auto g = gguf_by_name(model("llama3"));
  ASSERT_TRUE(g.count("rope_freqs.weight"));
  EXPECT_EQ(g["rope_freqs.weight"].ne, (Ne{8}));
  EXPECT_EQ(g["rope_freqs.weight"].transform, Transform::GenerateRopeFreqs);
  EXPECT_TRUE(g["rope_freqs.weight"].sources.empty());
  EXPECT_EQ(gguf_tensors(model("llama3").hp, model("llama3").tensors).front().gguf_name, "rope_freqs.weight");
  EXPECT_EQ(gguf_by_name(model("mistral"))["blk.0.attn_q.weight"].transform, Transform::PermuteQK);
  EXPECT_EQ(gguf_by_name(model("qwen3"))["blk.0.attn_q.weight"].transform, Transform::None);  // NEOX rope
}

TEST(Gguf, TiedOutputIsOmittedAndQwen2BiasesAreF32) {
  auto g = gguf_by_name(model("qwen2"));
  EXPECT_FALSE(g.count("output.weight"));
  ASSERT_TRUE(g.count("blk.0.attn_q.bias"));
  EXPECT_TRUE(g["blk.0.attn_q.bias"].force_f32);
  EXPECT_TRUE(g["blk.0.attn_q.bias"].is_bias);
  EXPECT_EQ(g["blk.0.attn_k.bias"].ne, (Ne{32}));
}

TEST(Gguf, Qwen3MoeStacksExperts) {
  auto g = gguf_by_name(model("qwen3moe"));
  const auto& gate = g["blk.0.ffn_gate_exps.weight"];
  EXPECT_EQ(gate.transform, Transform::StackExperts);
  EXPECT_EQ(gate.ne, (Ne{64, 32, 4}));
  ASSERT_EQ(gate.sources.size(), 4u);
  EXPECT_EQ(gate.sources[2], "model.layers.0.mlp.experts.2.gate_proj.weight");
  EXPECT_EQ(g["blk.0.ffn_down_exps.weight"].ne, (Ne{32, 64, 4}));
  EXPECT_EQ(g["blk.0.ffn_up_exps.weight"].role, Role::ExpertUp);
  EXPECT_EQ(g["blk.0.ffn_gate_inp.weight"].ne, (Ne{64, 4}));
  EXPECT_TRUE(g["blk.0.ffn_gate_inp.weight"].force_f32);
  EXPECT_TRUE(g.count("blk.1.ffn_gate.weight"));  // dense layer
  EXPECT_TRUE(g.count("blk.0.attn_q_norm.weight"));
  EXPECT_FALSE(g.count("blk.0.ffn_gate.weight"));
}

TEST(Gguf, MixtralExpertNames) {
  auto g = gguf_by_name(model("mixtral"));
  EXPECT_EQ(g["blk.1.ffn_gate_exps.weight"].sources[0], "model.layers.1.block_sparse_moe.experts.0.w1.weight");
  EXPECT_EQ(g["blk.1.ffn_down_exps.weight"].sources[3], "model.layers.1.block_sparse_moe.experts.3.w2.weight");
  EXPECT_EQ(g["blk.1.ffn_up_exps.weight"].sources[1], "model.layers.1.block_sparse_moe.experts.1.w3.weight");
  EXPECT_EQ(g["blk.1.ffn_down_exps.weight"].ne, (Ne{96, 64, 4}));
}

TEST(Gguf, GptOssSplitsGateUpAndKeepsMxfp4) {
  auto g = gguf_by_name(model("gptoss"));
  const auto& gate = g["blk.0.ffn_gate_exps.weight"];
  EXPECT_TRUE(gate.native_mxfp4);
  EXPECT_EQ(gate.transform, Transform::SplitGateUpEvenMxfp4);
  EXPECT_EQ(gate.ne, (Ne{64, 64, 4}));
  EXPECT_EQ(gate.sources, (std::vector<std::string>{"model.layers.0.mlp.experts.gate_up_proj_blocks",
                                                    "model.layers.0.mlp.experts.gate_up_proj_scales"}));
  EXPECT_EQ(g["blk.0.ffn_up_exps.weight"].transform, Transform::SplitGateUpOddMxfp4);
  EXPECT_EQ(g["blk.0.ffn_down_exps.weight"].transform, Transform::Mxfp4Repack);
  EXPECT_TRUE(g["blk.0.ffn_down_exps.weight"].native_mxfp4);
  EXPECT_EQ(g["blk.0.ffn_gate_exps.bias"].ne, (Ne{64, 4}));
  EXPECT_EQ(g["blk.0.ffn_gate_exps.bias"].transform, Transform::SplitGateUpEven);
  EXPECT_EQ(g["blk.0.ffn_up_exps.bias"].transform, Transform::SplitGateUpOdd);
  EXPECT_EQ(g["blk.0.ffn_down_exps.bias"].ne, (Ne{64, 4}));
  EXPECT_EQ(g["blk.0.attn_sinks.weight"].ne, (Ne{4}));
  EXPECT_TRUE(g.count("blk.0.post_attention_norm.weight"));  // llama.cpp's name for gpt-oss's pre-FFN norm
  EXPECT_FALSE(g.count("blk.0.ffn_norm.weight"));
  EXPECT_TRUE(g.count("blk.0.ffn_gate_inp.bias"));
  EXPECT_TRUE(g.count("blk.0.attn_output.bias"));
  EXPECT_TRUE(g.count("output.weight"));
  // Dense-BF16 layout: transposed source, same GGUF tensors.
  json c = tiny_config("gptoss");
  c.erase("quantization_config");
  auto d = gguf_by_name(model(c));
  EXPECT_TRUE(d["blk.0.ffn_gate_exps.weight"].transpose_source);
  EXPECT_FALSE(d["blk.0.ffn_gate_exps.weight"].native_mxfp4);
  EXPECT_EQ(d["blk.0.ffn_gate_exps.weight"].ne, (Ne{64, 64, 4}));
  EXPECT_EQ(d.size(), g.size());
}

TEST(Gguf, Gemma3NormsAddOneAndTiedOutput) {
  auto g = gguf_by_name(model("gemma3"));
  for (const char* n : {"output_norm.weight", "blk.0.attn_norm.weight", "blk.0.attn_q_norm.weight",
                        "blk.0.attn_k_norm.weight", "blk.0.post_attention_norm.weight", "blk.0.ffn_norm.weight",
                        "blk.0.post_ffw_norm.weight"}) {
    ASSERT_TRUE(g.count(n)) << n;
    EXPECT_EQ(g[n].transform, Transform::AddOne) << n;
    EXPECT_TRUE(g[n].force_f32) << n;
  }
  EXPECT_FALSE(g.count("output.weight"));
  EXPECT_TRUE(g["token_embd.weight"].trim_to_tokenizer_vocab);
  EXPECT_EQ(g["blk.0.attn_q.weight"].transform, Transform::None);
}

TEST(Gguf, TensorNameLookupForTheEngine) {
  auto hp = model("gptoss").hp;
  EXPECT_EQ(gguf_tensor_name(hp, Role::FfnNorm, 3), "blk.3.post_attention_norm.weight");
  EXPECT_EQ(gguf_tensor_name(hp, Role::Router, 0, true), "blk.0.ffn_gate_inp.bias");
  EXPECT_EQ(gguf_tensor_name(hp, Role::OutputNorm, -1), "output_norm.weight");
  EXPECT_EQ(gguf_tensor_name(hp, Role::ExpertGateUp, 0), "");
  EXPECT_EQ(gguf_tensor_name(model("qwen3").hp, Role::FfnNorm, 0), "blk.0.ffn_norm.weight");
}

TEST(GgufMeta, KeysPerFamily) {
  auto l = meta(model("llama3"));
  EXPECT_EQ(get<std::string>(l, "general.architecture"), "llama");
  EXPECT_EQ(get<std::string>(l, "general.name"), "tiny");
  EXPECT_EQ(get<uint32_t>(l, "llama.block_count"), 2u);
  EXPECT_EQ(get<uint32_t>(l, "llama.context_length"), 512u);
  EXPECT_EQ(get<uint32_t>(l, "llama.embedding_length"), 64u);
  EXPECT_EQ(get<uint32_t>(l, "llama.feed_forward_length"), 96u);
  EXPECT_EQ(get<uint32_t>(l, "llama.attention.head_count"), 4u);
  EXPECT_EQ(get<uint32_t>(l, "llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(get<uint32_t>(l, "llama.attention.key_length"), 16u);
  EXPECT_EQ(get<uint32_t>(l, "llama.vocab_size"), 100u);
  EXPECT_EQ(get<uint32_t>(l, "llama.rope.dimension_count"), 16u);
  EXPECT_FLOAT_EQ(get<float>(l, "llama.rope.freq_base"), 10000.0f);
  EXPECT_FLOAT_EQ(get<float>(l, "llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_FALSE(l.count("llama.rope.scaling.type"));  // llama3 scaling travels as rope_freqs

  auto x = meta(model("mixtral"));
  EXPECT_EQ(get<std::string>(x, "general.architecture"), "llama");
  EXPECT_EQ(get<uint32_t>(x, "llama.expert_count"), 4u);
  EXPECT_EQ(get<uint32_t>(x, "llama.expert_used_count"), 2u);

  auto q = meta(model("qwen3moe"));
  EXPECT_EQ(get<uint32_t>(q, "qwen3moe.expert_feed_forward_length"), 32u);
  EXPECT_EQ(get<uint32_t>(q, "qwen3moe.expert_count"), 4u);
  EXPECT_FALSE(q.count("qwen3moe.vocab_size"));

  auto o = meta(model("gptoss"));
  EXPECT_EQ(get<std::string>(o, "general.architecture"), "gpt-oss");
  EXPECT_EQ(get<uint32_t>(o, "gpt-oss.attention.sliding_window"), 8u);
  EXPECT_EQ(get<uint32_t>(o, "gpt-oss.expert_feed_forward_length"), 64u);
  EXPECT_EQ(get<std::string>(o, "gpt-oss.rope.scaling.type"), "yarn");
  EXPECT_FLOAT_EQ(get<float>(o, "gpt-oss.rope.scaling.factor"), 32.0f);
  EXPECT_EQ(get<uint32_t>(o, "gpt-oss.rope.scaling.original_context_length"), 4096u);
  EXPECT_FLOAT_EQ(get<float>(o, "gpt-oss.rope.scaling.yarn_beta_fast"), 32.0f);
  EXPECT_FLOAT_EQ(get<float>(o, "gpt-oss.rope.scaling.yarn_beta_slow"), 1.0f);

  auto g = meta(model("gemma3"));
  EXPECT_EQ(get<uint32_t>(g, "gemma3.attention.sliding_window"), 16u);
  EXPECT_FLOAT_EQ(get<float>(g, "gemma3.rope.freq_base"), 1e6f);
  EXPECT_FLOAT_EQ(get<float>(g, "gemma3.rope.freq_base_swa"), 1e4f);
  EXPECT_FALSE(g.count("gemma3.attention.sliding_window_pattern"));  // llama.cpp's default period 6 applies
  json lin = tiny_config("gemma3");
  lin["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  auto gl = meta(model(lin));
  EXPECT_EQ(get<std::string>(gl, "gemma3.rope.scaling.type"), "linear");
  EXPECT_FLOAT_EQ(get<float>(gl, "gemma3.rope.scaling.factor"), 8.0f);
}

TEST(GgufMeta, HParamsRoundTripThroughMetadata) {
  for (const char* fam : {"llama", "mixtral", "qwen2", "qwen3", "qwen3moe", "gptoss", "gemma3", "qwen35", "qwen35moe"}) {
    auto m = model(fam);
    auto kv = meta(m);
    HParams back = hparams_from_gguf([&](std::string_view key) -> std::optional<lp::formats::GgufValue> {
      auto it = kv.find(std::string(key));
      if (it == kv.end()) return std::nullopt;
      return it->second;
    });
    EXPECT_EQ(back.family, m.hp.family) << fam;
    EXPECT_EQ(back.n_layer, m.hp.n_layer) << fam;
    EXPECT_EQ(back.n_embd, m.hp.n_embd) << fam;
    EXPECT_EQ(back.n_head_kv, m.hp.n_head_kv) << fam;
    EXPECT_EQ(back.head_dim, m.hp.head_dim) << fam;
    EXPECT_EQ(back.n_expert, m.hp.n_expert) << fam;
    EXPECT_EQ(back.n_expert_used, m.hp.n_expert_used) << fam;
    EXPECT_EQ(back.n_ff_expert, m.hp.n_ff_expert) << fam;
    EXPECT_EQ(back.n_ff_shared, m.hp.n_ff_shared) << fam;
    EXPECT_EQ(back.sliding_window, m.hp.sliding_window) << fam;
    EXPECT_EQ(back.qk_norm, m.hp.qk_norm) << fam;
    EXPECT_EQ(back.attn_sinks, m.hp.attn_sinks) << fam;
    EXPECT_EQ(back.rope.type, m.hp.rope.type == "llama3" ? "" : m.hp.rope.type) << fam;
    EXPECT_NEAR(back.rms_eps, m.hp.rms_eps, 1e-9) << fam;
    ASSERT_EQ(back.layers.size(), m.hp.layers.size()) << fam;
    for (size_t i = 0; i < back.layers.size(); ++i) {
      EXPECT_EQ(back.layers[i].sliding, m.hp.layers[i].sliding) << fam << " layer " << i;
      EXPECT_EQ(back.layers[i].recurrent, m.hp.layers[i].recurrent) << fam << " layer " << i;
      EXPECT_NEAR(back.layers[i].rope_theta, m.hp.layers[i].rope_theta, 1e-3) << fam << " layer " << i;
    }
  }
  EXPECT_THROW(hparams_from_gguf([](std::string_view k) -> std::optional<lp::formats::GgufValue> {
                 if (k == "general.architecture") return lp::formats::GgufValue(std::string("falcon"));
                 return std::nullopt;
               }),
               lp::Error);
}

TEST(Mlx, StackedExpertsAndSplitGateUp) {
  auto q = mlx_by_name(model("qwen3moe"));
  const auto& sw = q["model.layers.0.mlp.switch_mlp.gate_proj.weight"];
  EXPECT_EQ(sw.shape, (Ne{4, 32, 64}));
  EXPECT_EQ(sw.transform, Transform::StackExperts);
  EXPECT_EQ(sw.sources.size(), 4u);
  EXPECT_TRUE(sw.quantizable);
  EXPECT_EQ(q["model.layers.0.mlp.switch_mlp.down_proj.weight"].shape, (Ne{4, 64, 32}));
  EXPECT_TRUE(q.count("model.layers.0.mlp.gate.weight"));
  EXPECT_FALSE(q["model.layers.0.input_layernorm.weight"].quantizable);
  EXPECT_TRUE(q["model.embed_tokens.weight"].quantizable);

  auto x = mlx_by_name(model("mixtral"));
  EXPECT_EQ(x["model.layers.0.block_sparse_moe.switch_mlp.down_proj.weight"].sources[1],
            "model.layers.0.block_sparse_moe.experts.1.w2.weight");
  EXPECT_EQ(x["model.layers.0.block_sparse_moe.switch_mlp.up_proj.weight"].sources[0],
            "model.layers.0.block_sparse_moe.experts.0.w3.weight");

  auto o = mlx_by_name(model("gptoss"));
  const auto& gate = o["model.layers.1.mlp.experts.gate_proj.weight"];
  EXPECT_EQ(gate.shape, (Ne{4, 64, 64}));
  EXPECT_TRUE(gate.source_mxfp4);
  EXPECT_EQ(gate.transform, Transform::SplitGateUpEven);
  EXPECT_EQ(o["model.layers.1.mlp.experts.up_proj.weight"].transform, Transform::SplitGateUpOdd);
  EXPECT_EQ(o["model.layers.1.mlp.experts.gate_proj.bias"].shape, (Ne{4, 64}));
  EXPECT_FALSE(o["model.layers.1.mlp.experts.gate_proj.bias"].quantizable);
  EXPECT_EQ(o["model.layers.1.mlp.experts.down_proj.weight"].shape, (Ne{4, 64, 64}));
  EXPECT_TRUE(o.count("model.layers.1.self_attn.sinks"));
  EXPECT_TRUE(o.count("model.layers.1.mlp.router.bias"));
  EXPECT_TRUE(o.count("lm_head.weight"));
}

TEST(Mlx, Gemma3MultimodalBecomesTextModel) {
  json mm = {{"model_type", "gemma3"}, {"architectures", {"Gemma3ForConditionalGeneration"}},
             {"eos_token_id", {1, 106}}, {"text_config", tiny_config("gemma3")}};
  auto m = model(mm);
  auto names = mlx_by_name(m);
  EXPECT_TRUE(names.count("model.embed_tokens.weight"));
  EXPECT_TRUE(names.count("model.layers.0.pre_feedforward_layernorm.weight"));
  EXPECT_FALSE(names.count("lm_head.weight"));
  EXPECT_EQ(names["model.norm.weight"].transform, Transform::None);  // mlx-lm applies 1 + w at runtime
  json cfg = mlx_config(m.hp, mm);
  EXPECT_EQ(cfg["model_type"], "gemma3_text");
  EXPECT_EQ(cfg["eos_token_id"], json({1, 106}));
  EXPECT_EQ(cfg["sliding_window_pattern"], 6);
  EXPECT_EQ(cfg["rope_local_base_freq"], 10000.0);
  EXPECT_EQ(cfg["rope_global_base_freq"], 1000000.0);
  EXPECT_EQ(cfg["head_dim"], 16);
  EXPECT_FALSE(cfg.contains("text_config"));
}

TEST(Mlx, ConfigDropsQuantizationAndNamesModelType) {
  auto m = model("gptoss");
  json cfg = mlx_config(m.hp, tiny_config("gptoss"));
  EXPECT_EQ(cfg["model_type"], "gpt_oss");
  EXPECT_FALSE(cfg.contains("quantization_config"));
  EXPECT_EQ(cfg["num_local_experts"], 4);
  EXPECT_EQ(cfg["layer_types"].size(), 2u);
  auto q = model("qwen3moe");
  EXPECT_EQ(mlx_config(q.hp, tiny_config("qwen3moe"))["mlp_only_layers"], json({1}));
}

}  // namespace

namespace {

HParams read_back(const Model& m) {
  auto kv = meta(m);
  return hparams_from_gguf([&](std::string_view key) -> std::optional<lp::formats::GgufValue> {
    auto it = kv.find(std::string(key));
    if (it == kv.end()) return std::nullopt;
    return it->second;
  });
}

}  // namespace

// Issue #18: Gemma 3's local/global period travels through the GGUF (written only when it is not llama.cpp's
// default 6) and every reader gets the same layer kinds back: a period of 6 assumed anywhere would fail here.
TEST(Gguf, Gemma3SlidingPatternRoundTrips) {
  for (int period : {1, 2, 3, 4, 6, 7}) {
    json cfg = tiny_config("gemma3");
    cfg["num_hidden_layers"] = 8;
    cfg["sliding_window_pattern"] = period;
    cfg.erase("layer_types");
    auto m = model(cfg);
    auto kv = meta(m);
    ASSERT_EQ(m.hp.layers.size(), 8u);
    bool any_sliding = false;
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(m.hp.layers[i].sliding, (i + 1) % period != 0) << "period " << period << " layer " << i;
      any_sliding = any_sliding || m.hp.layers[i].sliding;
    }
    if (!any_sliding) {
      EXPECT_FALSE(kv.count("gemma3.attention.sliding_window")) << "period " << period;
      continue;
    }
    if (period == 6) EXPECT_FALSE(kv.count("gemma3.attention.sliding_window_pattern"));
    else EXPECT_EQ(get<uint32_t>(kv, "gemma3.attention.sliding_window_pattern"), static_cast<uint32_t>(period));
    HParams back = read_back(m);
    EXPECT_EQ(back.sliding_window_pattern, period);
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(back.layers[i].sliding, m.hp.layers[i].sliding) << "period " << period << " layer " << i;
      EXPECT_EQ(back.layers[i].window, m.hp.layers[i].window) << "period " << period << " layer " << i;
      EXPECT_EQ(back.layers[i].rope_scaled, m.hp.layers[i].rope_scaled) << "period " << period << " layer " << i;
      EXPECT_NEAR(back.layers[i].rope_theta, m.hp.layers[i].rope_theta, 1e-3) << "period " << period << " layer " << i;
    }
  }
}

// What the engine's model builder takes from the family description through the GGUF keys.
TEST(Gguf, FamilyTraitsRoundTrip) {
  for (const char* fam : {"llama", "mixtral", "qwen2", "qwen3", "qwen3moe", "gptoss", "gemma3"}) {
    auto m = model(fam);
    HParams back = read_back(m);
    EXPECT_EQ(back.rope_interleaved, m.hp.rope_interleaved) << fam;
    EXPECT_EQ(back.router_gating, m.hp.router_gating) << fam;
    EXPECT_EQ(back.ffn_act, m.hp.ffn_act) << fam;
    EXPECT_EQ(back.embed_scale, m.hp.embed_scale) << fam;
    EXPECT_EQ(back.attn_o_bias, m.hp.attn_o_bias) << fam;
    EXPECT_TRUE(engine_runs(back.family)) << fam;
  }
  EXPECT_TRUE(model("llama").hp.rope_interleaved);
  EXPECT_FALSE(model("qwen3").hp.rope_interleaved);
  EXPECT_EQ(model("gptoss").hp.router_gating, RouterGating::TopKThenSoftmax);
  EXPECT_EQ(family_from_gguf_arch("llama", true), Family::Mixtral);
  EXPECT_EQ(family_from_gguf_arch("llama", false), Family::Llama);
  EXPECT_EQ(family_from_gguf_arch("gpt-oss", true), Family::GptOss);
  EXPECT_FALSE(family_from_gguf_arch("deepseek2", false).has_value());
}
