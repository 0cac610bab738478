// Reads the shared trained tiny checkpoints end to end: every float tensor converts to finite f32.
#include <gtest/gtest.h>

#include <filesystem>

#include "formats/checkpoint.h"
#include "peer_skip.h"

using namespace lp::formats;

class FixtureCheckpoint : public ::testing::TestWithParam<const char*> {};

TEST_P(FixtureCheckpoint, AllFloatTensorsReadFinite) {
  const std::filesystem::path dir = std::filesystem::path(LP_SHARED_FIXTURES) / GetParam();
  if (!std::filesystem::exists(dir / "config.json")) LP_SKIP_OR_FAIL("fixture missing: " << dir);
  const Checkpoint c = Checkpoint::open(dir.string());
  ASSERT_TRUE(c.has_weights());
  EXPECT_GT(c.tensor_count(), 10u);
  EXPECT_TRUE(c.chat_template().has_value());
  EXPECT_TRUE(c.tokenizer_json().has_value());
  EXPECT_FALSE(c.config().value("model_type", "").empty());
  size_t n_float = 0;
  for (const auto& name : c.tensor_names()) {
    const StTensor& t = c.tensor(name);
    if (!st_dtype_is_float(t.dtype)) continue;
    std::vector<float> v(t.n_elements());
    c.read_f32(t, v.data(), true);
    ++n_float;
  }
  EXPECT_GT(n_float, 10u);
}

INSTANTIATE_TEST_SUITE_P(Shared, FixtureCheckpoint,
                         ::testing::Values("tiny-qwen3", "tiny-qwen3moe", "tiny-gemma3", "tiny-gptoss"));
