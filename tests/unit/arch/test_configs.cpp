// detect() on the public config.json of nine real models, against hand-written expected.json files
// (parameter counts from closed-form arithmetic, cross-checked with the figures their authors publish).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "arch/arch.h"
#include "formats/checkpoint.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

class RealConfigs : public ::testing::TestWithParam<std::string> {};

TEST_P(RealConfigs, EveryReportedFieldMatches) {
  const fs::path dir = fs::path(LP_SOURCE_DIR) / "tests/data/configs" / GetParam();
  const json expected = read_json(dir / "expected.json");
  const json config = read_json(dir / "config.json");
  const json got = lp::arch::to_json(lp::arch::detect(config, (dir / "config.json").string()));
  int checked = 0;
  for (const auto& [key, value] : expected.items()) {
    if (key == "_note") continue;
    if (key == "strategy_name") {
      EXPECT_EQ(got["strategy"]["name"], value) << GetParam();
      ++checked;
      continue;
    }
    ASSERT_TRUE(got.contains(key)) << GetParam() << ": report lacks '" << key << "'";
    EXPECT_EQ(got[key], value) << GetParam() << ": field '" << key << "'";
    ++checked;
  }
  EXPECT_GE(checked, 28);
  EXPECT_EQ(got["params_source"], "config");
}

// The same report through formats::Checkpoint (a folder holding only config.json).
TEST_P(RealConfigs, CheckpointFolderWithOnlyConfigGivesTheSameReport) {
  const fs::path dir = fs::path(LP_SOURCE_DIR) / "tests/data/configs" / GetParam();
  const json direct = lp::arch::to_json(lp::arch::detect(read_json(dir / "config.json"), "config.json"));
  const json via_checkpoint = lp::arch::to_json(lp::arch::detect(lp::formats::Checkpoint::open(dir.string())));
  EXPECT_EQ(direct, via_checkpoint);
}

INSTANTIATE_TEST_SUITE_P(Public, RealConfigs,
                         ::testing::Values("Qwen3-8B", "Qwen3-1.7B", "Qwen3-30B-A3B", "GPT-OSS-20B", "Gemma-3-4B-it",
                                           "Mixtral-8x7B", "Llama-3.1-8B", "Mistral-7B-v0.3", "Qwen2.5-7B"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
