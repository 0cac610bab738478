// calibrate() end to end on the trained fixtures (skipped when ../shared/fixtures is missing): per-expert
// imatrix counts equal the tokens the router sent, the coverage report, and the bad-input messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "calib/calibrate.h"
#include "core/error.h"
#include "scratch_path.h"
#include "peer_skip.h"

namespace fs = std::filesystem;
using namespace lp::calib;

namespace {
fs::path fixture(const std::string& name) { return fs::path(LP_SHARED_FIXTURES) / name; }

std::string text_file() {
  const fs::path p = lp::test::scratch_path("lp_calibrate_fixture_test.txt");
  std::ofstream f(p);
  for (int i = 0; i < 40; ++i)
    f << "And God said, Let there be light: and there was light. And the evening and the morning were the day "
      << i << ".\n";
  return p.string();
}

CalibrateOptions small_run(const fs::path& model) {
  CalibrateOptions o;
  o.model = model.string();
  o.inputs = {text_file()};
  o.ctx = 32;
  o.chunks = 2;
  o.threads = 2;
  o.progress = false;
  return o;
}
}  // namespace

TEST(CalibrateFixture, MoeExpertCountsAreTheTokensRouted) {
  const fs::path model = fixture("tiny-qwen3moe");
  if (!fs::exists(model)) LP_SKIP_OR_FAIL("fixture missing: " << model);
  CalibrateResult r = calibrate(small_run(model));
  ASSERT_FALSE(r.coverage.empty());
  EXPECT_EQ(r.coverage.tokens, 64);
  ASSERT_EQ(r.coverage.routed.size(), 4u);
  for (const auto& [layer, v] : r.coverage.routed) {
    ASSERT_EQ(v.size(), 8u);
    int64_t sum = 0;
    for (int64_t c : v) sum += c;
    EXPECT_EQ(sum, 64 * 2) << "top-2 routing of 64 tokens in layer " << layer;
    for (const char* w : {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"})
      EXPECT_EQ(r.imatrix.entries.at("blk." + std::to_string(layer) + "." + w + ".weight").counts, v);
  }
  for (const auto& n : r.notes) EXPECT_EQ(n.find("differ"), std::string::npos) << n;
  const auto j = coverage_report_json(r);
  EXPECT_EQ(j["layers"].size(), 4u);
  EXPECT_EQ(coverage_path_for("/x/imatrix.gguf"), "/x/imatrix.coverage.json");
}

TEST(CalibrateFixture, DenseModelWithExpertBalancedIsANoteNotAnError) {
  const fs::path model = fixture("tiny-qwen3");
  if (!fs::exists(model)) LP_SKIP_OR_FAIL("fixture missing: " << model);
  CalibrateOptions o = small_run(model);
  o.expert_balanced = true;
  CalibrateResult r = calibrate(o);
  EXPECT_TRUE(r.coverage.empty());
  EXPECT_FALSE(r.balance);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("nothing to balance"), std::string::npos);
  EXPECT_EQ(r.chunks, 2);
  o.chunks = 100000;
  try {
    calibrate(o);
    FAIL() << "expected too-small error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("calibration set too small for --chunks 100000"), std::string::npos) << e.what();
  }
}
