// convert() is all-or-nothing: a failure after some artifacts were already written (here a NaN in the last
// tensor the converter reads) leaves no output directory, no staging leftovers next to it, and an existing
// output directory exactly as it was.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "convert/convert.h"
#include "convert_test_util.h"
#include "core/error.h"
#include "plan/preset.h"
#include "peer_skip.h"

namespace lp::convert_test {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Copies the fixture and puts a bf16 NaN into the tensor stored last in model.safetensors; returns its name.
std::string copy_with_late_nan(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    fs::copy_file(e.path(), to / e.path().filename());
    fs::permissions(to / e.path().filename(), fs::perms::owner_write, fs::perm_options::add);
  }
  const fs::path st = to / "model.safetensors";
  std::string bytes = slurp(st);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  std::string last;
  uint64_t last_end = 0;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const uint64_t end = info.at("data_offsets")[1].get<uint64_t>();
    if (end > last_end && info.at("dtype") == "BF16") last_end = end, last = name;
  }
  const uint16_t nan_bf16 = 0x7fc0;
  std::memcpy(bytes.data() + 8 + n + last_end - 2, &nan_bf16, 2);
  std::ofstream(st, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return last;
}

convert::ConvertOptions options(const fs::path& model, const fs::path& out) {
  convert::ConvertOptions o;
  o.model = model.string();
  o.output = out;
  o.gguf = o.mlx = true;
  o.precision = plan::parse_precision("q8_0,q4_k_m:4bit", true, true);
  o.progress = false;
  o.threads = 2;
  return o;
}

TEST(ConvertAtomicity, FailureMidwayLeavesNoOutput) {
  if (!have_fixture("tiny-qwen3")) LP_SKIP_OR_FAIL("fixture missing: " << fixture("tiny-qwen3"));
  ScratchDir dir;
  const std::string bad = copy_with_late_nan(fixture("tiny-qwen3"), dir / "model");
  try {
    convert::convert(options(dir / "model", dir / "out"));
    FAIL() << "convert accepted a NaN in " << bad;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "out"));
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"model"}) << "staging leftovers";
}

TEST(ConvertAtomicity, FailureKeepsAnExistingOutputDirUntouched) {
  if (!have_fixture("tiny-qwen3")) LP_SKIP_OR_FAIL("fixture missing: " << fixture("tiny-qwen3"));
  ScratchDir dir;
  copy_with_late_nan(fixture("tiny-qwen3"), dir / "model");
  fs::create_directories(dir / "out" / "gguf");
  std::ofstream(dir / "out" / "manifest.json") << "{\"previous\": true}\n";
  std::ofstream(dir / "out" / "gguf" / "model-q8_0.gguf") << "previous artifact";
  // Without force a non-empty output is refused up front; with force, a failure midway still keeps it whole.
  EXPECT_THROW(convert::convert(options(dir / "model", dir / "out")), Error);
  convert::ConvertOptions forced = options(dir / "model", dir / "out");
  forced.force = true;
  EXPECT_THROW(convert::convert(forced), Error);
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{"model", "out"}));
  EXPECT_EQ(list_dir(dir / "out"), (std::vector<std::string>{"gguf", "manifest.json"}));
  EXPECT_EQ(list_dir(dir / "out" / "gguf"), std::vector<std::string>{"model-q8_0.gguf"});
  EXPECT_EQ(slurp(dir / "out" / "manifest.json"), "{\"previous\": true}\n");
}

// The same copy without the NaN converts: the failures above come from the NaN alone.
TEST(ConvertAtomicity, ControlSucceedsAndCommitsEverything) {
  if (!have_fixture("tiny-qwen3")) LP_SKIP_OR_FAIL("fixture missing: " << fixture("tiny-qwen3"));
  ScratchDir dir;
  const auto r = convert::convert(options(fixture("tiny-qwen3"), dir / "out"));
  EXPECT_EQ(r.artifacts.size(), 3u);
  for (const auto& a : r.artifacts) EXPECT_TRUE(fs::exists(dir / "out" / a.path)) << a.path;
  EXPECT_TRUE(fs::exists(dir / "out" / "manifest.json"));
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"out"});
}

}  // namespace
}  // namespace lp::convert_test
