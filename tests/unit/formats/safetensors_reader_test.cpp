#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/safetensors.h"
#include "test_bytes.h"

using namespace lp::formats;

namespace {
std::vector<uint8_t> data_bytes(size_t n) {
  std::vector<uint8_t> d(n);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(i);
  return d;
}

void expect_error(const std::string& header, size_t data, const std::string& needle) {
  const auto bytes = lp::test::safetensors_bytes(header, data_bytes(data));
  try {
    SafetensorsFile::parse(bytes, "m.safetensors");
    ADD_FAILURE() << "no error, expected: " << needle;
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("m.safetensors: ", 0), 0u) << e.what();
  }
}
}  // namespace

TEST(SafetensorsReader, ParsesTensorsAndMetadata) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2,3],"data_offsets":[16,28]},)"
      R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"s":{"dtype":"U8","shape":[],"data_offsets":[28,29]}})";
  const auto bytes = lp::test::safetensors_bytes(header, data_bytes(29));
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "m.safetensors");
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "a");  // data-offset order
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const StTensor* b = f.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, StDtype::BF16);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->nbytes, 12u);
  EXPECT_EQ(b->n_elements(), 6u);
  EXPECT_EQ(b->data[0], 16);
  EXPECT_EQ(b->file, "m.safetensors");
  EXPECT_EQ(f.find("s")->n_elements(), 1u);  // scalar
  EXPECT_EQ(f.find("zzz"), nullptr);
}

TEST(SafetensorsReader, DtypeNamesRoundTrip) {
  for (const char* n : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL",
                        "F8_E4M3", "F8_E5M2", "F8_E8M0"}) {
    const auto d = st_dtype_from_name(n);
    ASSERT_TRUE(d) << n;
    EXPECT_STREQ(st_dtype_name(*d), n);
  }
  EXPECT_FALSE(st_dtype_from_name("F4"));
  EXPECT_EQ(st_dtype_size(StDtype::BF16), 2u);
  EXPECT_EQ(st_dtype_size(StDtype::I64), 8u);
}

TEST(SafetensorsReader, RejectsCorruptInput) {
  expect_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, "outside the data buffer");
  expect_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", 16, "needs 16");
  expect_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,0]}})", 16, "outside");
  expect_error(R"({"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,2]}})", 16, "unsupported dtype 'Q4'");
  expect_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})", 16, "invalid JSON");
  expect_error(R"([1,2])", 16, "not an object");
  expect_error(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16, "non-negative");
  expect_error(R"({"a":{"dtype":"F32","shape":[4.5],"data_offsets":[0,16]}})", 16, "non-negative");
  expect_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", 16, "data_offsets");
  expect_error(R"({"a":{"shape":[4],"data_offsets":[0,16]}})", 16, "missing dtype");
  expect_error(R"({"a":{"dtype":"F32","data_offsets":[0,16]}})", 16, "missing shape");
  expect_error(R"({"__metadata__":{"x":1}})", 0, "__metadata__ 'x'");
  expect_error(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", 16, "overflows");
  expect_error(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
               16, "overlaps");
}

TEST(SafetensorsReader, EmptyTensorsShareOffsets) {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
      R"("z":{"dtype":"I8","shape":[2,0],"data_offsets":[16,16]}})";
  const auto bytes = lp::test::safetensors_bytes(header, data_bytes(16));
  const SafetensorsFile f = SafetensorsFile::parse(bytes);
  EXPECT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.find("e")->nbytes, 0u);
}

TEST(SafetensorsReader, RejectsHeaderLengthPastEof) {
  lp::test::Bytes b;
  b.put<uint64_t>(1000).raw("{}", 2);
  EXPECT_THROW(SafetensorsFile::parse(b.b), lp::Error);
  std::vector<uint8_t> tiny{1, 2, 3};
  EXPECT_THROW(SafetensorsFile::parse(tiny), lp::Error);
}

TEST(SafetensorsReader, EveryTruncationThrows) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  const auto bytes = lp::test::safetensors_bytes(header, data_bytes(16));
  EXPECT_NO_THROW(SafetensorsFile::parse(bytes));
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_THROW(SafetensorsFile::parse(part), lp::Error) << "cut at " << cut;
  }
}

TEST(SafetensorsReader, OpenMapsFile) {
  const auto dir = lp::test::temp_dir("st_open");
  const std::string header = R"({"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})";
  lp::test::write_bytes(dir / "x.safetensors", lp::test::safetensors_bytes(header, data_bytes(8)));
  const auto f = SafetensorsFile::open((dir / "x.safetensors").string());
  EXPECT_EQ(f.find("a")->data[7], 7);
  EXPECT_EQ(f.find("a")->file, (dir / "x.safetensors").string());
  std::filesystem::remove_all(dir);
}
