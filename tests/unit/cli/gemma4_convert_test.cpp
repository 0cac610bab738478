// Gemma 4 checkpoints given to `llama-pajamas-quant convert`, through the real executable (issue #20's bad input for
// Gemma 4): a checkpoint missing a per-layer embedding tensor (the table itself, or one layer's gate) must exit 1 with
// one line "error: ..." naming the tensor, and write nothing; the intact checkpoint converts.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "cli_helpers.h"
#include "peer_skip.h"

namespace lp::testcli {
namespace {

class Gemma4Convert : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    quant_ = binary("llama-pajamas-quant");
    if (quant_.empty()) return;
    pristine_ = std::make_unique<ScratchDir>("lp-gemma4-convert-src-");
    const RunResult r = run(quant_, {"make-test-model", "--family", "gemma4", "-o", (pristine_->path() / "gemma4").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { pristine_.reset(); }

  void SetUp() override {
    if (quant_.empty()) LP_SKIP_OR_FAIL("llama-pajamas-quant not built next to this test (../apps/)");
    fs::copy(pristine_->path() / "gemma4", model(), fs::copy_options::recursive);
  }
  fs::path model() const { return work_ / "model"; }
  fs::path weights() const { return model() / "model.safetensors"; }

  std::string expect_clean_failure() { return expect_clean_convert_failure(quant_, model(), work_.path()); }

  static inline fs::path quant_;
  static inline std::unique_ptr<ScratchDir> pristine_;
  ScratchDir work_{"lp-gemma4-convert-"};
};

TEST_F(Gemma4Convert, MissingPerLayerEmbeddingTensor) {
  for (const char* victim : {"model.embed_tokens_per_layer.weight", "model.layers.4.per_layer_input_gate.weight"}) {
    SCOPED_TRACE(victim);
    fs::remove_all(model());
    fs::copy(pristine_->path() / "gemma4", model(), fs::copy_options::recursive);
    auto st = SafetensorsParts::load(weights());
    ASSERT_TRUE(st.header.contains(victim));
    st.header.erase(victim);
    st.save(weights());
    const std::string err = expect_clean_failure();
    EXPECT_NE(err.find(victim), std::string::npos) << err;
  }
}

TEST_F(Gemma4Convert, IntactCheckpointConverts) {
  const fs::path out = work_ / "out";
  const RunResult r = run(quant_, {"convert", model().string(), "-o", out.string(), "--formats", "gguf", "--precision", "q8_0", "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "gguf"));
}

}  // namespace
}  // namespace lp::testcli
