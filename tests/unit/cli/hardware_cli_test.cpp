// `hw`, `config` and the hardware profile behind generate: detection of a recorded snapshot (--root /
// LP_HW_ROOT), the memory plan's refusal of a configuration that cannot fit (before loading), and the suggested
// configuration actually running.
#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "cli_helpers.h"
#include "peer_skip.h"

namespace lp::testcli {
namespace {

class HardwareCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    quant_ = binary("llama-pajamas-quant");
    run_ = binary("llama-pajamas-run");
    if (quant_.empty() || run_.empty()) return;
    dir_ = std::make_unique<ScratchDir>("lp-hw-cli-");
    RunResult r = run(quant_, {"make-test-model", "--family", "qwen3", "-q", "-o", (dir_->path() / "hf").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run(quant_, {"convert", (dir_->path() / "hf").string(), "-o", (dir_->path() / "out").string(), "--precision", "q8_0", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (quant_.empty() || run_.empty()) LP_SKIP_OR_FAIL("tools not built next to this test (../apps/)");
  }
  static std::string model() { return (dir_->path() / "out").string(); }
  static std::string snapshot(const std::string& name) { return std::string(LP_SOURCE_DIR) + "/tests/data/hw/" + name; }
  static inline fs::path quant_, run_;
  static inline std::unique_ptr<ScratchDir> dir_;
};

TEST_F(HardwareCli, HwReadsASnapshot) {
  const RunResult r = run(run_, {"hw", "--root", snapshot("intel-hybrid-i7-12700"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["profile"]["id"], "x86_hybrid");
  EXPECT_EQ(j["cpu"]["performance_cores"], 8);
  EXPECT_EQ(j["cpu"]["compute_cores"], 8);
  const RunResult text = run(run_, {"hw", "--root", snapshot("jetson-agx-orin-32gb")});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("board    NVIDIA Jetson AGX Orin Developer Kit"), std::string::npos) << text.out;
  const RunResult bad = run(run_, {"hw", "--root", snapshot("jetson-agx-orin-32gb"), "--probe"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--probe measures this machine"), std::string::npos) << bad.err;
}

TEST_F(HardwareCli, ConfigPlansEveryCacheType) {
  const RunResult r = run(run_, {"config", "-m", model(), "--ctx", "2048", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["fits"].get<bool>());
  const auto& by = j["memory_by_cache_type"];
  const uint64_t f16 = by["f16"]["kv_cache_bytes"], f32 = by["f32"]["kv_cache_bytes"], q8 = by["q8_0"]["kv_cache_bytes"];
  EXPECT_EQ(f32, 2 * f16);
  EXPECT_EQ(q8, f16 / 2 * 34 / 32);
  const uint64_t bf16 = by["bf16"]["kv_cache_bytes"], q4 = by["q4_0"]["kv_cache_bytes"];
  EXPECT_EQ(bf16, f16);
  EXPECT_EQ(q4, f16 / 2 * 18 / 32);
  // K and V planned with their own types.
  const RunResult mixed = run(run_, {"config", "-m", model(), "--ctx", "2048", "--cache-type-k", "q8_0", "--cache-type-v", "q4_0", "--json"});
  ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
  const auto jm = nlohmann::json::parse(mixed.out);
  EXPECT_EQ(jm["cache_type"], "q8_0/q4_0");
  EXPECT_EQ(jm["memory"]["kv_cache_bytes"].get<uint64_t>(), q8 / 2 + q4 / 2);
  // generate runs them (and says which it used).
  const RunResult gen = run(run_, {"generate", "-m", model(), "-p", "Hello", "-n", "3", "--temp", "0", "--cache-type-k", "bf16",
                                   "--cache-type-v", "q4_0", "--json"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const RunResult bad = run(run_, {"generate", "-m", model(), "-p", "Hello", "--cache-type-v", "q4_1"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--cache-type-v"), std::string::npos) << bad.err;
  EXPECT_GT(j["model"]["weight_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(j["expected_decode_tokens_per_second"].get<double>(), 0.0);
}

// A container that already uses 1.9 of its 2 GiB: a context of 131,072 tokens is refused before loading, with the
// numbers and a configuration that fits; that configuration then runs.
TEST_F(HardwareCli, RefusesBeforeLoadingAndTheSuggestionRuns) {
  const std::string env = "LP_HW_ROOT=" + snapshot("container-2gib-cgroup2");
  const RunResult cfg = run("/usr/bin/env", {env, run_.string(), "config", "-m", model(), "--ctx", "131072", "--cache-type", "f16",
                                             "--root", snapshot("container-2gib-cgroup2")});
  EXPECT_EQ(cfg.exit_code, 3) << cfg.out << cfg.err;
  EXPECT_NE(cfg.out.find("DOES NOT FIT"), std::string::npos) << cfg.out;
  const RunResult r = run("/usr/bin/env", {env, run_.string(), "generate", "-m", model(), "-p", "Hello", "-n", "2", "--temp", "0",
                                           "--ctx", "131072", "--cache-type", "f16"});
  ASSERT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("cgroup limit 2.15 GB"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("fits: --ctx (\\d+) --cache-type (\\w+)"))) << r.err;
  const RunResult ok = run("/usr/bin/env", {env, run_.string(), "generate", "-m", model(), "-p", "Hello", "-n", "2", "--temp", "0",
                                            "--ctx", m[1].str(), "--cache-type", m[2].str()});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // A smaller KV type is suggested as well: q4_0 keeps the whole asked context here, and runs.
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("or --ctx 131072 --cache-type q4_0 "))) << r.err;
  const RunResult q4 = run("/usr/bin/env", {env, run_.string(), "generate", "-m", model(), "-p", "Hello", "-n", "2", "--temp", "0",
                                            "--ctx", "131072", "--cache-type", "q4_0"});
  EXPECT_EQ(q4.exit_code, 0) << q4.err;
  // --profile none: no check (the user takes the risk), same as before profiles existed.
  const RunResult unknown = run(run_, {"generate", "-m", model(), "-p", "Hi", "-n", "1", "--profile", "nope"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("--profile: 'nope'"), std::string::npos) << unknown.err;
}

// serve without --parallel takes the profile's slot count, and fewer (with a note) when that many do not fit.
TEST_F(HardwareCli, ServeSlotsComeFromTheProfile) {
  auto slots = [&](const std::string& snap, std::vector<std::string> extra, std::string* err = nullptr) {
    std::vector<std::string> args = {"LP_HW_ROOT=" + snapshot(snap), "timeout", "-s", "TERM", "3", run_.string(), "serve",
                                     "-m", model(), "--port", "0", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run("/usr/bin/env", args);
    if (err) *err = r.err;
    const auto line = r.out.substr(0, r.out.find('\n'));
    if (line.empty()) ADD_FAILURE() << snap << ": no startup line; " << r.err;
    return line.empty() ? -1 : nlohmann::json::parse(line).at("parallel").get<int>();
  };
  EXPECT_EQ(slots("intel-hybrid-i7-12700", {}), 1) << "x86_hybrid: one slot";
  EXPECT_EQ(slots("epyc-2core-avx512-vm", {}), 4) << "x86_avx512_vnni: four";
  EXPECT_EQ(slots("epyc-2core-avx512-vm", {"--parallel", "3"}), 3) << "an explicit --parallel wins";
  std::string err;
  // The container (107 MB usable): x86_avx2's two slots of 32,768 cells do not fit, one does.
  EXPECT_EQ(slots("container-2gib-cgroup2", {"--ctx", "32768", "--cache-type", "f16"}, &err), 1);
  EXPECT_NE(err.find("--parallel 1: the profile's 2 slots of ctx 32768 do not fit"), std::string::npos) << err;
}

}  // namespace
}  // namespace lp::testcli
