// Bad MoE checkpoints given to `llama-pajamas-quant convert`, through the real executable: a missing expert
// tensor, an expert count in config.json that disagrees with the weights, and MXFP4 blocks/scales whose shapes
// disagree. Each must exit 1 with one line "error: ..." naming the tensor, and write nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "cli_helpers.h"
#include "peer_skip.h"

namespace lp::testcli {
namespace {

class MoeBadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    quant_ = binary("llama-pajamas-quant");
    if (quant_.empty()) return;
    pristine_ = std::make_unique<ScratchDir>("lp-moe-bad-input-src-");
    for (const char* family : {"qwen3moe", "gpt-oss"}) {
      const RunResult r = run(quant_, {"make-test-model", "--family", family, "--layers", "1", "-o", (pristine_->path() / family).string()});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() { pristine_.reset(); }

  void SetUp() override {
    if (quant_.empty()) LP_SKIP_OR_FAIL("llama-pajamas-quant not built next to this test (../apps/)");
  }

  // A private copy of the generated `family` checkpoint to damage.
  fs::path copy_of(const std::string& family) {
    fs::copy(pristine_->path() / family, model(), fs::copy_options::recursive);
    return model();
  }
  fs::path model() const { return work_ / "model"; }
  fs::path weights() const { return model() / "model.safetensors"; }

  std::string expect_clean_failure() { return expect_clean_convert_failure(quant_, model(), work_.path()); }

  static inline fs::path quant_;
  static inline std::unique_ptr<ScratchDir> pristine_;
  ScratchDir work_{"lp-moe-bad-input-"};
};

TEST_F(MoeBadInput, MissingExpertTensor) {
  copy_of("qwen3moe");
  auto st = SafetensorsParts::load(weights());
  const std::string victim = "model.layers.0.mlp.experts.3.down_proj.weight";
  ASSERT_TRUE(st.header.contains(victim));
  st.header.erase(victim);
  st.save(weights());
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find(victim), std::string::npos) << err;
}

TEST_F(MoeBadInput, ExpertCountDisagreesWithConfig) {
  copy_of("qwen3moe");
  auto cfg = nlohmann::json::parse(read_file(model() / "config.json"));
  const int n = cfg.at("num_experts").get<int>();
  cfg["num_experts"] = n / 2;  // the weights hold experts n/2 .. n-1 that the config does not know
  write_file(model() / "config.json", cfg.dump(2));
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("model.layers.0.mlp.experts." + std::to_string(n / 2) + "."), std::string::npos) << err;
  EXPECT_NE(err.find(std::to_string(n / 2) + " experts"), std::string::npos) << err;
}

TEST_F(MoeBadInput, MoreExpertsInConfigThanInWeights) {
  copy_of("qwen3moe");
  auto cfg = nlohmann::json::parse(read_file(model() / "config.json"));
  const int n = cfg.at("num_experts").get<int>();
  cfg["num_experts"] = n + 2;
  write_file(model() / "config.json", cfg.dump(2));
  const std::string err = expect_clean_failure();
  // Either the router's [n_expert, hidden] shape or the first absent expert is reported, by name.
  EXPECT_TRUE(err.find("'model.layers.0.mlp.gate.weight' has shape [" + std::to_string(n) + ", ") != std::string::npos ||
              err.find("model.layers.0.mlp.experts." + std::to_string(n) + ".") != std::string::npos)
      << err;
}

TEST_F(MoeBadInput, Mxfp4ScalesShapeMismatch) {
  copy_of("gpt-oss");
  auto st = SafetensorsParts::load(weights());
  std::string victim;
  for (const auto& [name, info] : st.header.items())
    if (name.size() > 7 && name.ends_with("_scales")) victim = name;
  ASSERT_FALSE(victim.empty()) << "generated gpt-oss has no MXFP4 *_scales tensor";
  // Same byte count, different split: [.., rows, groups] -> [.., rows * 2, groups / 2].
  auto& shape = st.header[victim]["shape"];
  const size_t last = shape.size() - 1;
  ASSERT_EQ(shape[last].get<int64_t>() % 2, 0);
  shape[last] = shape[last].get<int64_t>() / 2;
  shape[last - 1] = shape[last - 1].get<int64_t>() * 2;
  st.save(weights());
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find(victim), std::string::npos) << err;
}

TEST_F(MoeBadInput, Mxfp4BlocksShapeMismatch) {
  copy_of("gpt-oss");
  auto st = SafetensorsParts::load(weights());
  std::string victim;
  for (const auto& [name, info] : st.header.items())
    if (name.ends_with("down_proj_blocks")) victim = name;
  ASSERT_FALSE(victim.empty()) << "generated gpt-oss has no MXFP4 down_proj_blocks tensor";
  // 16 bytes per block of 32 -> 8: the blocks no longer match their scales (byte count kept by doubling groups).
  auto& shape = st.header[victim]["shape"];
  const size_t last = shape.size() - 1;
  shape[last] = 8;
  shape[last - 1] = shape[last - 1].get<int64_t>() * 2;
  st.save(weights());
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find(victim), std::string::npos) << err;
}

TEST_F(MoeBadInput, ControlConvertsCleanly) {
  for (const char* family : {"qwen3moe", "gpt-oss"}) {
    fs::remove_all(model());
    copy_of(family);
    const fs::path out = work_ / "out";
    const RunResult r = run(quant_, {"convert", model().string(), "-o", out.string(), "--formats", "gguf", "--precision", "q4_k_m", "-q"});
    EXPECT_EQ(r.exit_code, 0) << family << ": " << r.err;
    fs::remove_all(out);
  }
}

}  // namespace
}  // namespace lp::testcli
