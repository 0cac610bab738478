// What `convert`, `detect` and `bench` do with a request, run through the real executables on the trained
// tiny-qwen3 fixture (issue #11): --precision infers formats and never silently drops part of a request,
// mxfp4_moe is refused on a dense model, a non-empty output needs --force and is then replaced as a whole,
// --target-size bounds the whole file, `--precision auto` without --calibration warns, `convert --validate`
// passes its corpus/ctx/chunks through and prints plain progress, Ollama Modelfiles sit next to each GGUF,
// `detect` ends with a command and a memory fit, `bench --json` names what it measured.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "cli_helpers.h"
#include "peer_skip.h"

namespace lp::testcli {
namespace {

fs::path fixture(const std::string& name) { return fs::path(LP_SHARED_FIXTURES) / name; }

class PipelineRequests : public ::testing::Test {
 protected:
  void SetUp() override {
    quant_ = binary("llama-pajamas-quant");
    if (quant_.empty()) LP_SKIP_OR_FAIL("llama-pajamas-quant not built next to this test (../apps/)");
    if (!fs::exists(model() / "model.safetensors")) LP_SKIP_OR_FAIL("fixture missing: " << model());
  }
  static fs::path model() { return fixture("tiny-qwen3"); }
  RunResult convert(const fs::path& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"convert", model().string(), "-o", out.string(), "-q", "-t", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(quant_, args);
  }
  static std::vector<std::string> artifacts(const fs::path& out) {
    const auto m = nlohmann::json::parse(read_file(out / "manifest.json"));
    std::vector<std::string> v;
    for (const auto& f : m["formats"]) v.push_back(f["format"].get<std::string>() + ":" + f["precision"].get<std::string>());
    return v;
  }
  // A refused request: exit 1, one "error: " line naming `what`, and no output folder.
  void expect_refused(const RunResult& r, const fs::path& out, const std::string& what) {
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
  }
  fs::path quant_;
  ScratchDir work_{"lp-pipeline-requests-"};
};

TEST_F(PipelineRequests, PrecisionNamesPickTheFormats) {
  // mlx-lm's spelling alone writes the MLX artifact.
  RunResult r = convert(work_ / "a", {"--precision", "4bit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(artifacts(work_ / "a"), std::vector<std::string>{"mlx:4bit-mixed"});
  EXPECT_FALSE(fs::exists(work_ / "a" / "gguf"));
  // GGUF:MLX without --formats writes both.
  r = convert(work_ / "b", {"--precision", "q4_k_m:4bit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(artifacts(work_ / "b"), (std::vector<std::string>{"gguf:Q4_K_M", "mlx:4bit-mixed"}));
  // Natural pairings and mixed lists.
  r = convert(work_ / "c", {"--precision", "q4_k_m:4bit,q8_0:8bit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(artifacts(work_ / "c"), (std::vector<std::string>{"gguf:Q4_K_M", "gguf:Q8_0", "mlx:4bit-mixed", "mlx:8bit-mixed"}));
  r = convert(work_ / "d", {"--precision", "q8_0,3bit"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(artifacts(work_ / "d"), (std::vector<std::string>{"gguf:Q8_0", "mlx:3bit-mixed"}));
  // No precision, no formats: GGUF Q4_K_M as before.
  r = convert(work_ / "e", {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(artifacts(work_ / "e"), std::vector<std::string>{"gguf:Q4_K_M"});
}

TEST_F(PipelineRequests, FormatsThatExcludePartOfThePrecisionAreAnError) {
  expect_refused(convert(work_ / "out", {"--formats", "gguf", "--precision", "q4_k_m:4bit"}), work_ / "out", "--formats has no mlx");
  expect_refused(convert(work_ / "out", {"--formats", "mlx", "--precision", "q4_k_m,4bit"}), work_ / "out", "--formats has no gguf");
  expect_refused(convert(work_ / "out", {"--formats", "gguf,mlx", "--precision", "q8_0"}), work_ / "out", "names no MLX precision");
  expect_refused(convert(work_ / "out", {"--precision", "4bit:q4_k_m"}), work_ / "out", "'4bit' in '4bit:q4_k_m' is an MLX precision");
  expect_refused(convert(work_ / "out", {"--precision", "q9_k"}), work_ / "out", "unknown precision 'q9_k'");
}

TEST_F(PipelineRequests, Mxfp4MoeOnADenseModelIsRefusedWithTheReason) {
  expect_refused(convert(work_ / "out", {"--precision", "mxfp4_moe"}), work_ / "out", "the model is dense");
}

TEST_F(PipelineRequests, NonEmptyOutputNeedsForceAndIsThenReplacedWhole) {
  const fs::path out = work_ / "out";
  ASSERT_EQ(convert(out, {"--precision", "q8_0,4bit"}).exit_code, 0);
  write_file(out / "VALIDATION.md", "# old\n");
  write_file(out / "validation.json", "{}\n");
  const std::string manifest = read_file(out / "manifest.json");

  RunResult r = convert(out, {"--precision", "q4_k_m"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(out / "manifest.json"), manifest);  // untouched
  EXPECT_TRUE(fs::exists(out / "VALIDATION.md"));

  r = convert(out, {"--precision", "q4_k_m", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(list_dir(out), (std::vector<std::string>{"gguf", "manifest.json"}));
  EXPECT_EQ(list_dir(out / "gguf"), (std::vector<std::string>{"metadata.json", "tiny-qwen3-q4_k_m.Modelfile", "tiny-qwen3-q4_k_m.gguf"}));
  EXPECT_EQ(artifacts(out), std::vector<std::string>{"gguf:Q4_K_M"});
  EXPECT_EQ(list_dir(work_.path()), std::vector<std::string>{"out"}) << "staging or replaced folders left behind";
}

// llama.cpp's Q4_K_M file of tiny-qwen3 is 2,894,560 bytes: a budget of exactly that bounds the whole file.
TEST_F(PipelineRequests, TargetSizeBoundsTheWholeFile) {
  const uint64_t budget = 2'894'560;
  const RunResult r = convert(work_ / "out", {"--precision", "auto", "--target-size", std::to_string(budget)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::path gguf;
  for (const auto& e : fs::directory_iterator(work_ / "out" / "gguf"))
    if (e.path().extension() == ".gguf") gguf = e.path();
  ASSERT_FALSE(gguf.empty());
  const uint64_t size = fs::file_size(gguf);
  std::printf("target %llu bytes: file %llu bytes (%.2f%%)\n", static_cast<unsigned long long>(budget), static_cast<unsigned long long>(size),
              100.0 * static_cast<double>(size) / static_cast<double>(budget));
  EXPECT_LE(size, budget);
  EXPECT_GE(static_cast<double>(size), 0.97 * static_cast<double>(budget)) << "budget badly under-used";
  EXPECT_NE(r.out.find("of the 2,894,560-byte --target-size budget"), std::string::npos) << r.out;
  // Without --calibration the fallback is named.
  EXPECT_NE(r.err.find("warning: --precision auto without --calibration"), std::string::npos) << r.err;
}

TEST_F(PipelineRequests, ValidateOptionsPassThroughWithPlainProgress) {
  const fs::path out = work_ / "out";
  const RunResult r = convert(out, {"--precision", "q8_0", "--validate", "--corpus", fixture("heldout.txt").string(), "--ctx", "64",
                                    "--chunks", "3"});
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 2) << r.err;
  // -q silences progress; the result line is printed as soon as the artifact is measured.
  EXPECT_NE(r.out.find("validated gguf Q8_0: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ship: "), std::string::npos) << r.out;
  const auto v = nlohmann::json::parse(read_file(out / "validation.json"));
  EXPECT_EQ(v["corpus"]["ctx"], 64);
  EXPECT_EQ(v["corpus"]["chunks"], 3);
  EXPECT_NE(v["corpus"]["name"].get<std::string>().find("heldout"), std::string::npos) << v["corpus"];

  // Without -q and with stderr not a terminal (captured here): plain progress lines.
  const RunResult p = run(quant_, {"convert", model().string(), "-o", (work_ / "p").string(), "--precision", "q8_0", "-t", "2", "--validate",
                                   "--corpus", fixture("heldout.txt").string(), "--ctx", "64", "--chunks", "2"});
  ASSERT_TRUE(p.exit_code == 0 || p.exit_code == 2) << p.err;
  EXPECT_NE(p.err.find("validate: chunk 2/2"), std::string::npos) << p.err;
  EXPECT_EQ(p.err.find('\r'), std::string::npos) << "terminal control characters in a log";

  // Validation flags without --validate are not silently ignored.
  expect_refused(convert(work_ / "q", {"--precision", "q8_0", "--ctx", "64"}), work_ / "q", "add --validate");
}

TEST_F(PipelineRequests, OllamaModelfileNextToEachGguf) {
  const fs::path out = work_ / "out";
  ASSERT_EQ(convert(out, {"--precision", "q8_0,q4_k_m"}).exit_code, 0);
  for (const char* stem : {"tiny-qwen3-q8_0", "tiny-qwen3-q4_k_m"}) {
    const fs::path mf = out / "gguf" / (std::string(stem) + ".Modelfile");
    ASSERT_TRUE(fs::exists(mf)) << mf;
    const std::string text = read_file(mf);
    // FROM names the GGUF beside it.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(text, m, std::regex("(^|\n)FROM \\./([^\n]+)\n"))) << text;
    EXPECT_EQ(m[2].str(), std::string(stem) + ".gguf");
    EXPECT_TRUE(fs::exists(out / "gguf" / m[2].str()));
    // The fixture's template is ChatML: one TEMPLATE """...""" block with the turn markers, and its stop token.
    const size_t open = text.find("TEMPLATE \"\"\""), close = text.find("\"\"\"", open + 12);
    ASSERT_NE(open, std::string::npos) << text;
    ASSERT_NE(close, std::string::npos) << text;
    const std::string tmpl = text.substr(open + 12, close - open - 12);
    EXPECT_NE(tmpl.find("<|im_start|>user"), std::string::npos);
    EXPECT_NE(tmpl.find("{{ .Content }}"), std::string::npos);
    EXPECT_EQ(std::count(tmpl.begin(), tmpl.end(), '{'), std::count(tmpl.begin(), tmpl.end(), '}'));
    EXPECT_NE(text.find("PARAMETER stop \"<|im_end|>\"\n"), std::string::npos) << text;
    // Every non-comment line outside the template is a Modelfile instruction.
    std::string rest = text.substr(0, open) + text.substr(close + 3);
    for (size_t s = 0, e; s < rest.size(); s = e + 1) {
      e = rest.find('\n', s);
      if (e == std::string::npos) e = rest.size();
      const std::string line = rest.substr(s, e - s);
      if (line.empty() || line[0] == '#') continue;
      EXPECT_TRUE(line.starts_with("FROM ") || line.starts_with("PARAMETER ")) << line;
    }
  }
  const auto meta = nlohmann::json::parse(read_file(out / "gguf" / "metadata.json"));
  EXPECT_EQ(meta["ollama"]["modelfile_template"], "ChatML");
}

TEST_F(PipelineRequests, DetectEndsWithACommandAndAMemoryFit) {
  RunResult r = run(quant_, {"detect", model().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nrun: llama-pajamas-quant convert " + model().string() + " -o "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory: "), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("Q4_K_M +(fits|does not fit)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("Q8_0 +(fits|does not fit)"))) << r.out;
  r = run(quant_, {"detect", model().string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["recommended_command"].get<std::string>().starts_with("llama-pajamas-quant convert "));
  EXPECT_GT(j["memory"]["available_bytes"].get<uint64_t>(), 0u);
  for (const char* p : {"Q4_K_M", "Q8_0"}) {
    ASSERT_TRUE(j["memory"]["fits"].contains(p)) << p;
    EXPECT_TRUE(j["memory"]["fits"][p]["fits"].is_boolean());
    EXPECT_GT(j["memory"]["fits"][p]["weights_bytes"].get<uint64_t>(), 0u);
  }
  // A 4.2M-parameter model: Q8_0 weights are bigger than Q4_K_M's, and both fit any machine that runs this test.
  EXPECT_GT(j["memory"]["fits"]["Q8_0"]["weights_bytes"].get<uint64_t>(), j["memory"]["fits"]["Q4_K_M"]["weights_bytes"].get<uint64_t>());
  EXPECT_TRUE(j["memory"]["fits"]["Q4_K_M"]["fits"].get<bool>());
}

TEST_F(PipelineRequests, BenchJsonNamesWhatItMeasured) {
  const fs::path runb = binary("llama-pajamas-run");
  if (runb.empty()) LP_SKIP_OR_FAIL("llama-pajamas-run not built");
  const fs::path out = work_ / "out";
  ASSERT_EQ(convert(out, {"--precision", "q8_0:4bit"}).exit_code, 0);
  const std::vector<std::string> small = {"--prompt-tokens", "16", "-n", "4", "-r", "1", "-t", "1", "--json"};
  auto args = [&](std::vector<std::string> a) {
    a.insert(a.begin(), "bench");
    a.insert(a.end(), small.begin(), small.end());
    return a;
  };
  // A manifest folder: every artifact, each named.
  RunResult r = run(runb, args({"--model", out.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["artifacts"].size(), 2u) << r.out;
  EXPECT_EQ(j["artifacts"][0]["format"], "gguf");
  EXPECT_EQ(j["artifacts"][0]["precision"], "Q8_0");
  EXPECT_EQ(j["artifacts"][1]["format"], "mlx");
  EXPECT_EQ(j["artifacts"][1]["precision"], "4bit-mixed");
  for (const auto& a : j["artifacts"]) {
    EXPECT_TRUE(fs::exists(a["model"].get<std::string>())) << a["model"];
    EXPECT_TRUE(a["read_bandwidth_bytes_per_second"].is_null()) << "not measured: null, never 0";
    EXPECT_TRUE(a["decode_bandwidth_share"].is_null());
    EXPECT_GT(a["decode_tokens_per_second"].get<double>(), 0);
  }
  // --artifact picks one; one GGUF file gives one object with its format and precision.
  r = run(runb, args({"--model", out.string(), "--artifact", "4bit-mixed"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["artifacts"].size(), 1u);
  r = run(runb, args({"--model", (out / "gguf" / "tiny-qwen3-q8_0.gguf").string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "gguf");
  EXPECT_EQ(j["precision"], "Q8_0");
  EXPECT_EQ(j["model"], (out / "gguf" / "tiny-qwen3-q8_0.gguf").string());
  r = run(runb, args({"--model", out.string(), "--artifact", "q2_k"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Q8_0, 4bit-mixed"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lp::testcli
