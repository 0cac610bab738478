// Writes small GGUF files covering every metadata type and several tensor types. The peer test
// tests/oracles/gguf_format.test.mjs runs this with LP_GGUF_SAMPLE_DIR set and checks the files with
// node-llama-cpp's own GGUF reader; without the variable it writes to a temp dir and checks our reader.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <unistd.h>

#include "formats/gguf.h"
#include "writers/gguf_writer.h"

using namespace lp::formats;
namespace fs = std::filesystem;

namespace {
void write_sample(const fs::path& path, uint32_t alignment) {
  lp::writers::GgufWriter w(path, alignment);
  w.set("general.architecture", "llama");
  w.set("general.name", "sample \"quoted\" ünïcode");
  w.set("llama.context_length", uint32_t{4096});
  w.set("llama.rope.freq_base", 10000.0f);
  w.set("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "</s>", "hello", " world", ""});
  w.set("tokenizer.ggml.scores", std::vector<float>{0.0f, -1.5f, 3.25f, 1e-7f, -0.0f});
  w.set("tokenizer.ggml.token_type", std::vector<int32_t>{3, 3, 1, 1, 1});
  w.set("test.u8", uint8_t{200});
  w.set("test.i8", int8_t{-100});
  w.set("test.u16", uint16_t{60000});
  w.set("test.i16", int16_t{-30000});
  w.set("test.u32", uint32_t{4000000000u});
  w.set("test.i32", int32_t{-2000000000});
  w.set("test.u64", uint64_t{1} << 50);
  w.set("test.i64", -(int64_t{1} << 50));
  w.set("test.f32", 0.1f);
  w.set("test.f64", 0.1);
  w.set("test.bool", true);
  w.set("test.bools", std::vector<bool>{true, false});
  w.set("test.u64s", std::vector<uint64_t>{1, uint64_t{1} << 40});
  w.set("test.f64s", std::vector<double>{0.5, -2.0});
  w.set("test.nested", GgufValue::array_of({GgufValue(std::vector<int32_t>{1, 2}), GgufValue(std::vector<int32_t>{3})}));
  const struct {
    const char* name;
    lp::GgmlType type;
    std::vector<int64_t> ne;
  } tensors[] = {
      {"token_embd.weight", lp::GgmlType::F16, {64, 5}},  {"blk.0.attn_q.weight", lp::GgmlType::Q8_0, {64, 3}},
      {"blk.0.ffn_up.weight", lp::GgmlType::Q4_K, {256, 2}}, {"blk.0.ffn_down.weight", lp::GgmlType::Q6_K, {256, 1}},
      {"blk.0.ffn_up_exps.weight", lp::GgmlType::MXFP4, {64, 2, 3}}, {"blk.0.attn_k.weight", lp::GgmlType::IQ4_NL, {32, 1}},
      {"blk.0.attn_norm.weight", lp::GgmlType::F32, {7}},    {"output.weight", lp::GgmlType::BF16, {64, 5}},
  };
  for (const auto& t : tensors) w.add_tensor(t.name, t.type, t.ne);
  w.begin();
  for (const auto& t : tensors) {
    std::vector<uint8_t> data(w.tensor_bytes(t.name));
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
    w.write_tensor_data(t.name, data.data(), data.size());
  }
  w.finish();
}
}  // namespace

TEST(GgufSample, WritesPeerCheckableFiles) {
  const char* env = std::getenv("LP_GGUF_SAMPLE_DIR");
  const fs::path dir = env ? fs::path(env) : fs::temp_directory_path() / ("lp_gguf_sample_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (uint32_t alignment : {32u, 64u}) {
    const fs::path p = dir / ("sample_a" + std::to_string(alignment) + ".gguf");
    write_sample(p, alignment);
    const GgufFile f = GgufFile::open(p.string());
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.tensors().size(), 8u);
    EXPECT_EQ(f.get_string("general.name"), "sample \"quoted\" ünïcode");
    EXPECT_EQ(f.find("test.nested")->arrays().size(), 2u);
  }
  if (!env) fs::remove_all(dir);
}
