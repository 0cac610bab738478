// What a llama.cpp / mlx-lm user types, run through the real executables on a tiny generated model converted
// to a pipeline output folder: llama.cpp spellings (--ctx-size, --n-predict, -f, a positional prompt, -ngl),
// chat's local /commands, tokenize/template/inspect on a manifest folder, the make-test-model rename.
#include <gtest/gtest.h>

#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <memory>

#include "cli_helpers.h"
#include "peer_skip.h"
#include "llama_pajamas/runtime.h"

namespace lp::testcli {
namespace {

class CliUx : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    quant_ = binary("llama-pajamas-quant");
    run_ = binary("llama-pajamas-run");
    if (quant_.empty() || run_.empty()) return;
    dir_ = std::make_unique<ScratchDir>("lp-cli-ux-");
    RunResult r = run(quant_, {"make-test-model", "--family", "qwen3", "-q", "-o", (dir_->path() / "tiny-hf").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << "-q must silence make-test-model: " << r.err;
    r = run(quant_, {"convert", (dir_->path() / "tiny-hf").string(), "-o", out().string(), "--precision", "q8_0", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (quant_.empty() || run_.empty()) LP_SKIP_OR_FAIL("tools not built next to this test (../apps/)");
  }
  static fs::path out() { return dir_->path() / "out"; }
  static fs::path hf() { return dir_->path() / "tiny-hf"; }

  static inline fs::path quant_, run_;
  static inline std::unique_ptr<ScratchDir> dir_;
};

TEST_F(CliUx, ChatHelpIsLocal) {
  // Greedy and 4 tokens: if /help reached the model, stdout would hold a reply.
  const RunResult r = run(run_, {"chat", "-m", out().string(), "-n", "4", "--temp", "0"}, "/help\n/xyz\n/exit\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "") << "a command reached the model";
  for (const char* cmd : {"/help", "/reset", "/exit"}) EXPECT_NE(r.err.find(cmd), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown command /xyz"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("tok/s"), std::string::npos) << "a generation ran: " << r.err;
}

TEST_F(CliUx, ChatMessagesStillReachTheModel) {
  const RunResult r = run(run_, {"chat", "-m", out().string(), "-n", "3", "--temp", "0", "--ignore-eos"}, "//help me\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << "'//text' must be sent as a message: " << r.err;
}

TEST_F(CliUx, TokenizeTemplateInspectAcceptAManifestFolder) {
  const RunResult direct = run(run_, {"tokenize", "-m", hf().string(), "--text", "Hello world", "--json"});
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  const RunResult viaManifest = run(run_, {"tokenize", "-m", out().string(), "--text", "Hello world", "--json"});
  ASSERT_EQ(viaManifest.exit_code, 0) << viaManifest.err;
  EXPECT_EQ(viaManifest.out, direct.out);

  ScratchDir tmp;
  write_file(tmp / "m.json", R"([{"role":"user","content":"Hi"}])");
  const RunResult t = run(run_, {"template", "-m", out().string(), "--messages", (tmp / "m.json").string(),
                                 "--add-generation-prompt"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("Hi"), std::string::npos) << t.out;

  const RunResult i = run(quant_, {"inspect", out().string(), "--json", "--no-tensors"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("\"format\": \"gguf\""), std::string::npos) << i.out.substr(0, 400);
}

TEST_F(CliUx, ModelNameComesFromTheManifest) {
  EXPECT_EQ(lp::model_name(out().string()), "tiny-hf");  // the source model's id, not the folder name "out"
  EXPECT_EQ(lp::model_name(out().string() + "/"), "tiny-hf");
  EXPECT_EQ(lp::model_name("/x/y/model.Q4_K_M.gguf"), "model.Q4_K_M");
}

// `serve` on a manifest folder: /v1/models names the model from manifest.json ("tiny-hf"), not the folder ("out").
TEST_F(CliUx, ServeReportsTheManifestModelName) {
  const std::string cmd = "sh -c 'echo $$; exec \"" + run_.string() + "\" serve -m \"" + out().string() +
                          "\" --port 0 --json -t 1 2>/dev/null'";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  int pid = 0;
  if (std::fgets(buf, sizeof buf, p)) pid = std::atoi(buf);
  ASSERT_GT(pid, 0);
  std::string first;
  if (std::fgets(buf, sizeof buf, p)) first = buf;  // {"host":..., "port":..., "model":...}
  nlohmann::json started = nlohmann::json::parse(first, nullptr, false);
  std::string listed;
  if (!started.is_discarded() && started.contains("port")) {
    httplib::Client c("127.0.0.1", started["port"].get<int>());
    c.set_read_timeout(30, 0);
    if (auto res = c.Get("/v1/models"); res && res->status == 200) listed = res->body;
  }
  ::kill(pid, SIGTERM);
  while (std::fgets(buf, sizeof buf, p)) {
  }
  ::pclose(p);
  ASSERT_FALSE(started.is_discarded()) << first;
  EXPECT_EQ(started["model"], "tiny-hf");
  const auto models = nlohmann::json::parse(listed, nullptr, false);
  ASSERT_FALSE(models.is_discarded()) << listed;
  ASSERT_FALSE(models["data"].empty()) << listed;
  EXPECT_EQ(models["data"][0]["id"], "tiny-hf") << listed;
}

TEST_F(CliUx, LlamaCppSpellings) {
  ScratchDir tmp;
  write_file(tmp / "prompt.txt", "Once upon a time");
  const std::vector<std::string> common = {"--temp", "0", "--ignore-eos", "--json", "-m", out().string()};
  auto gen = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"generate"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), common.begin(), common.end());
    return run(run_, args);
  };
  const RunResult base = gen({"-p", "Once upon a time", "-n", "5", "-c", "64"});
  ASSERT_EQ(base.exit_code, 0) << base.err;
  const auto want = nlohmann::json::parse(base.out);
  EXPECT_EQ(want["tokens"].size(), 5u);
  for (const auto& variant : std::vector<std::vector<std::string>>{
           {"Once upon a time", "--n-predict", "5", "--ctx-size", "64"},
           {"-f", (tmp / "prompt.txt").string(), "-n", "5", "-c", "64"},
           {"-p", "Once upon a time", "-n", "5", "-c", "64", "-ngl", "99"},
           {"-p", "Once upon a time", "-n", "5", "-c", "64", "--n-gpu-layers", "0"}}) {
    const RunResult r = gen(variant);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"], want["tokens"]) << variant[0];
  }
  const RunResult ngl = gen({"-p", "x", "-n", "1", "-ngl", "99"});
  ASSERT_EQ(ngl.exit_code, 0) << ngl.err;
  EXPECT_NE(ngl.err.find("note: --n-gpu-layers 99 ignored"), std::string::npos) << ngl.err;
  EXPECT_EQ(std::count(ngl.err.begin(), ngl.err.end(), '\n'), 1) << ngl.err;

  const RunResult both = gen({"positional", "-p", "flag", "-n", "1"});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_EQ(both.err.rfind("error: ", 0), 0u) << both.err;
  const RunResult typo = gen({"-p", "x", "--ctx-sz=64"});
  EXPECT_NE(typo.exit_code, 0);
  EXPECT_EQ(typo.err.rfind("error: ", 0), 0u) << typo.err;
  EXPECT_NE(typo.err.find("did you mean --ctx-size?"), std::string::npos) << typo.err;

  const RunResult none = gen({"-n", "1"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("prompt"), std::string::npos) << none.err;
}

TEST_F(CliUx, MakeTestModelAndItsDeprecatedName) {
  ScratchDir tmp;
  const RunResult old = run(quant_, {"generate", "--family", "llama", "--layers", "1", "-q", "-o", (tmp / "a").string()});
  ASSERT_EQ(old.exit_code, 0) << old.err;
  EXPECT_EQ(old.err, "note: 'generate' is deprecated; use 'make-test-model'\n");
  EXPECT_TRUE(fs::exists(tmp / "a" / "config.json"));
  const RunResult help = run(quant_, {"--help"});
  EXPECT_NE(help.out.find("make-test-model"), std::string::npos);
  EXPECT_EQ(help.out.find(" generate "), std::string::npos) << "the deprecated name must be hidden:\n" << help.out;
}

TEST_F(CliUx, DeprecatedShortPrecisionStillWorks) {
  ScratchDir tmp;
  const RunResult r = run(quant_, {"plan", hf().string(), "-p", "q8_0", "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("note: -p is deprecated; use --precision"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lp::testcli
