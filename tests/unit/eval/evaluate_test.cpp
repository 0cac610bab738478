// `evaluate` end to end on the trained tiny-qwen3 fixture: the batched log-likelihood scoring (prefix once, one KV
// sequence per choice, all continuations in one pass) equals log-probs from a plain single-sequence evaluation, and a
// converted folder gets evaluation.json per artifact, a baseline row, a failed row for a broken artifact and the
// manifest entries.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "convert/convert.h"
#include "core/file_io.h"
#include "eval/evaluate.h"
#include "formats/manifest.h"
#include "llama_pajamas/runtime.h"
#include "peer_skip.h"
#include "plan/preset.h"

namespace lp::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kTinyQwen3 = fs::path(LP_SHARED_FIXTURES) / "tiny-qwen3";

const char* kSuite =
    R"({"id": "a", "category": "knowledge", "type": "multiple_choice", "question": "And the LORD said unto Moses,", "choices": [" Go in unto Pharaoh", " the cat sat on the mat"], "answer": 0})" "\n"
    R"({"id": "b", "category": "reasoning", "type": "multiple_choice", "question": "In the beginning God created ", "choices": ["the heaven and the earth.", "a spreadsheet.", "nothing at all, said he."], "answer": 0})" "\n"
    R"({"id": "c", "category": "math", "type": "multiple_choice", "question": "Blessed is the man that", "choices": [" walketh not", " 42 is", " computes", " plays chess"], "answer": 0})" "\n";

class EvaluateTiny : public ::testing::Test {
 protected:
  static inline fs::path work;
  static void SetUpTestSuite() {
    if (!fs::exists(kTinyQwen3 / "model.safetensors")) return;
    work = fs::temp_directory_path() / ("lp-evaluate-test-" + std::to_string(::getpid()));
    fs::remove_all(work);
    convert::ConvertOptions co;
    co.model = kTinyQwen3.string();
    co.output = work / "out";
    co.precision.gguf = {plan::Preset::F32};
    co.architecture_aware = false;
    co.progress = false;
    convert::convert(co);
    std::ofstream(work / "suite.jsonl") << kSuite;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!work.empty()) fs::remove_all(work, ec);
  }
  void SetUp() override {
    if (!fs::exists(kTinyQwen3 / "model.safetensors")) LP_SKIP_OR_FAIL("fixture tiny-qwen3 missing in " << kTinyQwen3.parent_path());
  }
  static fs::path gguf() {
    for (const auto& e : fs::directory_iterator(work / "out" / "gguf"))
      if (e.path().extension() == ".gguf") return e.path();
    return {};
  }
};

double log_prob(const float* row, int n_vocab, int token) {
  double mx = row[0], sum = 0;
  for (int i = 1; i < n_vocab; ++i) mx = std::max<double>(mx, row[i]);
  for (int i = 0; i < n_vocab; ++i) sum += std::exp(row[i] - mx);
  return row[token] - mx - std::log(sum);
}

TEST_F(EvaluateTiny, BatchedLoglikEqualsSingleSequenceLogProbs) {
  const Suite suite = parse_suite(kSuite, "suite.jsonl");
  Runtime rt = Runtime::open(gguf().string(), {.threads = 2});
  std::vector<const SuiteItem*> items;
  for (const auto& it : suite.items) items.push_back(&it);
  LoglikStats stats;
  const auto got = loglik_choices(rt, items, 2, &stats);
  ASSERT_EQ(got.size(), 3u);
  const int n_vocab = rt.info().n_vocab;
  for (size_t q = 0; q < items.size(); ++q) {
    std::string ctx = items[q]->question, moved;
    while (!ctx.empty() && ctx.back() == ' ') moved.insert(moved.begin(), ' '), ctx.pop_back();  // _encode_pair
    const auto ctoks = rt.tokenize(ctx, false, false);
    ASSERT_EQ(got[q].logliks.size(), items[q]->choices.size());
    for (size_t c = 0; c < items[q]->choices.size(); ++c) {
      const auto whole = rt.tokenize(ctx + moved + items[q]->choices[c], false, false);
      const std::vector<float> logits = rt.evaluate(whole);  // one sequence from an empty context
      double want = 0;
      for (size_t p = ctoks.size(); p < whole.size(); ++p) want += log_prob(&logits[(p - 1) * n_vocab], n_vocab, whole[p]);
      EXPECT_EQ(got[q].continuation_tokens[c], static_cast<int>(whole.size() - ctoks.size()));
      EXPECT_NEAR(got[q].logliks[c], want, 1e-4) << items[q]->id << " choice " << c;
    }
  }
  EXPECT_GT(stats.tokens, 0);
  // The trained model prefers the Bible's own words.
  for (const auto& r : got) EXPECT_EQ(std::max_element(r.logliks.begin(), r.logliks.end()) - r.logliks.begin(), 0);
}

TEST_F(EvaluateTiny, FolderWritesEvaluationsBaselineAndFailedRow) {
  const fs::path dir = work / "folder";
  fs::remove_all(dir);
  fs::copy(work / "out", dir, fs::copy_options::recursive);
  // A second artifact the runtime cannot open.
  std::ofstream(dir / "gguf" / "broken.gguf") << "GGUF but not really";
  formats::Manifest m = formats::Manifest::read(dir / "manifest.json");
  m.formats.push_back({"gguf", "Q4_K_M", "gguf/broken.gguf", 19, 4.5, "", ""});
  m.write(dir / "manifest.json");

  EvaluateOptions o;
  o.model = dir.string();
  o.suite = (work / "suite.jsonl").string();
  o.method = "loglik";
  o.threads = 2;
  o.progress = false;
  const EvaluateRun run = evaluate_and_record(o);
  ASSERT_EQ(run.results.size(), 3u);  // F32, broken, baseline
  EXPECT_TRUE(run.any_failed());

  const json f32 = read_json_file(dir / "gguf" / (gguf().stem().string() + ".evaluation.json"));
  EXPECT_EQ(f32["schema"], "llama-pajamas/evaluation");
  EXPECT_EQ(f32["version"], 1);
  EXPECT_TRUE(f32["failed"].is_null());
  EXPECT_EQ(f32["method"], "loglik");
  EXPECT_EQ(f32["artifact"]["format"], "gguf");
  EXPECT_EQ(f32["artifact"]["precision"], "F32");
  EXPECT_EQ(f32["suite"]["questions"], 3);
  EXPECT_EQ(f32["overall"]["total"], 3);
  EXPECT_EQ(f32["overall"]["correct"], 3);
  EXPECT_EQ(f32["categories"]["math"]["total"], 1);
  EXPECT_EQ(f32["items"][2]["logliks"].size(), 4u);
  EXPECT_GT(f32["speed"]["prefill_tok_s"].get<double>(), 0);
  EXPECT_TRUE(f32["speed"]["decode_tok_s"].is_null());  // nothing generated
  EXPECT_GT(f32["speed"]["peak_rss_bytes"].get<uint64_t>(), 0u);

  const json broken = read_json_file(dir / "gguf" / "broken.evaluation.json");
  ASSERT_TRUE(broken["failed"].is_string());
  EXPECT_NE(broken["failed"].get<std::string>().find("broken.gguf"), std::string::npos);

  const json base = read_json_file(dir / "original.evaluation.json");
  EXPECT_TRUE(base["failed"].is_null());
  EXPECT_EQ(base["artifact"]["format"], "hf");
  EXPECT_EQ(base["artifact"]["baseline"], true);

  const formats::Manifest after = formats::Manifest::read(dir / "manifest.json");
  EXPECT_EQ(after.formats[0].evaluation, "gguf/" + gguf().stem().string() + ".evaluation.json");
  EXPECT_EQ(after.formats[1].evaluation, "gguf/broken.evaluation.json");
  EXPECT_EQ(after.sections["evaluation"]["baseline"], "original.evaluation.json");
  EXPECT_EQ(after.sections["evaluation"]["suite_sha256"], f32["suite"]["sha256"]);
}

}  // namespace
}  // namespace lp::eval
