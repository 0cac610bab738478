#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "writers/gguf_writer.h"

using namespace lp::formats;
using lp::writers::GgufWriter;
namespace fs = std::filesystem;

namespace {
fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("lp_writers_test_" + std::to_string(::getpid()) + "_" + name);
}

// Every metadata type, including nested arrays and edge values.
std::vector<std::pair<std::string, GgufValue>> all_values() {
  std::vector<std::pair<std::string, GgufValue>> kv;
  kv.emplace_back("u8", GgufValue(uint8_t{255}));
  kv.emplace_back("i8", GgufValue(int8_t{-128}));
  kv.emplace_back("u16", GgufValue(uint16_t{65535}));
  kv.emplace_back("i16", GgufValue(int16_t{-32768}));
  kv.emplace_back("u32", GgufValue(uint32_t{4000000000u}));
  kv.emplace_back("i32", GgufValue(int32_t{-2000000000}));
  kv.emplace_back("u64", GgufValue(std::numeric_limits<uint64_t>::max()));
  kv.emplace_back("i64", GgufValue(std::numeric_limits<int64_t>::min()));
  kv.emplace_back("f32", GgufValue(1e-6f));
  kv.emplace_back("f64", GgufValue(-1.0 / 3.0));
  kv.emplace_back("bool_t", GgufValue(true));
  kv.emplace_back("bool_f", GgufValue(false));
  kv.emplace_back("str", GgufValue("héllo\nworld"));
  kv.emplace_back("str_empty", GgufValue(""));
  kv.emplace_back("a_u8", GgufValue(std::vector<uint8_t>{1, 2, 255}));
  kv.emplace_back("a_i8", GgufValue(std::vector<int8_t>{-1, 2}));
  kv.emplace_back("a_u16", GgufValue(std::vector<uint16_t>{1, 65535}));
  kv.emplace_back("a_i16", GgufValue(std::vector<int16_t>{-3, 4}));
  kv.emplace_back("a_u32", GgufValue(std::vector<uint32_t>{7, 8, 9}));
  kv.emplace_back("a_i32", GgufValue(std::vector<int32_t>{-7, 8, -9}));
  kv.emplace_back("a_u64", GgufValue(std::vector<uint64_t>{1ull << 40}));
  kv.emplace_back("a_i64", GgufValue(std::vector<int64_t>{-(1ll << 40), 5}));
  kv.emplace_back("a_f32", GgufValue(std::vector<float>{0.5f, -1.25f, 1e30f}));
  kv.emplace_back("a_f64", GgufValue(std::vector<double>{0.1, -0.2}));
  kv.emplace_back("a_bool", GgufValue(std::vector<bool>{true, false, true}));
  kv.emplace_back("a_str", GgufValue(std::vector<std::string>{"a", "", "ccc"}));
  kv.emplace_back("a_empty", GgufValue(std::vector<int32_t>{}));
  kv.emplace_back("a_nested",
                  GgufValue::array_of({GgufValue(std::vector<int32_t>{1, 2}), GgufValue(std::vector<int32_t>{3}),
                                       GgufValue::array_of({GgufValue(std::vector<std::string>{"x"})})}));
  kv.emplace_back("a_nested_str",
                  GgufValue::array_of({GgufValue(std::vector<std::string>{"p", "q"}), GgufValue(std::vector<std::string>{})}));
  return kv;
}
}  // namespace

class GgufRoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufRoundTrip, MetadataAndTensorsSurvive) {
  const uint32_t alignment = GetParam();
  const fs::path path = temp_path("rt_" + std::to_string(alignment) + ".gguf");
  const auto kv = all_values();
  {
    GgufWriter w(path, alignment);
    for (const auto& [k, v] : kv) w.set(k, v);
    w.add_tensor("empty.first", lp::GgmlType::F32, {0, 3});  // shares its offset with the next tensor
    w.add_tensor("f32.weight", lp::GgmlType::F32, {3, 2});
    w.add_tensor("q8.weight", lp::GgmlType::Q8_0, {64, 1, 1});
    w.add_tensor("q4k.weight", lp::GgmlType::Q4_K, {256});
    w.add_tensor("empty", lp::GgmlType::F16, {0});
    w.add_tensor("mx", lp::GgmlType::MXFP4, {32, 2});
    EXPECT_EQ(w.tensor_bytes("q8.weight"), 68u);
    w.begin();
    const float f[6] = {1, 2, 3, 4, 5, 6};
    w.write_tensor_data("f32.weight", f, 8);  // in two chunks
    w.write_tensor_data("f32.weight", reinterpret_cast<const uint8_t*>(f) + 8, 16);
    std::vector<uint8_t> q8(68, 0xab), q4k(144, 0xcd), mx(34, 0x11);
    w.write_tensor_data("q8.weight", q8.data(), q8.size());
    w.write_tensor_data("q4k.weight", q4k.data(), q4k.size());
    w.write_tensor_data("mx", mx.data(), mx.size());
    EXPECT_FALSE(fs::exists(path));  // atomic: nothing until finish()
    w.finish();
  }
  const GgufFile g = GgufFile::open(path.string());
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), alignment);
  EXPECT_EQ(g.file_size() % alignment, 0u);
  const size_t extra = alignment != 32 ? 1 : 0;  // general.alignment
  ASSERT_EQ(g.metadata().size(), kv.size() + extra);
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(g.metadata()[i].first, kv[i].first);
    EXPECT_TRUE(g.metadata()[i].second == kv[i].second) << kv[i].first << ": " << g.metadata()[i].second.to_string();
  }
  if (extra) {
    EXPECT_EQ(g.find("general.alignment")->type(), GgufType::UINT32);
  }
  EXPECT_EQ(g.get_u64("u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(g.find("i64")->as_i64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(g.get_f32("f32"), 1e-6f);
  EXPECT_EQ(g.find("f64")->as_f64(), -1.0 / 3.0);
  EXPECT_EQ(g.get_string("str"), "héllo\nworld");
  EXPECT_EQ(g.get_strings("a_str"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(g.find("a_bool")->as_bool_array(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(g.find("a_nested")->arrays()[1].as_i32_array(), (std::vector<int32_t>{3}));
  EXPECT_EQ(g.find("a_nested")->arrays()[2].arrays()[0].strings()[0], "x");
  EXPECT_EQ(g.find("a_empty")->array_size(), 0u);
  EXPECT_EQ(g.find("a_empty")->array_type(), GgufType::INT32);

  ASSERT_EQ(g.tensors().size(), 6u);
  EXPECT_EQ(g.require_tensor("empty.first").offset, g.require_tensor("f32.weight").offset);
  uint64_t expect_offset = 0;
  for (const auto& t : g.tensors()) {  // llama.cpp requires exactly these offsets
    EXPECT_EQ(t.offset, expect_offset) << t.name;
    expect_offset += (t.nbytes + alignment - 1) / alignment * alignment;
  }
  const auto& f = g.require_tensor("f32.weight");
  EXPECT_EQ(f.ne, (std::vector<int64_t>{3, 2}));
  float last;
  std::memcpy(&last, f.data + 20, 4);
  EXPECT_EQ(last, 6.0f);
  EXPECT_EQ(g.require_tensor("q8.weight").ne, (std::vector<int64_t>{64, 1, 1}));
  EXPECT_EQ(g.require_tensor("q4k.weight").data[143], 0xcd);
  EXPECT_EQ(g.require_tensor("mx").type, lp::GgmlType::MXFP4);
  EXPECT_EQ(g.require_tensor("mx").nbytes, 34u);
  EXPECT_EQ(g.require_tensor("empty").nbytes, 0u);
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Alignments, GgufRoundTrip, ::testing::Values(32u, 64u, 16u));

TEST(GgufWriter, TruncatedOutputsAlwaysThrow) {
  const fs::path path = temp_path("trunc.gguf");
  {
    GgufWriter w(path);
    for (const auto& [k, v] : all_values()) w.set(k, v);
    w.add_tensor("a", lp::GgmlType::F32, {8});
    w.add_tensor("b", lp::GgmlType::Q8_0, {32, 2});
    w.begin();
    std::vector<uint8_t> z(68, 1);
    w.write_tensor_data("a", z.data(), 32);
    w.write_tensor_data("b", z.data(), 68);
    w.finish();
  }
  lp::MappedFile m(path.string());
  const GgufFile full = GgufFile::parse(m.bytes());
  const uint64_t end = full.data_offset() + full.require_tensor("b").offset + 68;
  for (uint64_t cut = 0; cut < end; ++cut)
    EXPECT_THROW(GgufFile::parse(m.bytes().first(cut)), lp::Error) << "cut " << cut;
  // Random byte flips must give either a valid parse or lp::Error, never a crash.
  std::vector<uint8_t> bytes(m.bytes().begin(), m.bytes().end());
  uint32_t seed = 12345;
  for (int i = 0; i < 3000; ++i) {
    auto copy = bytes;
    for (int k = 0; k < 3; ++k) {
      seed = seed * 1664525u + 1013904223u;
      copy[(seed >> 8) % full.data_offset()] ^= static_cast<uint8_t>(1u << (seed & 7));
    }
    try {
      GgufFile::parse(copy);
    } catch (const lp::Error&) {
    }
  }
  fs::remove(path);
}

TEST(GgufWriter, RejectsMisuse) {
  const fs::path path = temp_path("misuse.gguf");
  GgufWriter w(path);
  EXPECT_THROW(GgufWriter(path, 48), lp::Error);
  EXPECT_THROW(w.add_tensor("q", lp::GgmlType::Q4_K, {128}), lp::Error);   // not a multiple of 256
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), lp::GgmlType::F32, {1}), lp::Error);
  EXPECT_THROW(w.add_tensor("five", lp::GgmlType::F32, {1, 1, 1, 1, 1}), lp::Error);
  EXPECT_THROW(w.set("general.alignment", GgufValue(uint32_t{64})), lp::Error);
  w.add_tensor("a", lp::GgmlType::F32, {2});
  w.add_tensor("b", lp::GgmlType::F32, {2});
  EXPECT_THROW(w.add_tensor("a", lp::GgmlType::F32, {2}), lp::Error);
  w.set("k", GgufValue(uint32_t{1}));
  w.set("k", GgufValue("again"));  // replaced in place
  w.begin();
  const float v[2] = {1, 2};
  EXPECT_THROW(w.write_tensor_data("b", v, 8), lp::Error);   // out of order
  EXPECT_THROW(w.write_tensor_data("a", v, 12), lp::Error);  // too many bytes
  w.write_tensor_data("a", v, 8);
  EXPECT_THROW(w.finish(), lp::Error);  // b incomplete
  w.write_tensor_data("b", v, 8);
  w.finish();
  const GgufFile g = GgufFile::open(path.string());
  EXPECT_EQ(g.metadata().size(), 1u);
  EXPECT_EQ(g.get_string("k"), "again");
  fs::remove(path);
}

TEST(GgufWriter, AbandonedWriterLeavesNoFile) {
  const fs::path path = temp_path("abandon.gguf");
  {
    GgufWriter w(path);
    w.add_tensor("a", lp::GgmlType::F32, {2});
    w.begin();
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(GgufValue, ConversionsCheckRanges) {
  EXPECT_EQ(GgufValue(int32_t{5}).as_u32(), 5u);
  EXPECT_THROW(GgufValue(int32_t{-5}).as_u64("k"), lp::Error);
  EXPECT_THROW(GgufValue(uint64_t{1} << 40).as_u32("k"), lp::Error);
  EXPECT_THROW(GgufValue(uint32_t{1} << 31).as_i32("k"), lp::Error);
  EXPECT_EQ(GgufValue(uint8_t{3}).as_f32(), 3.0f);
  EXPECT_THROW(GgufValue("s").as_f64("k"), lp::Error);
  EXPECT_THROW(GgufValue(1.0f).as_u32("k"), lp::Error);
  EXPECT_THROW(GgufValue::array_of({GgufValue(1.0f), GgufValue(int32_t{1})}), lp::Error);
  EXPECT_THROW(GgufValue(std::vector<int32_t>{-1}).as_u32_array("k"), lp::Error);
  const GgufValue big(std::vector<int32_t>(100, 7));
  const auto j = big.to_json(4);
  EXPECT_EQ(j["count"], 100);
  EXPECT_EQ(j["head"].size(), 4u);
  EXPECT_NE(big.to_string(3).find("100 int32 items"), std::string::npos);
}

// header_bytes() predicts the data offset before anything is written (what `--target-size` subtracts), for the
// default alignment and one that adds general.alignment.
TEST(GgufWriter, HeaderBytesPredictTheDataOffsetAndFileSize) {
  for (uint32_t alignment : {32u, 64u}) {
    const fs::path p = temp_path("header_bytes_" + std::to_string(alignment) + ".gguf");
    GgufWriter w(p, alignment);
    for (auto& [k, v] : all_values()) w.set(k, v);
    w.add_tensor("a", lp::GgmlType::F32, {3});         // 12 bytes: padded
    w.add_tensor("b.weight", lp::GgmlType::F16, {64, 2});  // 256 bytes
    const uint64_t predicted = w.header_bytes();
    EXPECT_EQ(predicted % alignment, 0u);
    EXPECT_EQ(w.tensor_count(), 2u);
    w.begin();
    std::vector<uint8_t> a(12, 1), b(256, 2);
    w.write_tensor_data("a", a.data(), a.size());
    w.write_tensor_data("b.weight", b.data(), b.size());
    w.finish();
    const auto g = GgufFile::open(p.string());
    EXPECT_EQ(g.data_offset(), predicted) << alignment;
    const uint64_t padded_a = (12 + alignment - 1) / alignment * alignment, padded_b = (256 + alignment - 1) / alignment * alignment;
    EXPECT_EQ(fs::file_size(p), predicted + padded_a + padded_b);
    EXPECT_LE(fs::file_size(p), predicted + 12 + 256 + w.tensor_count() * (alignment - 1));
    fs::remove(p);
  }
}
