#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "test_bytes.h"

using namespace lp::formats;
using lp::test::Bytes;

namespace {

// A valid v3 file: 3 metadata keys, two tensors (f32 [4,2] and q8_0 [32,1]), alignment 32.
std::vector<uint8_t> sample_gguf(uint32_t version = 3) {
  Bytes b;
  b.put<uint32_t>(kGgufMagic).put<uint32_t>(version).put<uint64_t>(2).put<uint64_t>(3);
  b.str("general.architecture").put<uint32_t>(8).str("llama");
  b.str("llama.context_length").put<uint32_t>(4).put<uint32_t>(4096);
  b.str("tokenizer.ggml.scores").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(3);
  b.put<float>(-1.0f).put<float>(0.5f).put<float>(2.0f);
  b.str("a.weight").put<uint32_t>(2).put<uint64_t>(4).put<uint64_t>(2).put<uint32_t>(0).put<uint64_t>(0);
  b.str("b.weight").put<uint32_t>(1).put<uint64_t>(32).put<uint32_t>(8).put<uint64_t>(32);
  b.pad(32);
  for (int i = 0; i < 8; ++i) b.put<float>(static_cast<float>(i));
  for (int i = 0; i < 34; ++i) b.put<uint8_t>(static_cast<uint8_t>(i));
  b.pad(32);
  return b.b;
}

}  // namespace

TEST(GgufReader, ParsesHandBuiltFile) {
  const auto bytes = sample_gguf();
  const GgufFile f = GgufFile::parse(bytes, "x.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.get_u32("llama.context_length"), 4096u);
  EXPECT_EQ(f.get_u32_or("llama.missing", 7), 7u);
  EXPECT_EQ(f.get_f32_array("tokenizer.ggml.scores"), (std::vector<float>{-1.0f, 0.5f, 2.0f}));
  ASSERT_EQ(f.tensors().size(), 2u);
  const auto& a = f.require_tensor("a.weight");
  EXPECT_EQ(a.type, lp::GgmlType::F32);
  EXPECT_EQ(a.ne, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(a.nbytes, 32u);
  float v;
  std::memcpy(&v, a.data + 4 * 5, 4);
  EXPECT_EQ(v, 5.0f);
  const auto& q = f.require_tensor("b.weight");
  EXPECT_EQ(q.type, lp::GgmlType::Q8_0);
  EXPECT_EQ(q.nbytes, 34u);
  EXPECT_EQ(q.data[33], 33);
  EXPECT_EQ(f.tensor("nope"), nullptr);
}

TEST(GgufReader, ReadsVersion2) {
  const auto bytes = sample_gguf(2);
  EXPECT_EQ(GgufFile::parse(bytes).version(), 2u);
}

TEST(GgufReader, TypeErrorsNameFileAndKey) {
  const auto bytes = sample_gguf();
  const GgufFile f = GgufFile::parse(bytes, "x.gguf");
  try {
    f.get_string("llama.context_length");
    FAIL();
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.gguf: llama.context_length: expected string, got uint32"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(f.get_u32("missing.key"), lp::Error);
  EXPECT_THROW(f.get_bool("llama.context_length"), lp::Error);
}

TEST(GgufReader, EveryTruncationThrows) {
  const auto bytes = sample_gguf();
  // The tensor data ends at 32-aligned offsets; any cut before the last tensor's data end must fail.
  const GgufFile full = GgufFile::parse(bytes);
  const size_t needed = full.data_offset() + full.require_tensor("b.weight").offset + 34;
  for (size_t cut = 0; cut < needed; ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_THROW(GgufFile::parse(part), lp::Error) << "cut at " << cut;
  }
}

namespace {
void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    GgufFile::parse(bytes, "bad.gguf");
    ADD_FAILURE() << "no error, expected: " << needle;
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("bad.gguf: ", 0), 0u) << e.what();
  }
}
}  // namespace

TEST(GgufReader, RejectsCorruptHeaders) {
  {
    auto b = sample_gguf();
    b[0] = 'X';
    expect_error(b, "bad magic");
  }
  {
    auto b = sample_gguf();
    b[4] = 4;
    expect_error(b, "unsupported GGUF version 4");
  }
  {
    Bytes b;
    b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(1ull << 40).put<uint64_t>(0);
    expect_error(b.b, "tensor count");
  }
  {
    Bytes b;
    b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(~0ull);
    expect_error(b.b, "metadata count");
  }
  {  // array claiming 2^60 uint32 elements
    Bytes b;
    b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
    b.str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 60);
    expect_error(b.b, "array count");
  }
  {  // string length past EOF
    Bytes b;
    b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
    b.str("k").put<uint32_t>(8).put<uint64_t>(1000).put<uint32_t>(0);
    expect_error(b.b, "truncated");
  }
  {  // unknown metadata value type
    Bytes b;
    b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
    b.str("k").put<uint32_t>(13).put<uint32_t>(0);
    expect_error(b.b, "unknown value type id 13");
  }
  {  // duplicate metadata key
    Bytes b;
    b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(2);
    b.str("k").put<uint32_t>(0).put<uint8_t>(1).str("k").put<uint32_t>(0).put<uint8_t>(2);
    expect_error(b.b, "duplicate metadata key 'k'");
  }
}

namespace {
// One-tensor file with configurable dims/type/offset.
std::vector<uint8_t> one_tensor(std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data_bytes,
                                const std::string& name = "t", int count = 1) {
  Bytes b;
  b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(count).put<uint64_t>(0);
  for (int i = 0; i < count; ++i) {
    b.str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (auto d : ne) b.put<uint64_t>(d);
    b.put<uint32_t>(type).put<uint64_t>(offset);
  }
  b.pad(32);
  b.b.resize(b.b.size() + data_bytes, 0);
  return b.b;
}
}  // namespace

TEST(GgufReader, RejectsBadTensorInfos) {
  EXPECT_NO_THROW(GgufFile::parse(one_tensor({8}, 0, 0, 32)));
  expect_error(one_tensor({8}, 0, 0, 31), "past the end of the file");
  expect_error(one_tensor({8}, 0, 64, 64), "past the end of the file");
  expect_error(one_tensor({8}, 0, 16, 64), "not a multiple of the alignment");
  expect_error(one_tensor({8}, 77, 0, 64), "unknown ggml type id 77");
  expect_error(one_tensor({40}, 8, 0, 64), "row length 40 is not a multiple of the q8_0 block size 32");
  expect_error(one_tensor({1ull << 32, 1ull << 32}, 0, 0, 64), "overflows");
  expect_error(one_tensor({1ull << 63}, 0, 0, 64), "too large");
  expect_error(one_tensor({}, 0, 0, 64), "n_dims 0");
  expect_error(one_tensor({1, 1, 1, 1, 1}, 0, 0, 64), "n_dims 5");
  expect_error(one_tensor({8}, 0, 0, 64, "dup", 2), "duplicate tensor name 'dup'");
}

TEST(GgufReader, RejectsOverlappingTensors) {
  Bytes b;
  b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(2).put<uint64_t>(0);
  b.str("a").put<uint32_t>(1).put<uint64_t>(16).put<uint32_t>(0).put<uint64_t>(0);
  b.str("b").put<uint32_t>(1).put<uint64_t>(16).put<uint32_t>(0).put<uint64_t>(32);
  b.pad(32);
  b.b.resize(b.b.size() + 128, 0);
  expect_error(b.b, "overlaps");
}

TEST(GgufReader, HonoursAlignmentKey) {
  Bytes b;
  b.put<uint32_t>(kGgufMagic).put<uint32_t>(3).put<uint64_t>(1).put<uint64_t>(1);
  b.str("general.alignment").put<uint32_t>(4).put<uint32_t>(64);
  b.str("t").put<uint32_t>(1).put<uint64_t>(4).put<uint32_t>(0).put<uint64_t>(0);
  const size_t header = b.b.size();
  b.pad(64);
  b.put<float>(1).put<float>(2).put<float>(3).put<float>(4);
  const GgufFile f = GgufFile::parse(b.b);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_GE(f.data_offset(), header);
  float v;
  std::memcpy(&v, f.require_tensor("t").data + 12, 4);
  EXPECT_EQ(v, 4.0f);

  auto bad = b.b;
  // alignment 48 is not a power of two
  bad[8 + 8 + 8 + 8 + 17 + 4] = 48;
  expect_error(bad, "not a power of two");
}

TEST(GgufReader, OpenNamesMissingFile) {
  try {
    GgufFile::open("/nonexistent/file.gguf");
    FAIL();
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/file.gguf"), std::string::npos);
  }
}
