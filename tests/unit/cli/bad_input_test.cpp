// Bad input to `llama-pajamas-quant convert`, run through the real executable: every case must exit non-zero
// with one line "error: ..." on stderr naming the file and the field or tensor at fault, and leave no output
// (the -o directory does not exist afterwards and nothing stray sits next to it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>

#include "cli_helpers.h"
#include "peer_skip.h"

namespace lp::testcli {
namespace {

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    quant_ = binary("llama-pajamas-quant");
    if (quant_.empty()) return;
    pristine_ = std::make_unique<ScratchDir>("lp-bad-input-src-");
    const RunResult r = run(quant_, {"make-test-model", "--family", "qwen3", "-o", (pristine_->path() / "model").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { pristine_.reset(); }

  void SetUp() override {
    if (quant_.empty()) LP_SKIP_OR_FAIL("llama-pajamas-quant not built next to this test (../apps/)");
    fs::copy(pristine_->path() / "model", model(), fs::copy_options::recursive);
  }

  fs::path model() const { return work_ / "model"; }
  fs::path weights() const { return model() / "model.safetensors"; }
  fs::path config() const { return model() / "config.json"; }

  nlohmann::json load_config() const { return nlohmann::json::parse(read_file(config())); }
  void save_config(const nlohmann::json& j) const { write_file(config(), j.dump(2)); }

  // Runs convert and checks the failure contract; returns stderr for case-specific checks.
  std::string expect_clean_failure(std::vector<std::string> extra = {}, fs::path out = {}) {
    if (out.empty()) out = work_ / "out";
    std::vector<std::string> args = {"convert", model().string(), "-o", out.string(), "--formats", "gguf,mlx",
                                     "--precision", "q4_k_m:4bit", "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run(quant_, args);
    EXPECT_NE(r.exit_code, 0) << "stdout: " << r.out;
    EXPECT_LT(r.exit_code, 128) << "crashed (signal)";
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not a single line: " << r.err;
    EXPECT_FALSE(fs::exists(out)) << out;
    EXPECT_EQ(list_dir(work_.path()), std::vector<std::string>{"model"}) << "stray files next to the output";
    return r.err;
  }

  // Byte offset (in SafetensorsParts::data) and size of a tensor.
  static std::pair<size_t, size_t> span_of(const SafetensorsParts& st, const std::string& name) {
    const auto& off = st.header.at(name).at("data_offsets");
    return {off[0].get<size_t>(), off[1].get<size_t>() - off[0].get<size_t>()};
  }

  static inline fs::path quant_;
  static inline std::unique_ptr<ScratchDir> pristine_;
  ScratchDir work_{"lp-bad-input-"};
};

TEST_F(BadInput, TruncatedSafetensors) {
  const std::string bytes = read_file(weights());
  write_file(weights(), bytes.substr(0, bytes.size() / 2));
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
}

TEST_F(BadInput, HeaderOffsetsPastTheEnd) {
  auto st = SafetensorsParts::load(weights());
  auto& off = st.header.at("model.norm.weight").at("data_offsets");
  off[1] = st.data.size() + 4096;
  off[0] = off[1].get<size_t>() - 512;
  st.save(weights());
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
  EXPECT_NE(err.find("model.norm.weight"), std::string::npos) << err;
}

TEST_F(BadInput, UnsupportedDtype) {
  auto st = SafetensorsParts::load(weights());
  st.header.at("model.layers.0.mlp.up_proj.weight")["dtype"] = "I16";  // same element size as BF16
  st.save(weights());
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("I16"), std::string::npos) << err;
}

TEST_F(BadInput, MissingConfigField) {
  auto cfg = load_config();
  cfg.erase("hidden_size");
  save_config(cfg);
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
  EXPECT_NE(err.find("hidden_size"), std::string::npos) << err;
}

TEST_F(BadInput, ShapeMismatch) {
  auto st = SafetensorsParts::load(weights());
  auto& shape = st.header.at("model.layers.1.mlp.up_proj.weight").at("shape");
  std::swap(shape[0], shape[1]);  // same byte count, transposed: [hidden, ffn] instead of [ffn, hidden]
  st.save(weights());
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << err;
}

TEST_F(BadInput, NaNWeight) {
  auto st = SafetensorsParts::load(weights());
  ASSERT_EQ(st.header.at("model.layers.0.self_attn.q_proj.weight").at("dtype"), "BF16");
  const auto [begin, size] = span_of(st, "model.layers.0.self_attn.q_proj.weight");
  const uint16_t nan_bf16 = 0x7fc0;
  std::memcpy(st.data.data() + begin + size / 2, &nan_bf16, 2);
  st.save(weights());
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("model.layers.0.self_attn.q_proj.weight"), std::string::npos) << err;
}

TEST_F(BadInput, InfWeight) {
  auto st = SafetensorsParts::load(weights());
  const auto [begin, size] = span_of(st, "model.layers.1.mlp.down_proj.weight");
  const uint16_t inf_bf16 = 0xff80;  // -inf
  std::memcpy(st.data.data() + begin + size - 2, &inf_bf16, 2);
  st.save(weights());
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("model.layers.1.mlp.down_proj.weight"), std::string::npos) << err;
}

TEST_F(BadInput, UnknownArchitecture) {
  auto cfg = load_config();
  cfg["architectures"] = {"FrobnicatorForCausalLM"};
  cfg["model_type"] = "frobnicator";
  save_config(cfg);
  const std::string err = expect_clean_failure();
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
  EXPECT_NE(err.find("Frobnicator"), std::string::npos) << err;
}

TEST_F(BadInput, OutputUnderARegularFile) {
  write_file(work_ / "blocker", "a regular file");
  const fs::path out = work_ / "blocker" / "out";
  const RunResult r = run(quant_, {"convert", model().string(), "-o", out.string(), "--precision", "q8_0", "-q"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("blocker"), std::string::npos) << r.err;
  EXPECT_EQ(list_dir(work_.path()), (std::vector<std::string>{"blocker", "model"}));
  EXPECT_EQ(read_file(work_ / "blocker"), "a regular file");
}

TEST_F(BadInput, MissingModelFolder) {
  const RunResult r = run(quant_, {"convert", (work_ / "nope").string(), "-o", (work_ / "out").string(), "-q"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work_ / "out"));
}

// The pristine copy converts: the failures above come from the edits, not from the fixture.
TEST_F(BadInput, ControlConvertsCleanly) {
  const RunResult r = run(quant_, {"convert", model().string(), "-o", (work_ / "out").string(), "--formats", "gguf,mlx",
                                   "--precision", "q4_k_m:4bit", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(work_ / "out" / "manifest.json"));
  EXPECT_EQ(list_dir(work_.path()), (std::vector<std::string>{"model", "out"}));
}

}  // namespace
}  // namespace lp::testcli
