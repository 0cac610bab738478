// Generates every family's tiny checkpoint and re-opens it with formats::Checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "core/error.h"
#include "formats/checkpoint.h"
#include "testgen/fill.h"
#include "testgen/generate.h"
#include "testgen/mxfp4_encode.h"
#include "testgen_util.h"

namespace lp::testgen {
namespace {

using formats::Checkpoint;
using nlohmann::json;

GenerateOptions tiny(const std::string& family, uint64_t seed = 1) {
  GenerateOptions o;
  o.family = family;
  o.seed = seed;
  return o;
}

bool is_qwen35(const std::string& family) { return family == "qwen35" || family == "qwen35moe"; }

// Names the family must have (layer 0 and globals), as transformers / the releases name them.
std::vector<std::string> required_names(const std::string& family) {
  if (is_qwen35(family)) {  // layer 0: Gated DeltaNet; layer 3: gated full attention; the MTP block as released
    const std::string l = "model.layers.0.linear_attn.", f = "model.layers.3.";
    std::vector<std::string> n = {
        "model.embed_tokens.weight", "model.norm.weight", "model.layers.0.input_layernorm.weight",
        "model.layers.0.post_attention_layernorm.weight", l + "in_proj_qkv.weight", l + "in_proj_z.weight",
        l + "in_proj_b.weight", l + "in_proj_a.weight", l + "conv1d.weight", l + "dt_bias", l + "A_log",
        l + "norm.weight", l + "out_proj.weight", f + "self_attn.q_proj.weight", f + "self_attn.q_norm.weight",
        f + "self_attn.k_norm.weight", "mtp.fc.weight", "mtp.pre_fc_norm_embedding.weight",
        "mtp.pre_fc_norm_hidden.weight", "mtp.norm.weight", "mtp.layers.0.self_attn.q_proj.weight"};
    if (family == "qwen35") {
      n.push_back("model.layers.0.mlp.down_proj.weight");
    } else {
      for (const char* m : {"mlp.gate.weight", "mlp.experts.gate_up_proj", "mlp.experts.down_proj",
                            "mlp.shared_expert.gate_proj.weight", "mlp.shared_expert.up_proj.weight",
                            "mlp.shared_expert.down_proj.weight", "mlp.shared_expert_gate.weight"})
        n.push_back(std::string("model.layers.0.") + m);
      n.push_back("lm_head.weight");
    }
    return n;
  }
  const std::string l = "model.layers.0.";
  std::vector<std::string> n = {"model.embed_tokens.weight",        "model.norm.weight",
                                l + "input_layernorm.weight",        l + "post_attention_layernorm.weight",
                                l + "self_attn.q_proj.weight",       l + "self_attn.k_proj.weight",
                                l + "self_attn.v_proj.weight",       l + "self_attn.o_proj.weight"};
  auto add = [&](std::initializer_list<std::string> more) { n.insert(n.end(), more); };
  const std::vector<std::string> dense_mlp = {l + "mlp.gate_proj.weight", l + "mlp.up_proj.weight",
                                              l + "mlp.down_proj.weight"};
  if (family == "llama" || family == "mistral") {
    add({"lm_head.weight"});
    n.insert(n.end(), dense_mlp.begin(), dense_mlp.end());
  } else if (family == "qwen2") {
    add({l + "self_attn.q_proj.bias", l + "self_attn.k_proj.bias", l + "self_attn.v_proj.bias"});
    n.insert(n.end(), dense_mlp.begin(), dense_mlp.end());
  } else if (family == "qwen3") {
    add({l + "self_attn.q_norm.weight", l + "self_attn.k_norm.weight"});
    n.insert(n.end(), dense_mlp.begin(), dense_mlp.end());
  } else if (family == "qwen3moe") {
    add({l + "self_attn.q_norm.weight", l + "self_attn.k_norm.weight", l + "mlp.gate.weight",
         l + "mlp.experts.0.gate_proj.weight", l + "mlp.experts.0.up_proj.weight", l + "mlp.experts.0.down_proj.weight",
         l + "mlp.experts.7.down_proj.weight"});
  } else if (family == "mixtral") {
    add({"lm_head.weight", l + "block_sparse_moe.gate.weight", l + "block_sparse_moe.experts.0.w1.weight",
         l + "block_sparse_moe.experts.0.w2.weight", l + "block_sparse_moe.experts.3.w3.weight"});
  } else if (family == "gpt-oss") {
    add({"lm_head.weight", l + "self_attn.q_proj.bias", l + "self_attn.k_proj.bias", l + "self_attn.v_proj.bias",
         l + "self_attn.o_proj.bias", l + "self_attn.sinks", l + "mlp.router.weight", l + "mlp.router.bias",
         l + "mlp.experts.gate_up_proj_blocks", l + "mlp.experts.gate_up_proj_scales", l + "mlp.experts.gate_up_proj_bias",
         l + "mlp.experts.down_proj_blocks", l + "mlp.experts.down_proj_scales", l + "mlp.experts.down_proj_bias"});
  } else if (family == "gemma4") {  // PLE tables, layer scalars; layer 5 (KV-shared, full, double-wide MLP)
    add({"model.embed_tokens_per_layer.weight", "model.per_layer_model_projection.weight",
         "model.per_layer_projection_norm.weight", l + "per_layer_input_gate.weight", l + "per_layer_projection.weight",
         l + "post_per_layer_input_norm.weight", l + "layer_scalar", l + "pre_feedforward_layernorm.weight",
         "model.layers.5.self_attn.q_proj.weight", "model.layers.5.self_attn.q_norm.weight"});
    n.insert(n.end(), dense_mlp.begin(), dense_mlp.end());
  } else if (family == "gemma3") {
    add({l + "pre_feedforward_layernorm.weight", l + "post_feedforward_layernorm.weight", l + "self_attn.q_norm.weight",
         l + "self_attn.k_norm.weight"});
    n.insert(n.end(), dense_mlp.begin(), dense_mlp.end());
  }
  return n;
}

std::vector<float> decode_mxfp4(const Checkpoint& ck, const std::string& base) {
  const auto& blocks = ck.tensor(base + "_blocks");
  const auto& scales = ck.tensor(base + "_scales");
  EXPECT_EQ(blocks.nbytes, scales.nbytes * 16);
  std::vector<float> out(scales.nbytes * kMxfp4Block);
  for (uint64_t b = 0; b < scales.nbytes; ++b)
    decode_mxfp4_block(blocks.data + 16 * b, scales.data[b], out.data() + kMxfp4Block * b);
  return out;
}

class FamilyTest : public ::testing::TestWithParam<std::string> {};

// The tiny checkpoint of a family with seed 1, generated once per test run (generation fsyncs: slow disks).
const std::filesystem::path& cached_tiny(const std::string& family) {
  static std::map<std::string, std::unique_ptr<test::TempDir>> cache;
  auto& dir = cache[family];
  if (!dir) {
    dir = std::make_unique<test::TempDir>();
    generate_checkpoint(tiny(family), dir->path());
  }
  return dir->path();
}

TEST_P(FamilyTest, TensorsMatchPlanNamesShapesAndConfig) {
  test::TempDir dir;
  const GenerateOptions o = tiny(GetParam(), 5);
  const GenerateReport report = generate_checkpoint(o, dir.path());
  const Checkpoint ck = Checkpoint::open(dir.path().string());
  const auto plan = plan_tensors(o);
  ASSERT_EQ(ck.tensor_count(), plan.size());
  EXPECT_EQ(report.n_tensors, plan.size());
  uint64_t plan_bytes = 0;
  for (const auto& t : plan) {
    const auto* st = ck.find(t.name);
    ASSERT_NE(st, nullptr) << t.name;
    EXPECT_EQ(st->shape, t.shape) << t.name;
    EXPECT_STREQ(formats::st_dtype_name(st->dtype), dtype_name(t.dtype)) << t.name;
    plan_bytes += t.nbytes();
  }
  EXPECT_EQ(ck.total_bytes(), plan_bytes);
  for (const auto& name : required_names(canonical_family(GetParam()))) EXPECT_NE(ck.find(name), nullptr) << name;

  const ModelShape s = resolve_shape(o);
  const json& c = ck.config();
  EXPECT_EQ(c.at("hidden_size"), s.hidden);
  EXPECT_EQ(c.at("num_hidden_layers"), s.layers);
  EXPECT_EQ(c.at("num_attention_heads"), s.heads);
  EXPECT_EQ(c.at("num_key_value_heads"), s.kv_heads);
  EXPECT_EQ(c.at("vocab_size"), s.vocab);
  EXPECT_EQ(c.at("tie_word_embeddings"), s.tie_embeddings);
  EXPECT_EQ(c.at("torch_dtype"), "bfloat16");
  EXPECT_EQ(c.at("architectures").size(), 1u);
  EXPECT_EQ(ck.find("lm_head.weight") == nullptr, s.tie_embeddings);
  const int64_t head_dim = c.contains("head_dim") ? c["head_dim"].get<int64_t>() : s.hidden / s.heads;
  // qwen35: layer 3 is the first full-attention layer, and q_proj yields [query, gate] per head.
  const bool q35 = is_qwen35(canonical_family(GetParam()));
  const std::string fl = q35 ? "model.layers.3." : "model.layers.0.";
  EXPECT_EQ(ck.tensor(fl + "self_attn.q_proj.weight").shape,
            (std::vector<int64_t>{(q35 ? 2 : 1) * s.heads * head_dim, s.hidden}));
  if (q35) {
    EXPECT_EQ(c.at("layer_types")[0], "linear_attention");
    EXPECT_EQ(c.at("layer_types")[3], "full_attention");
    const int64_t nk = c.at("linear_num_key_heads"), nv = c.at("linear_num_value_heads"), hd = c.at("linear_key_head_dim");
    EXPECT_EQ(nv, 2 * nk);  // the V-head reordering changes the layout
    EXPECT_EQ(ck.tensor("model.layers.0.linear_attn.in_proj_qkv.weight").shape,
              (std::vector<int64_t>{(2 * nk + nv) * hd, s.hidden}));
    EXPECT_EQ(ck.tensor("model.layers.0.linear_attn.conv1d.weight").shape,
              (std::vector<int64_t>{(2 * nk + nv) * hd, 1, c.at("linear_conv_kernel_dim").get<int64_t>()}));
  }
  EXPECT_EQ(ck.tensor(fl + "self_attn.k_proj.weight").shape,
            (std::vector<int64_t>{s.kv_heads * head_dim, s.hidden}));
  EXPECT_EQ(ck.tensor("model.embed_tokens.weight").shape, (std::vector<int64_t>{s.vocab, s.hidden}));
  if (canonical_family(GetParam()) == "gemma4") {
    // Full-attention layers use global_head_dim; KV-shared layers (the second half) have no k/v projections and a
    // double-wide MLP; the per-layer table packs every layer's slice.
    const int64_t gh = c.at("global_head_dim"), P = c.at("hidden_size_per_layer_input"), F = c.at("intermediate_size");
    EXPECT_EQ(gh, 2 * head_dim);
    EXPECT_EQ(c.at("num_kv_shared_layers"), s.layers / 2);
    EXPECT_EQ(c.at("layer_types")[2], "full_attention");
    EXPECT_EQ(ck.tensor("model.layers.2.self_attn.k_proj.weight").shape, (std::vector<int64_t>{s.kv_heads * gh, s.hidden}));
    EXPECT_EQ(ck.tensor("model.layers.5.self_attn.o_proj.weight").shape, (std::vector<int64_t>{s.hidden, s.heads * gh}));
    EXPECT_EQ(ck.find("model.layers.5.self_attn.k_proj.weight"), nullptr);
    EXPECT_EQ(ck.find("model.layers.3.self_attn.v_proj.weight"), nullptr);
    EXPECT_EQ(ck.tensor("model.layers.3.mlp.down_proj.weight").shape, (std::vector<int64_t>{s.hidden, 2 * F}));
    EXPECT_EQ(ck.tensor("model.layers.2.mlp.down_proj.weight").shape, (std::vector<int64_t>{s.hidden, F}));
    EXPECT_EQ(ck.tensor("model.embed_tokens_per_layer.weight").shape, (std::vector<int64_t>{s.vocab, s.layers * P}));
  }
  ASSERT_TRUE(ck.generation_config());
  EXPECT_TRUE(ck.generation_config()->contains("eos_token_id"));
}

TEST_P(FamilyTest, ValuesAreFiniteWithTheIntendedDistribution) {
  const GenerateOptions o = tiny(GetParam());
  const Checkpoint ck = Checkpoint::open(cached_tiny(GetParam()).string());
  for (const auto& t : plan_tensors(o)) {
    SCOPED_TRACE(t.name);
    if (t.init == InitKind::Mxfp4Scales) continue;
    std::vector<float> v;
    if (t.init == InitKind::Mxfp4Blocks) {
      v = decode_mxfp4(ck, t.name.substr(0, t.name.size() - 7));
    } else {
      v = ck.read_f32(t.name, /*check_finite=*/true);
    }
    const auto s = test::stats_of(v);
    ASSERT_TRUE(s.finite);
    if (t.init == InitKind::Constant && t.std > 0) {  // gemma4 layer_scalar: a seeded value around t.value
      EXPECT_NEAR(s.mean, t.value, 5.0 * t.std);
      continue;
    }
    if (t.init == InitKind::Constant) {
      EXPECT_EQ(s.std, 0.0);
      EXPECT_EQ(s.mean, t.value);
      // gemma3 and qwen35 norms scale by (1 + w): stored 0; qwen35's gated DeltaNet norm scales by w.
      const std::string fam = canonical_family(GetParam());
      const bool zero_centred = fam == "gemma3" || (is_qwen35(fam) && t.name.find("linear_attn.norm") == std::string::npos);
      EXPECT_EQ(t.value, zero_centred ? 0.0f : 1.0f);
      continue;
    }
    EXPECT_LT(s.max_abs, 7.0 * t.std);
    if (v.size() < 100) continue;  // sinks, router bias: too few values for moments
    // Relative tolerance from the sample size (bf16 rounding and MXFP4 quantization noise are small on top).
    const double tol = v.size() >= 10000 ? 0.05 : 0.25;
    EXPECT_NEAR(s.std, t.std, tol * t.std) << v.size() << " values";
    EXPECT_NEAR(s.mean, 0.0, 5.0 * t.std / std::sqrt(static_cast<double>(v.size())) + 1e-6);
  }
}

TEST_P(FamilyTest, SameSeedSameBytesOtherSeedOtherWeights) {
  test::TempDir b, c;
  const std::filesystem::path& a = cached_tiny(GetParam());  // seed 1
  generate_checkpoint(tiny(GetParam(), 1), b.path());
  generate_checkpoint(tiny(GetParam(), 2), c.path());
  for (const char* f : {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
                        "generation_config.json"}) {
    EXPECT_EQ(test::read_file(a / f), test::read_file(b / f)) << f;
  }
  EXPECT_EQ(test::read_file(a / "config.json"), test::read_file(c / "config.json"));
  const Checkpoint ca = Checkpoint::open(a.string()), cc = Checkpoint::open(c.path().string());
  for (const auto& name : ca.tensor_names()) {
    const auto& ta = ca.tensor(name);
    const auto& tc = cc.tensor(name);
    ASSERT_EQ(ta.nbytes, tc.nbytes);
    const bool same = std::memcmp(ta.data, tc.data, ta.nbytes) == 0;
    const bool constant = name.find("norm") != std::string::npos;  // norms do not depend on the seed
    EXPECT_EQ(same, constant) << name;
  }
}

TEST_P(FamilyTest, TokenizerCoversTheVocabularyAndTheTemplateTokens) {
  const Checkpoint ck = Checkpoint::open(cached_tiny(GetParam()).string());
  const auto tok = ck.tokenizer_json();
  const auto tcfg = ck.tokenizer_config();
  ASSERT_TRUE(tok && tcfg);
  const int64_t vocab_size = ck.config().at("vocab_size");

  std::map<int64_t, std::string> by_id;
  for (const auto& [token, id] : tok->at("model").at("vocab").items())
    EXPECT_TRUE(by_id.emplace(id.get<int64_t>(), token).second) << "duplicate id " << id;
  std::map<std::string, int64_t> special_ids;
  for (const auto& a : tok->at("added_tokens")) {
    EXPECT_TRUE(a.at("special").get<bool>());
    EXPECT_TRUE(by_id.emplace(a.at("id").get<int64_t>(), a.at("content").get<std::string>()).second);
    special_ids[a.at("content")] = a.at("id");
  }
  ASSERT_EQ(static_cast<int64_t>(by_id.size()), vocab_size);
  EXPECT_EQ(by_id.begin()->first, 0);
  EXPECT_EQ(by_id.rbegin()->first, vocab_size - 1);

  // Every merge joins two vocabulary tokens into a vocabulary token.
  const auto& vocab = tok->at("model").at("vocab");
  for (const auto& m : tok->at("model").at("merges")) {
    const std::string merge = m.get<std::string>();
    const size_t sp = merge.find(' ');
    ASSERT_NE(sp, std::string::npos);
    const std::string left = merge.substr(0, sp), right = merge.substr(sp + 1);
    ASSERT_TRUE(vocab.contains(left) && vocab.contains(right) && vocab.contains(left + right)) << merge;
  }

  // The template's special tokens exist, and config ids point at the family's tokens.
  const std::string family = canonical_family(GetParam());
  const std::map<std::string, std::vector<std::string>> template_tokens = {
      {"llama", {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}},
      {"mistral", {"<s>", "</s>", "[INST]", "[/INST]"}},
      {"mixtral", {"<s>", "</s>", "[INST]", "[/INST]"}},
      {"qwen2", {"<|im_start|>", "<|im_end|>"}},
      {"qwen3", {"<|im_start|>", "<|im_end|>"}},
      {"qwen3moe", {"<|im_start|>", "<|im_end|>"}},
      {"qwen35", {"<|im_start|>", "<|im_end|>"}},
      {"qwen35moe", {"<|im_start|>", "<|im_end|>"}},
      {"gpt-oss", {"<|start|>", "<|message|>", "<|channel|>", "<|end|>"}},
      {"gemma3", {"<bos>", "<start_of_turn>", "<end_of_turn>"}},
      {"gemma4", {"<bos>", "<|turn>", "<turn|>"}}};
  const auto templ = ck.chat_template();
  ASSERT_TRUE(templ);
  EXPECT_EQ(*templ, tcfg->at("chat_template").get<std::string>());
  for (const auto& t : template_tokens.at(family)) {
    EXPECT_TRUE(special_ids.count(t)) << t;
    const bool via_variable = t == "<s>" || t == "</s>" || t == "<bos>" || t == "<|begin_of_text|>";
    if (!via_variable) {
      EXPECT_NE(templ->find(t), std::string::npos) << t;
    }
  }
  for (const char* key : {"bos_token", "eos_token", "pad_token", "unk_token"}) {
    if (tcfg->at(key).is_string()) {
      EXPECT_TRUE(special_ids.count(tcfg->at(key).get<std::string>())) << key;
    }
  }
  const std::map<std::string, std::string> eos_token = {
      {"llama", "<|eot_id|>"}, {"mistral", "</s>"},         {"mixtral", "</s>"},    {"qwen2", "<|im_end|>"},
      {"qwen3", "<|im_end|>"}, {"qwen3moe", "<|im_end|>"}, {"gpt-oss", "<|return|>"}, {"gemma3", "<end_of_turn>"},
      {"qwen35", "<|im_end|>"}, {"qwen35moe", "<|im_end|>"}, {"gemma4", "<turn|>"}};
  json eos = ck.config().at("eos_token_id");
  if (!eos.is_array()) eos = json::array({eos});
  bool found = false;
  for (const auto& id : eos) found |= by_id.at(id.get<int64_t>()) == eos_token.at(family);
  EXPECT_TRUE(found) << eos.dump();
  if (ck.config().at("bos_token_id").is_number()) {
    const std::string bos = by_id.at(ck.config()["bos_token_id"].get<int64_t>());
    if (tcfg->at("bos_token").is_string()) {
      EXPECT_EQ(bos, tcfg->at("bos_token").get<std::string>());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, FamilyTest, ::testing::ValuesIn(supported_families()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(Testgen, ListsTheFamiliesAndResolvesAliases) {
  EXPECT_EQ(supported_families(), (std::vector<std::string>{"llama", "mistral", "qwen2", "qwen3", "qwen3moe", "mixtral",
                                                            "gpt-oss", "gemma3", "qwen35", "qwen35moe", "gemma4"}));
  EXPECT_EQ(canonical_family("qwen3_5_moe_text"), "qwen35moe");
  EXPECT_EQ(canonical_family("qwen3_5"), "qwen35");
  EXPECT_EQ(canonical_family("gpt_oss"), "gpt-oss");
  EXPECT_EQ(canonical_family("Qwen3_MoE"), "qwen3moe");
  EXPECT_EQ(canonical_family("gemma3_text"), "gemma3");
}

TEST(Testgen, RejectsBadOptionsWithAMessage) {
  auto expect_error = [](GenerateOptions o, const char* what) {
    try {
      plan_tensors(o);
      ADD_FAILURE() << "no error for " << what;
    } catch (const lp::Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error(tiny("falcon"), "unknown family");
  GenerateOptions o = tiny("qwen3");
  o.preset = "huge";
  expect_error(o, "unknown preset");
  o = tiny("qwen3");
  o.overrides.kv_heads = 3;
  expect_error(o, "multiple of kv_heads");
  o = tiny("qwen2");
  o.overrides.head_dim = 32;
  expect_error(o, "qwen2 has no head_dim");
  o = tiny("gpt-oss");
  o.overrides.vocab = 100;
  expect_error(o, "too small");
  o = tiny("gpt-oss");
  o.overrides.hidden = 250;
  o.overrides.heads = 5;
  o.overrides.kv_heads = 1;
  expect_error(o, "multiples of 32");
  o = tiny("llama");
  o.overrides.experts = 4;
  expect_error(o, "dense");
}

TEST(Testgen, GptOssOverridesGive2880WideMxfp4Experts) {
  GenerateOptions o = tiny("gpt-oss", 3);
  o.overrides.hidden = 2880;
  o.overrides.ffn = 2880;
  o.overrides.heads = 8;
  o.overrides.kv_heads = 2;
  o.overrides.head_dim = 64;
  o.overrides.experts = 2;
  o.overrides.experts_per_tok = 1;
  o.overrides.layers = 1;
  test::TempDir dir;
  generate_checkpoint(o, dir.path());
  const Checkpoint ck = Checkpoint::open(dir.path().string());
  const std::string e = "model.layers.0.mlp.experts.";
  EXPECT_EQ(ck.tensor(e + "gate_up_proj_blocks").shape, (std::vector<int64_t>{2, 5760, 90, 16}));
  EXPECT_EQ(ck.tensor(e + "gate_up_proj_scales").shape, (std::vector<int64_t>{2, 5760, 90}));
  EXPECT_EQ(ck.tensor(e + "gate_up_proj_bias").shape, (std::vector<int64_t>{2, 5760}));
  EXPECT_EQ(ck.tensor(e + "down_proj_blocks").shape, (std::vector<int64_t>{2, 2880, 90, 16}));
  EXPECT_EQ(ck.tensor(e + "down_proj_bias").shape, (std::vector<int64_t>{2, 2880}));
  EXPECT_EQ(ck.tensor("model.layers.0.self_attn.q_proj.weight").shape, (std::vector<int64_t>{512, 2880}));
  EXPECT_EQ(ck.tensor("model.layers.0.self_attn.sinks").shape, (std::vector<int64_t>{8}));
  for (const char* m : {"gate_up_proj", "down_proj"}) {
    const auto s = test::stats_of(decode_mxfp4(ck, e + m));
    EXPECT_NEAR(s.std, 0.02, 0.001) << m;
    EXPECT_NEAR(s.mean, 0.0, 0.0002) << m;
  }
  // Scales cluster where 0.02-std blocks put them: amax ~ 0.04..0.1 -> 2^(floor(log2 amax) - 2) ~ 2^-7..2^-6.
  const auto& scales = ck.tensor(e + "down_proj_scales");
  std::map<int, uint64_t> histogram;
  for (uint64_t i = 0; i < scales.nbytes; ++i) histogram[scales.data[i]]++;
  EXPECT_GT(histogram[127 - 7] + histogram[127 - 6], scales.nbytes * 9 / 10);
}

TEST(Testgen, Qwen3_06bPresetHasTheRealShapesAndParameterCount) {
  GenerateOptions o = tiny("qwen3");
  o.preset = "qwen3-0.6b";
  const ModelShape s = resolve_shape(o);
  EXPECT_EQ(s.hidden, 1024);
  EXPECT_EQ(s.layers, 28);
  EXPECT_EQ(s.heads, 16);
  EXPECT_EQ(s.kv_heads, 8);
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(s.ffn, 3072);
  EXPECT_EQ(s.vocab, 151936);
  uint64_t params = 0, embedding = 0;
  for (const auto& t : plan_tensors(o)) {
    params += t.numel();
    if (t.name == "model.embed_tokens.weight") embedding = t.numel();
  }
  // Qwen3-0.6B model card: 0.6B parameters, 0.44B non-embedding.
  EXPECT_NEAR(static_cast<double>(params) / 1e9, 0.596, 0.005);
  EXPECT_NEAR(static_cast<double>(params - embedding) / 1e9, 0.44, 0.005);
  const json tok = make_tokenizer_json(o);
  EXPECT_EQ(static_cast<int64_t>(tok["model"]["vocab"].size() + tok["added_tokens"].size()), 151936);
  EXPECT_TRUE(tok["model"]["vocab"].contains("<|filler_0|>"));
}

TEST(Testgen, LargePresetIsAtLeastTwoGigabytes) {
  for (const auto& family : {"qwen3", "llama", "qwen3moe", "gpt-oss"}) {
    GenerateOptions o = tiny(family);
    o.preset = "large";
    uint64_t bytes = 0;
    for (const auto& t : plan_tensors(o)) bytes += t.nbytes();
    EXPECT_GE(bytes, 2'000'000'000ull) << family;
  }
}

TEST(Testgen, ShardsWithAnIndexAndReplacesAnOldLayout) {
  test::TempDir dir;
  GenerateOptions o = tiny("qwen3");
  o.shard_bytes = 1'000'000;
  const GenerateReport r = generate_checkpoint(o, dir.path());
  EXPECT_GT(r.n_shards, 3u);
  ASSERT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  const json index = json::parse(test::read_file(dir / "model.safetensors.index.json"));
  const Checkpoint sharded = Checkpoint::open(dir.path().string());
  EXPECT_EQ(sharded.files().size(), r.n_shards);
  EXPECT_EQ(index.at("metadata").at("total_size").get<uint64_t>(), sharded.total_bytes());
  EXPECT_EQ(index.at("weight_map").size(), plan_tensors(o).size());
  const auto embed_sharded = sharded.read_f32("model.embed_tokens.weight");

  o.shard_bytes = 0;  // same seed, one file: the old shards and index must go
  generate_checkpoint(o, dir.path());
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find("-of-"), std::string::npos) << entry.path();
  const Checkpoint single = Checkpoint::open(dir.path().string());
  EXPECT_EQ(single.files().size(), 1u);
  EXPECT_EQ(single.read_f32("model.embed_tokens.weight"), embed_sharded);
}

TEST(Testgen, F32AndF16DtypesHoldTheSameValuesAsBf16) {
  test::TempDir d32, d16;
  GenerateOptions o = tiny("llama", 4);
  o.dtype = TensorDtype::F32;
  generate_checkpoint(o, d32.path());
  o.dtype = TensorDtype::F16;
  generate_checkpoint(o, d16.path());
  const Checkpoint c32 = Checkpoint::open(d32.path().string()), c16 = Checkpoint::open(d16.path().string());
  EXPECT_EQ(c32.config().at("torch_dtype"), "float32");
  EXPECT_EQ(c16.config().at("torch_dtype"), "float16");
  const auto a = c32.read_f32("model.layers.1.mlp.down_proj.weight");
  const auto b = c16.read_f32("model.layers.1.mlp.down_proj.weight");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-3f * std::fabs(a[i]) + 1e-7f) << i;
}

TEST(Testgen, NormJitterPerturbsNormsAroundTheirUnitValue) {
  GenerateOptions o = tiny("gemma3");
  o.norm_jitter = 0.05f;
  test::TempDir dir;
  generate_checkpoint(o, dir.path());
  const auto v = Checkpoint::open(dir.path().string()).read_f32("model.layers.0.pre_feedforward_layernorm.weight");
  const auto s = test::stats_of(v);
  EXPECT_NEAR(s.mean, 0.0, 0.02);
  EXPECT_NEAR(s.std, 0.05, 0.015);
}

// Pins the generated bits: the same seed must give the same weights on every machine and compiler.
TEST(Testgen, GeneratedBitsArePinned) {
  GenerateOptions o = tiny("gpt-oss", 2024);
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const auto& t : plan_tensors(o)) {
    if (t.name.find("layers.0.") == std::string::npos) continue;
    std::vector<uint8_t> bytes(t.nbytes());
    fill_tensor(t, o.seed, bytes.data());
    for (uint8_t b : bytes) hash = (hash ^ b) * 0x100000001b3ull;
  }
  EXPECT_EQ(hash, 6634038055744846774ull) << "update only if the generator was changed on purpose";
}

}  // namespace
}  // namespace lp::testgen
