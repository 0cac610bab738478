#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fp16.h"
#include "formats/checkpoint.h"
#include "test_bytes.h"

using namespace lp::formats;
namespace fs = std::filesystem;

namespace {
// Writes one safetensors file holding `tensors` (name -> (dtype, shape, bytes)) in the given order.
struct T {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
void write_st(const fs::path& p, const std::vector<T>& tensors) {
  nlohmann::ordered_json h;
  std::vector<uint8_t> data;
  for (const auto& t : tensors) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  lp::test::write_bytes(p, lp::test::safetensors_bytes(h.dump(), data));
}
template <typename V>
std::vector<uint8_t> as_bytes(const std::vector<V>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(V));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}
}  // namespace

TEST(Checkpoint, ConfigOnlyFolder) {
  const auto dir = lp::test::temp_dir("ckpt_cfg");
  lp::test::write_text(dir / "config.json", R"({"model_type":"llama","hidden_size":8})");
  for (const auto& arg : {dir.string(), (dir / "config.json").string()}) {
    const Checkpoint c = Checkpoint::open(arg);
    EXPECT_FALSE(c.has_weights());
    EXPECT_EQ(c.config()["hidden_size"], 8);
    EXPECT_EQ(c.tensor_count(), 0u);
    EXPECT_FALSE(c.chat_template());
    EXPECT_FALSE(c.tokenizer_json());
  }
  fs::remove_all(dir);
}

TEST(Checkpoint, MissingConfigAndBadJsonAreErrors) {
  const auto dir = lp::test::temp_dir("ckpt_bad");
  EXPECT_THROW(Checkpoint::open(dir.string()), lp::Error);
  lp::test::write_text(dir / "config.json", "{not json");
  try {
    Checkpoint::open(dir.string());
    FAIL();
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("config.json: invalid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Checkpoint::open((dir / "nope").string()), lp::Error);
  fs::remove_all(dir);
}

TEST(Checkpoint, ShardedReadAndConversions) {
  const auto dir = lp::test::temp_dir("ckpt_shard");
  lp::test::write_text(dir / "config.json", R"({"model_type":"qwen3"})");
  const std::vector<float> f32{1.5f, -2.0f, 0.25f, 3.0f};
  std::vector<uint16_t> bf16, f16;
  for (float v : f32) {
    bf16.push_back(lp::f32_to_bf16(v));
    f16.push_back(lp::f32_to_f16(v));
  }
  const std::vector<double> f64{1.5, -2.0, 0.25, 3.0};
  write_st(dir / "model-00001-of-00002.safetensors",
           {{"a", "F32", {2, 2}, as_bytes(f32)}, {"b", "BF16", {4}, as_bytes(bf16)}});
  write_st(dir / "model-00002-of-00002.safetensors",
           {{"c", "F16", {4}, as_bytes(f16)}, {"d", "F64", {1, 4}, as_bytes(f64)}, {"i", "I32", {1}, {1, 0, 0, 0}}});
  lp::test::write_text(dir / "model.safetensors.index.json", R"({"metadata":{"total_size":59},"weight_map":{
      "a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",
      "c":"model-00002-of-00002.safetensors","d":"model-00002-of-00002.safetensors","i":"model-00002-of-00002.safetensors"}})");
  const Checkpoint c = Checkpoint::open(dir.string());
  EXPECT_TRUE(c.has_weights());
  EXPECT_EQ(c.files().size(), 2u);
  EXPECT_EQ(c.tensor_names(), (std::vector<std::string>{"a", "b", "c", "d", "i"}));
  EXPECT_EQ(c.total_bytes(), 16u + 8 + 8 + 32 + 4);
  for (const char* n : {"a", "b", "c", "d"}) EXPECT_EQ(c.read_f32(n), f32) << n;
  EXPECT_NE(c.tensor("c").file.find("00002"), std::string::npos);
  EXPECT_THROW(c.tensor("zz"), lp::Error);
  EXPECT_THROW(c.read_f32("i"), lp::Error);  // integer data is not silently converted

  // An index that points at the wrong shard is an error naming the tensor.
  lp::test::write_text(dir / "model.safetensors.index.json",
                       R"({"weight_map":{"a":"model-00002-of-00002.safetensors"}})");
  try {
    Checkpoint::open(dir.string());
    FAIL();
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos) << e.what();
  }
  lp::test::write_text(dir / "model.safetensors.index.json", R"({"weight_map":{"a":"missing.safetensors"}})");
  EXPECT_THROW(Checkpoint::open(dir.string()), lp::Error);
  fs::remove_all(dir);
}

TEST(Checkpoint, DetectsNonFiniteValues) {
  const auto dir = lp::test::temp_dir("ckpt_nan");
  lp::test::write_text(dir / "config.json", "{}");
  const std::vector<float> v{1.0f, NAN, 2.0f};
  const std::vector<uint16_t> b{lp::f32_to_bf16(1.0f), lp::f32_to_bf16(INFINITY)};
  write_st(dir / "model.safetensors", {{"w.weight", "F32", {3}, as_bytes(v)}, {"x", "BF16", {2}, as_bytes(b)}});
  const Checkpoint c = Checkpoint::open(dir.string());
  try {
    c.read_f32("w.weight");
    FAIL();
  } catch (const lp::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("w.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("model.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("element 1"), std::string::npos) << m;
  }
  EXPECT_THROW(c.read_f32("x"), lp::Error);
  const auto unchecked = c.read_f32("w.weight", false);
  EXPECT_TRUE(std::isnan(unchecked[1]));
  fs::remove_all(dir);
}

TEST(Checkpoint, Fp8WithBlockScales) {
  const auto dir = lp::test::temp_dir("ckpt_fp8");
  lp::test::write_text(dir / "config.json", R"({"quantization_config":{"quant_method":"fp8","weight_block_size":[2,2]}})");
  // 3x4 weight of E4M3 1.0 (0x38) and 2.0 (0x40); scale blocks 2x2 -> scales [2, 2].
  std::vector<uint8_t> w(12, 0x38);
  w[0] = 0x40;   // 2.0
  w[11] = 0xb8;  // -1.0
  const std::vector<float> scales{1.0f, 2.0f, 4.0f, 8.0f};
  write_st(dir / "model.safetensors",
           {{"l.weight", "F8_E4M3", {3, 4}, w}, {"l.weight_scale_inv", "F32", {2, 2}, as_bytes(scales)},
            {"e5", "F8_E5M2", {2}, {0x3c, 0xc0}}});
  const Checkpoint c = Checkpoint::open(dir.string());
  ASSERT_NE(c.scale_for(c.tensor("l.weight")), nullptr);
  const auto out = c.read_f32("l.weight");
  const std::vector<float> expect{2, 1, 2, 2, 1, 1, 2, 2, 4, 4, 8, -8};
  EXPECT_EQ(out, expect);
  EXPECT_EQ(c.read_f32("e5"), (std::vector<float>{1.0f, -2.0f}));
  fs::remove_all(dir);
}

TEST(Checkpoint, ScalarConversionsAreExact) {
  // FP8 E4M3: max finite 448, min subnormal 2^-9, NaN 0x7f.
  EXPECT_EQ(lp::fp8_e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(lp::fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_TRUE(std::isnan(lp::fp8_e4m3_to_f32(0x7f)));
  std::vector<uint8_t> raw{0x00, 0x3c, 0x01, 0x00, 0x80, 0x3f};  // f16 1.0, 2^-24, bf16 1.0
  float out[2];
  convert_to_f32(StDtype::F16, raw.data(), 2, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], std::ldexp(1.0f, -24));
  convert_to_f32(StDtype::BF16, raw.data() + 4, 1, out);
  EXPECT_EQ(out[0], 1.0f);
}

TEST(Checkpoint, ChatTemplatePrecedence) {
  const auto dir = lp::test::temp_dir("ckpt_tpl");
  lp::test::write_text(dir / "config.json", "{}");
  lp::test::write_text(dir / "tokenizer_config.json",
                       R"({"chat_template":[{"name":"tool_use","template":"T"},{"name":"default","template":"D"}]})");
  Checkpoint c = Checkpoint::open(dir.string());
  EXPECT_EQ(c.chat_template(), "D");
  EXPECT_EQ(c.tokenizer_config().value()["chat_template"].size(), 2u);
  lp::test::write_text(dir / "chat_template.json", R"({"chat_template":"J"})");
  EXPECT_EQ(c.chat_template(), "J");
  lp::test::write_text(dir / "chat_template.jinja", "{{ messages }}");
  EXPECT_EQ(c.chat_template(), "{{ messages }}");
  lp::test::write_text(dir / "generation_config.json", R"({"eos_token_id":[1,2]})");
  EXPECT_EQ(c.generation_config().value()["eos_token_id"].size(), 2u);
  fs::remove_all(dir);
}

TEST(Checkpoint, CopiesOutliveTheOriginal) {
  const auto dir = lp::test::temp_dir("ckpt_copy");
  lp::test::write_text(dir / "config.json", "{}");
  const std::vector<float> v{1.0f, 2.0f};
  write_st(dir / "model.safetensors", {{"w", "F32", {2}, as_bytes(v)}});
  std::optional<Checkpoint> copy;
  {
    const Checkpoint original = Checkpoint::open(dir.string());
    copy = original;  // the original (and its file list) is destroyed at the end of this scope
  }
  EXPECT_EQ(copy->read_f32("w"), v);
  EXPECT_EQ(copy->tensor("w").file, (dir / "model.safetensors").string());
  fs::remove_all(dir);
}
