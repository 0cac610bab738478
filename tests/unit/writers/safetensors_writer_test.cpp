#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <fstream>
#include <unistd.h>

#include "core/error.h"
#include "formats/checkpoint.h"
#include "formats/safetensors.h"
#include "writers/safetensors_writer.h"

using namespace lp::formats;
using lp::writers::SafetensorsWriter;
using lp::writers::ShardedSafetensorsWriter;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("lp_writers_st_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}
const std::vector<StDtype> kAllDtypes = {StDtype::F64, StDtype::F32, StDtype::F16, StDtype::BF16, StDtype::I64,
                                         StDtype::I32, StDtype::I16, StDtype::I8, StDtype::U64, StDtype::U32,
                                         StDtype::U16, StDtype::U8, StDtype::BOOL, StDtype::F8_E4M3,
                                         StDtype::F8_E5M2, StDtype::F8_E8M0};
}  // namespace

TEST(SafetensorsWriter, EveryDtypeRoundTrips) {
  const auto dir = temp_dir("dtypes");
  const fs::path path = dir / "m.safetensors";
  {
    SafetensorsWriter w(path, {{"format", "pt"}});
    w.add("empty.first", StDtype::F32, {0});  // zero-length range at offset 0, like the next tensor
    for (size_t i = 0; i < kAllDtypes.size(); ++i)
      w.add(std::string("t_") + st_dtype_name(kAllDtypes[i]), kAllDtypes[i], {static_cast<int64_t>(i % 3 + 1), 3});
    w.add("scalar", StDtype::F32, {});
    w.add("empty", StDtype::F16, {0, 4});
    w.begin();
    for (size_t i = 0; i < kAllDtypes.size(); ++i) {
      const std::string name = std::string("t_") + st_dtype_name(kAllDtypes[i]);
      const auto data = pattern(w.tensor_bytes(name), static_cast<uint8_t>(i));
      w.write_tensor_data(name, data.data(), data.size());
    }
    const float s = 42.0f;
    w.write_tensor_data("scalar", &s, 4);
    w.finish();
  }
  const auto f = SafetensorsFile::open(path.string());
  EXPECT_EQ(f.data_offset() % 8, 0u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.tensors().size(), kAllDtypes.size() + 3);
  for (size_t i = 0; i < kAllDtypes.size(); ++i) {
    const StTensor* t = f.find(std::string("t_") + st_dtype_name(kAllDtypes[i]));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, kAllDtypes[i]);
    EXPECT_EQ(t->shape, (std::vector<int64_t>{static_cast<int64_t>(i % 3 + 1), 3}));
    const auto expect = pattern(t->nbytes, static_cast<uint8_t>(i));
    EXPECT_TRUE(std::equal(expect.begin(), expect.end(), t->data)) << t->name;
  }
  EXPECT_TRUE(f.find("scalar")->shape.empty());
  EXPECT_EQ(f.find("empty")->nbytes, 0u);
  fs::remove_all(dir);
}

TEST(SafetensorsWriter, RejectsMisuseAndStaysAtomic) {
  const auto dir = temp_dir("misuse");
  const fs::path path = dir / "m.safetensors";
  {
    SafetensorsWriter w(path);
    w.add("a", StDtype::F32, {2});
    EXPECT_THROW(w.add("a", StDtype::F32, {2}), lp::Error);
    EXPECT_THROW(w.add("n", StDtype::F32, {-1}), lp::Error);
    w.add("b", StDtype::U8, {3});
    w.begin();
    const uint8_t d[8] = {};
    EXPECT_THROW(w.write_tensor_data("b", d, 3), lp::Error);
    EXPECT_THROW(w.write_tensor_data("a", d, 9), lp::Error);
    w.write_tensor_data("a", d, 8);
    EXPECT_THROW(w.finish(), lp::Error);
  }
  EXPECT_FALSE(fs::exists(path));
  fs::remove_all(dir);
}

TEST(ShardedSafetensorsWriter, ShardsReadBackAsCheckpoint) {
  const auto dir = temp_dir("sharded");
  std::ofstream(dir / "config.json") << R"({"model_type":"llama"})";
  std::vector<std::vector<float>> values;
  {
    ShardedSafetensorsWriter w(dir, 100, {{"format", "pt"}});
    for (int i = 0; i < 7; ++i) w.add("layer." + std::to_string(i) + ".weight", StDtype::F32, {3, 4});  // 48 B each
    w.add("big", StDtype::F32, {40});  // 160 B > max: own shard
    w.begin();
    EXPECT_EQ(w.shard_count(), 5u);  // [0,1] [2,3] [4,5] [6] [big]
    for (int i = 0; i < 7; ++i) {
      std::vector<float> v(12);
      for (int k = 0; k < 12; ++k) v[k] = static_cast<float>(i * 100 + k);
      w.write_tensor_data("layer." + std::to_string(i) + ".weight", v.data(), v.size() * 4);
      values.push_back(v);
    }
    std::vector<float> big(40, 0.5f);
    w.write_tensor_data("big", big.data(), big.size() * 4);
    w.finish();
  }
  EXPECT_TRUE(fs::exists(dir / "model-00001-of-00005.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "model-00005-of-00005.safetensors"));
  const auto index = nlohmann::json::parse(std::ifstream(dir / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 7 * 48 + 160);
  EXPECT_EQ(index["weight_map"]["big"], "model-00005-of-00005.safetensors");
  const Checkpoint c = Checkpoint::open(dir.string());
  EXPECT_EQ(c.files().size(), 5u);
  EXPECT_EQ(c.tensor_count(), 8u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(c.read_f32("layer." + std::to_string(i) + ".weight"), values[i]);
  EXPECT_EQ(c.read_f32("big")[39], 0.5f);
  fs::remove_all(dir);
}

TEST(ShardedSafetensorsWriter, SingleShardIsPlainModelFile) {
  const auto dir = temp_dir("single");
  std::ofstream(dir / "config.json") << "{}";
  {
    ShardedSafetensorsWriter w(dir, 1 << 20);
    w.add("x", StDtype::BF16, {2});
    w.begin();
    const uint16_t v[2] = {0x3f80, 0x4000};
    w.write_tensor_data("x", v, 4);
    w.finish();
    EXPECT_EQ(w.files().size(), 1u);
  }
  EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_EQ(Checkpoint::open(dir.string()).read_f32("x"), (std::vector<float>{1.0f, 2.0f}));
  fs::remove_all(dir);
}
