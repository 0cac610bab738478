#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "formats/describe.h"
#include "writers/gguf_writer.h"
#include "writers/safetensors_writer.h"

using namespace lp::formats;
namespace fs = std::filesystem;

TEST(Describe, GgufSummaryAbbreviatesLongArrays) {
  const fs::path p = fs::temp_directory_path() / ("lp_describe_" + std::to_string(::getpid()) + ".gguf");
  {
    lp::writers::GgufWriter w(p, 64);
    w.set("general.architecture", "qwen3");
    w.set("tokenizer.ggml.tokens", std::vector<std::string>(100, "tok"));
    w.add_tensor("t", lp::GgmlType::Q8_0, {32, 4});
    w.begin();
    std::vector<uint8_t> d(w.tensor_bytes("t"), 0);
    w.write_tensor_data("t", d.data(), d.size());
    w.finish();
  }
  const GgufFile f = GgufFile::open(p.string());
  const auto d = describe_gguf(f, 3, true);
  EXPECT_EQ(d["format"], "gguf");
  EXPECT_EQ(d["alignment"], 64);
  EXPECT_EQ(d["metadata"]["tokenizer.ggml.tokens"]["count"], 100);
  EXPECT_EQ(d["metadata"]["tokenizer.ggml.tokens"]["head"].size(), 3u);
  EXPECT_EQ(d["metadata_types"]["tokenizer.ggml.tokens"], "array of string");
  EXPECT_EQ(d["tensors"][0]["type"], "q8_0");
  EXPECT_EQ(d["tensors"][0]["shape"], (std::vector<int64_t>{32, 4}));
  EXPECT_EQ(d["tensors"][0]["bytes"], 4 * 34);
  EXPECT_EQ(describe_gguf(f, 0, false)["metadata"]["tokenizer.ggml.tokens"].size(), 100u);
  EXPECT_FALSE(describe_gguf(f, 0, false).contains("tensors"));
  const std::string text = describe_text(d);
  EXPECT_NE(text.find("... 100 items"), std::string::npos) << text;
  EXPECT_NE(text.find("q8_0"), std::string::npos) << text;
  fs::remove(p);
}

TEST(Describe, SafetensorsSummary) {
  const fs::path p = fs::temp_directory_path() / ("lp_describe_" + std::to_string(::getpid()) + ".safetensors");
  {
    lp::writers::SafetensorsWriter w(p, {{"format", "mlx"}});
    w.add("w", StDtype::U32, {4, 2});
    w.begin();
    const uint32_t v[8] = {};
    w.write_tensor_data("w", v, sizeof v);
    w.finish();
  }
  const auto d = describe_safetensors(SafetensorsFile::open(p.string()), true);
  EXPECT_EQ(d["metadata"]["format"], "mlx");
  EXPECT_EQ(d["tensors"][0]["dtype"], "U32");
  EXPECT_EQ(d["total_bytes"], 32);
  fs::remove(p);
}
