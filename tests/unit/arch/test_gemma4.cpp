// Gemma 4 (issue #20): config -> HParams (per-layer embeddings, KV sharing, global head dim, proportional rope,
// double-wide MLP, k = v full layers), the checkpoint layout, GGUF names/shapes/keys and the rope_freqs factors as
// llama.cpp's converter (Gemma4Model) writes them, the detect report, the engine's read-back of the keys, and the
// one-line errors for configs llama.cpp cannot represent. The end-to-end proof (llama.cpp loads and generates, our
// engine equals it) is tests/oracles/gemma4_generated_llamacpp.test.mjs.
#include <gtest/gtest.h>

#include <map>

#include "arch/arch.h"
#include "core/error.h"

namespace {

using namespace lp::arch;
using nlohmann::json;

// The E2B text config's field set at tiny sizes (the generated checkpoint's, make-test-model --family gemma4).
json gemma4_config() {
  return json::parse(R"({
    "architectures": ["Gemma4ForCausalLM"], "model_type": "gemma4_text", "hidden_size": 256, "intermediate_size": 512,
    "num_hidden_layers": 6, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 64, "global_head_dim": 128,
    "num_global_key_value_heads": null, "attention_k_eq_v": false, "vocab_size": 4096, "vocab_size_per_layer_input": 4096,
    "hidden_size_per_layer_input": 128, "num_kv_shared_layers": 3, "use_double_wide_mlp": true, "enable_moe_block": false,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-06,
    "rope_parameters": {"full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1000000.0},
                        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
    "sliding_window": 32, "layer_types": ["sliding_attention", "sliding_attention", "full_attention",
                                          "sliding_attention", "sliding_attention", "full_attention"],
    "hidden_activation": "gelu_pytorch_tanh", "final_logit_softcapping": 30.0, "tie_word_embeddings": true})");
}

std::string gemma4_error_of(const json& c) {
  try {
    parse_hparams(c, "c.json");
  } catch (const lp::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Gemma4, HParamsFromConfig) {
  const HParams hp = parse_hparams(gemma4_config(), "c.json");
  EXPECT_EQ(hp.family, Family::Gemma4);
  EXPECT_EQ(hp.gguf_arch, "gemma4");
  EXPECT_EQ(hp.n_embd_per_layer, 128);
  EXPECT_EQ(hp.n_kv_shared_layers, 3);
  EXPECT_EQ(hp.head_dim, 64);
  EXPECT_EQ(hp.head_dim_global, 128);
  EXPECT_DOUBLE_EQ(hp.rope_partial_global, 0.25);
  EXPECT_DOUBLE_EQ(hp.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(hp.rope_theta_local, 1e4);
  EXPECT_TRUE(hp.rope.type.empty());  // proportional rope is the rope_freqs tensor, not a scaling
  EXPECT_FLOAT_EQ(hp.attn_scale, 1.0f);
  EXPECT_FLOAT_EQ(hp.final_logit_softcapping, 30.0f);
  EXPECT_FALSE(hp.norm_plus_one);
  EXPECT_TRUE(hp.embed_scale);
  ASSERT_EQ(hp.layers.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    const bool full = i == 2 || i == 5;
    EXPECT_EQ(hp.layers[i].sliding, !full);
    EXPECT_EQ(hp.layer_head_dim(i), full ? 128 : 64);
    EXPECT_EQ(hp.layers[i].kv_shared, i >= 3);
    EXPECT_EQ(hp.layer_n_ff(i), i >= 3 ? 1024 : 512);
    EXPECT_DOUBLE_EQ(hp.layers[i].rope_theta, full ? 1e6 : 1e4);
  }
}

TEST(Gemma4, LayoutHasPleTablesAndNoKvOnSharedLayers) {
  const HParams hp = parse_hparams(gemma4_config(), "c.json");
  std::map<std::string, std::vector<int64_t>> shape;
  for (const auto& t : expected_tensors(hp)) shape[t.name] = t.shape;
  EXPECT_EQ(shape["model.embed_tokens_per_layer.weight"], (std::vector<int64_t>{4096, 768}));
  EXPECT_EQ(shape["model.per_layer_model_projection.weight"], (std::vector<int64_t>{768, 256}));
  EXPECT_EQ(shape["model.per_layer_projection_norm.weight"], (std::vector<int64_t>{128}));
  EXPECT_EQ(shape["model.layers.0.per_layer_input_gate.weight"], (std::vector<int64_t>{128, 256}));
  EXPECT_EQ(shape["model.layers.0.per_layer_projection.weight"], (std::vector<int64_t>{256, 128}));
  EXPECT_EQ(shape["model.layers.0.layer_scalar"], (std::vector<int64_t>{1}));
  EXPECT_EQ(shape["model.layers.2.self_attn.q_proj.weight"], (std::vector<int64_t>{512, 256}));
  EXPECT_EQ(shape["model.layers.2.self_attn.k_proj.weight"], (std::vector<int64_t>{128, 256}));
  EXPECT_EQ(shape["model.layers.4.mlp.down_proj.weight"], (std::vector<int64_t>{256, 1024}));
  EXPECT_FALSE(shape.count("model.layers.3.self_attn.k_proj.weight"));
  EXPECT_FALSE(shape.count("model.layers.5.self_attn.k_norm.weight"));
  EXPECT_FALSE(shape.count("lm_head.weight"));

  // Released archives (E2B) still carry the shared layers' unused k/v: accepted and converted, as llama.cpp does.
  auto with_kv = expected_tensors(hp);
  with_kv.push_back({"model.layers.3.self_attn.k_proj.weight", "BF16", {64, 256}});
  with_kv.push_back({"model.layers.3.self_attn.v_proj.weight", "BF16", {64, 256}});
  with_kv.push_back({"model.layers.3.self_attn.k_norm.weight", "BF16", {64}});
  const auto descs = classify(hp, with_kv);
  EXPECT_EQ(descs.size(), with_kv.size());
  bool k3 = false;
  for (const auto& r : gguf_tensors(hp, descs)) k3 |= r.gguf_name == "blk.3.attn_k.weight";
  EXPECT_TRUE(k3);

  // A missing per-layer embedding tensor is named.
  auto missing = expected_tensors(hp);
  std::erase_if(missing, [](const TensorInfo& t) { return t.name == "model.layers.4.per_layer_projection.weight"; });
  try {
    classify(hp, missing);
    FAIL() << "no error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.4.per_layer_projection.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("per_layer_proj"), std::string::npos) << e.what();
  }
}

TEST(Gemma4, GgufTensorsKeysAndRopeFreqs) {
  const HParams hp = parse_hparams(gemma4_config(), "c.json");
  const auto recipes = gguf_tensors(hp, classify(hp, expected_tensors(hp)));
  std::map<std::string, GgufTensorRecipe> by;
  for (const auto& r : recipes) by[r.gguf_name] = r;
  ASSERT_FALSE(recipes.empty());
  EXPECT_EQ(recipes.front().gguf_name, "rope_freqs.weight");  // generate_extra_tensors comes first
  EXPECT_EQ(by["rope_freqs.weight"].ne, (std::vector<int64_t>{64}));
  EXPECT_EQ(by["per_layer_token_embd.weight"].ne, (std::vector<int64_t>{768, 4096}));
  EXPECT_EQ(by["per_layer_model_proj.weight"].ne, (std::vector<int64_t>{256, 768}));
  EXPECT_EQ(by["blk.1.inp_gate.weight"].ne, (std::vector<int64_t>{256, 128}));
  EXPECT_EQ(by["blk.1.proj.weight"].ne, (std::vector<int64_t>{128, 256}));
  EXPECT_TRUE(by["blk.1.post_norm.weight"].force_f32);
  EXPECT_TRUE(by["blk.1.layer_output_scale.weight"].force_f32);
  EXPECT_EQ(by["blk.1.attn_norm.weight"].transform, Transform::None);  // plain w norms: no + 1
  EXPECT_TRUE(by["token_embd.weight"].trim_to_tokenizer_vocab);
  EXPECT_FALSE(by["per_layer_token_embd.weight"].trim_to_tokenizer_vocab);
  EXPECT_FALSE(by.count("output.weight"));

  const auto f = rope_freq_factors(hp);
  ASSERT_EQ(f.size(), 64u);
  for (size_t i = 0; i < f.size(); ++i) EXPECT_EQ(f[i], i < 16 ? 1.0f : 1e30f) << i;

  std::map<std::string, lp::formats::GgufValue> kv;
  for (auto& e : gguf_metadata(hp, "g")) kv[e.key] = e.value;
  auto u = [&](const char* k) { return kv.at(std::string("gemma4.") + k).as_u32(k); };
  EXPECT_EQ(u("attention.key_length"), 128u);
  EXPECT_EQ(u("attention.key_length_swa"), 64u);
  EXPECT_EQ(u("rope.dimension_count"), 128u);
  EXPECT_EQ(u("rope.dimension_count_swa"), 64u);
  EXPECT_EQ(u("attention.shared_kv_layers"), 3u);
  EXPECT_EQ(u("embedding_length_per_layer_input"), 128u);
  EXPECT_EQ(u("attention.sliding_window"), 32u);
  EXPECT_EQ(kv.at("gemma4.attention.sliding_window_pattern").as_bool_array(),
            (std::vector<bool>{true, true, false, true, true, false}));
  EXPECT_EQ(kv.at("gemma4.feed_forward_length").as_i64_array(), (std::vector<int64_t>{512, 512, 512, 1024, 1024, 1024}));
  EXPECT_FLOAT_EQ(kv.at("gemma4.rope.freq_base_swa").as_f32(), 10000.0f);
  EXPECT_FLOAT_EQ(kv.at("gemma4.final_logit_softcapping").as_f32(), 30.0f);

  // The engine's read-back (llama.cpp's load_arch_hparams) gives the same per-layer picture.
  const HParams back = hparams_from_gguf([&](std::string_view key) -> std::optional<lp::formats::GgufValue> {
    auto it = kv.find(std::string(key));
    if (it == kv.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_EQ(back.family, Family::Gemma4);
  EXPECT_EQ(back.head_dim, 64);
  EXPECT_EQ(back.head_dim_global, 128);
  EXPECT_EQ(back.n_embd_per_layer, 128);
  EXPECT_EQ(back.n_kv_shared_layers, 3);
  EXPECT_FLOAT_EQ(back.attn_scale, 1.0f);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(back.layers[i].sliding, hp.layers[i].sliding) << i;
    EXPECT_EQ(back.layer_head_dim(i), hp.layer_head_dim(i)) << i;
    EXPECT_EQ(back.layer_n_ff(i), hp.layer_n_ff(i)) << i;
    EXPECT_EQ(back.layers[i].kv_shared, hp.layers[i].kv_shared) << i;
    EXPECT_DOUBLE_EQ(back.layers[i].rope_theta, hp.layers[i].rope_theta) << i;
  }
}

TEST(Gemma4, KEqVFullLayersAndTheMultimodalWrapper) {
  json c = gemma4_config();
  c["attention_k_eq_v"] = true;
  c["num_global_key_value_heads"] = 2;
  c["num_kv_shared_layers"] = 0;
  c["use_double_wide_mlp"] = false;
  c["hidden_size_per_layer_input"] = 0;
  const HParams hp = parse_hparams(c, "c.json");
  std::map<std::string, std::vector<int64_t>> shape;
  for (const auto& t : expected_tensors(hp)) shape[t.name] = t.shape;
  EXPECT_FALSE(shape.count("model.layers.2.self_attn.v_proj.weight"));
  EXPECT_EQ(shape["model.layers.2.self_attn.k_proj.weight"], (std::vector<int64_t>{256, 256}));  // 2 heads of 128
  EXPECT_EQ(shape["model.layers.1.self_attn.v_proj.weight"], (std::vector<int64_t>{64, 256}));
  EXPECT_FALSE(shape.count("model.embed_tokens_per_layer.weight"));
  std::map<std::string, lp::formats::GgufValue> kv;
  for (auto& e : gguf_metadata(hp, "g")) kv[e.key] = e.value;
  EXPECT_EQ(kv.at("gemma4.attention.head_count_kv").as_i64_array(), (std::vector<int64_t>{1, 1, 2, 1, 1, 2}));
  EXPECT_EQ(kv.at("gemma4.feed_forward_length").as_u32(), 512u);
  EXPECT_EQ(kv.at("gemma4.embedding_length_per_layer_input").as_u32(), 0u);

  json wrapped = {{"model_type", "gemma4"}, {"architectures", {"Gemma4ForConditionalGeneration"}},
                  {"text_config", gemma4_config()}};
  const HParams w = parse_hparams(wrapped, "c.json");
  EXPECT_EQ(w.family, Family::Gemma4);
  EXPECT_EQ(w.n_embd_per_layer, 128);
  std::vector<TensorInfo> t;
  for (auto x : expected_tensors(parse_hparams(gemma4_config(), "c.json"))) {
    x.name = "model.language_model." + x.name.substr(std::string("model.").size());
    t.push_back(x);
  }
  t.push_back({"model.audio_tower.layers.0.weight", "BF16", {4, 4}});
  t.push_back({"model.vision_tower.encoder.weight", "BF16", {4, 4}});
  t.push_back({"model.embed_vision.embedding_projection.weight", "BF16", {4, 4}});
  EXPECT_EQ(classify(w, t).size(), t.size() - 3);
}

TEST(Gemma4, DetectReportsPleKvSharingAndPattern) {
  const ModelReport r = detect(gemma4_config(), "c.json");
  const json j = to_json(r);
  EXPECT_EQ(j["architecture"], "gemma4");
  EXPECT_EQ(j["per_layer_embeddings"]["dim_per_layer"], 128);
  EXPECT_EQ(j["per_layer_embeddings"]["table_params"], 4096 * 768);
  EXPECT_EQ(j["kv_sharing"]["first_shared_layer"], 3);
  EXPECT_EQ(j["kv_sharing"]["source_layer_sliding"], 1);
  EXPECT_EQ(j["kv_sharing"]["source_layer_full"], 2);
  EXPECT_EQ(j["global_head_dim"], 128);
  EXPECT_EQ(j["layer_types"][2], "full_attention");
  EXPECT_TRUE(r.strategy.contains("per_layer_embeddings"));
  EXPECT_TRUE(r.strategy.contains("kv_sharing"));
  // The PLE table counts as embedding parameters (Gemma 4's "effective" size leaves it out).
  EXPECT_EQ(r.params.embedding, 4096 * 256 + 4096 * 768);
  const std::string text = to_text(r);
  for (const char* s : {"per-layer embeddings", "128 per layer", "kv sharing", "layers 3..5 reuse the KV of layer 1",
                        "global head dim", "SSFSSF"})
    EXPECT_NE(text.find(s), std::string::npos) << s << " missing from:\n" << text;
}

TEST(Gemma4, ConfigsLlamaCppCannotRepresentAreRefused) {
  json c = gemma4_config();
  c["num_kv_shared_layers"] = 2;  // layer 3 (sliding) would be the full-attention KV source
  EXPECT_NE(gemma4_error_of(c).find("num_kv_shared_layers = 2"), std::string::npos) << gemma4_error_of(c);
  c = gemma4_config();
  c["vocab_size_per_layer_input"] = 1000;
  EXPECT_NE(gemma4_error_of(c).find("vocab_size_per_layer_input"), std::string::npos);
  c = gemma4_config();
  c["rope_parameters"]["full_attention"]["rope_type"] = "default";
  EXPECT_NE(gemma4_error_of(c).find("proportional"), std::string::npos);
  c = gemma4_config();
  c["enable_moe_block"] = true;
  EXPECT_NE(gemma4_error_of(c).find("enable_moe_block"), std::string::npos);
  c = gemma4_config();
  c["use_bidirectional_attention"] = "all";
  EXPECT_NE(gemma4_error_of(c).find("use_bidirectional_attention"), std::string::npos);
}

}  // namespace
