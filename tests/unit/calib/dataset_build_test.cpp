#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "calib/dataset.h"
#include "core/sha256.h"
#include "core/error.h"
#include "peer_skip.h"
#include "scratch_path.h"

namespace fs = std::filesystem;
using lp::calib::BuildOptions;
using lp::calib::build_calibration;
using lp::calib::load_calibration;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

class CalibBuild : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = lp::test::scratch_path(std::string("lp_calib_test_") +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  BuildOptions opts(const std::string& sub) {
    BuildOptions o;
    o.output = (root_ / sub).string();
    o.samples = 60;
    o.seed = 7;
    return o;
  }
  fs::path root_;
};

const char* kFiles[] = {"train.jsonl", "test.jsonl", "train.txt", "test.txt", "metadata.json"};

}  // namespace

TEST(SplitMix64, PortableSequence) {
  // Reference values of SplitMix64 seeded with 0 (Vigna's reference implementation).
  lp::calib::SplitMix64 r(0);
  EXPECT_EQ(r.next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(r.next(), 0x6E789E6AA1B965F4ULL);
  lp::calib::SplitMix64 b(3);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(b.below(7), 7u);
}

TEST_F(CalibBuild, SameSeedSameBytesDifferentSeedDiffers) {
  auto a = opts("a"), b = opts("b"), c = opts("c");
  c.seed = 8;
  build_calibration(a);
  build_calibration(b);
  build_calibration(c);
  for (const char* f : kFiles) EXPECT_EQ(slurp(root_ / "a" / f), slurp(root_ / "b" / f)) << f;
  EXPECT_NE(slurp(root_ / "a" / "train.jsonl"), slurp(root_ / "c" / "train.jsonl"));
}

TEST_F(CalibBuild, BalancedDomainsAndSplitRatio) {
  auto o = opts("out");
  o.samples = 60;
  o.split = 0.75;
  const auto r = build_calibration(o);
  ASSERT_EQ(r.train.samples.size() + r.test.samples.size(), 60u);
  EXPECT_EQ(r.test.samples.size(), 15u);
  std::map<std::string, int> per_domain;
  for (const auto& s : r.train.samples) ++per_domain[s.domain];
  for (const auto& s : r.test.samples) ++per_domain[s.domain];
  ASSERT_EQ(per_domain.size(), lp::calib::known_domains().size());
  for (const auto& [d, n] : per_domain) EXPECT_EQ(n, 10) << d;
  // Every domain is represented in the test split too (stratified).
  std::map<std::string, int> test_domains;
  for (const auto& s : r.test.samples) ++test_domains[s.domain];
  EXPECT_EQ(test_domains.size(), per_domain.size());
  EXPECT_EQ(r.metadata["train"]["samples"].get<int64_t>(), 45);
}

TEST_F(CalibBuild, DomainSubsetAndNoDuplicates) {
  auto o = opts("out");
  o.domains = {"code", "prose"};
  o.samples = 20;
  const auto r = build_calibration(o);
  std::set<std::string> ids;
  for (const auto* set : {&r.train, &r.test})
    for (const auto& s : set->samples) {
      EXPECT_TRUE(s.domain == "code" || s.domain == "prose") << s.domain;
      EXPECT_TRUE(ids.insert(s.id).second) << "duplicate " << s.id;
      EXPECT_FALSE(s.text.empty());
    }
  EXPECT_EQ(ids.size(), 20u);
}

TEST_F(CalibBuild, MetadataHashesVerify) {
  auto o = opts("out");
  build_calibration(o);
  const auto meta = nlohmann::json::parse(slurp(root_ / "out" / "metadata.json"));
  for (const char* f : {"train.jsonl", "test.jsonl", "train.txt", "test.txt"})
    EXPECT_EQ(meta["files"][f].get<std::string>(), lp::sha256_hex(slurp(root_ / "out" / f))) << f;
  EXPECT_EQ(meta["seed"].get<uint64_t>(), 7u);
  EXPECT_EQ(meta["source"]["builtin_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(meta["rendering"], "plain");
  EXPECT_TRUE(meta["train"]["tokens"].is_null());
}

TEST_F(CalibBuild, PlainRenderingOfToolCalls) {
  auto o = opts("out");
  o.domains = {"tool_calling"};
  o.samples = 5;
  const auto r = build_calibration(o);
  int with_tools = 0, with_calls = 0, with_results = 0;
  for (const auto* set : {&r.train, &r.test})
    for (const auto& s : set->samples) {
      EXPECT_EQ(s.text.rfind("Available tools:", 0), 0u) << s.text;
      with_tools += s.text.find("Available tools:") != std::string::npos;
      with_calls += s.text.find("\nAssistant:\n<tool_call>{\"name\":") != std::string::npos;
      with_results += s.text.find("\n\nTool result (") != std::string::npos;
    }
  EXPECT_EQ(with_tools, 5);
  EXPECT_GE(with_calls, 3);
  EXPECT_GE(with_results, 3);
}

TEST_F(CalibBuild, TrainTextRoundTripsThroughLoader) {
  auto o = opts("out");
  const auto r = build_calibration(o);
  const auto from_txt = load_calibration((root_ / "out" / "train.txt").string());
  ASSERT_EQ(from_txt.samples.size(), r.train.samples.size());
  for (size_t i = 0; i < from_txt.samples.size(); ++i) EXPECT_EQ(from_txt.samples[i].text, r.train.samples[i].text);
  const auto from_dir = load_calibration((root_ / "out").string());
  ASSERT_EQ(from_dir.samples.size(), r.train.samples.size());
  EXPECT_EQ(from_dir.samples[0].id, r.train.samples[0].id);
  EXPECT_EQ(from_dir.samples[0].domain, r.train.samples[0].domain);
}

TEST_F(CalibBuild, LoadsTxtJsonlAndFolders) {
  spit(root_ / "a.txt", "first paragraph\nline two\n\nstill first\n\n\n\nsecond sample\n");
  spit(root_ / "b.jsonl", "\"plain string\"\n{\"text\": \"object text\", \"id\": \"x1\"}\n\n");
  const auto txt = load_calibration((root_ / "a.txt").string());
  ASSERT_EQ(txt.samples.size(), 2u);
  EXPECT_EQ(txt.samples[0].text, "first paragraph\nline two\n\nstill first");
  EXPECT_EQ(txt.samples[1].text, "second sample");
  const auto jl = load_calibration((root_ / "b.jsonl").string());
  ASSERT_EQ(jl.samples.size(), 2u);
  EXPECT_EQ(jl.samples[1].id, "x1");
  const auto dir = load_calibration(root_.string());
  ASSERT_EQ(dir.samples.size(), 4u);  // a.txt (2) then b.jsonl (2), by name
  EXPECT_EQ(dir.samples[2].text, "plain string");
}

TEST_F(CalibBuild, ExtraFilesBecomeUserSamples) {
  spit(root_ / "mine.txt", "user sample one\n\n\nuser sample two\n\n\nuser sample three\n\n\nfour\n");
  auto o = opts("out");
  o.extra = {(root_ / "mine.txt").string()};
  const auto r = build_calibration(o);
  int user = 0;
  for (const auto* set : {&r.train, &r.test})
    for (const auto& s : set->samples) user += s.domain == "user";
  EXPECT_EQ(user, 4);
  EXPECT_EQ(r.metadata["source"]["extra_files"].size(), 1u);
}

TEST_F(CalibBuild, Errors) {
  auto expect_error = [&](BuildOptions o, const std::string& needle) {
    try {
      build_calibration(o);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const lp::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto o = opts("out");
  o.domains = {"poetry"};
  expect_error(o, "unknown domain 'poetry' (known: tool_calling, summarization, rag, code, chat, prose)");
  o = opts("out");
  o.samples = 0;
  expect_error(o, "--samples");
  o = opts("out");
  o.split = 1.0;
  expect_error(o, "--split");
  o.split = 0.0;
  expect_error(o, "--split");
  o = opts("out");
  o.extra = {(root_ / "missing.txt").string()};
  expect_error(o, "--extra");
  EXPECT_FALSE(fs::exists(root_ / "out"));
  EXPECT_THROW(load_calibration((root_ / "nothing").string()), lp::Error);
  spit(root_ / "bad.jsonl", "{\"text\": 3}\n");
  EXPECT_THROW(load_calibration((root_ / "bad.jsonl").string()), lp::Error);
  spit(root_ / "empty.txt", "\n\n");
  EXPECT_THROW(load_calibration((root_ / "empty.txt").string()), lp::Error);
}

TEST_F(CalibBuild, ChatTemplateAndTokensWithTinyQwen3) {
  const fs::path model = fs::path(LP_SHARED_FIXTURES) / "tiny-qwen3";
  if (!fs::exists(model / "tokenizer.json")) LP_SKIP_OR_FAIL("fixture missing: " << model);
  auto o = opts("out");
  o.model = model.string();
  o.context_length = 64;
  const auto r = build_calibration(o);
  EXPECT_EQ(r.metadata["rendering"], "chat_template");
  bool saw_chat = false;
  for (const auto* set : {&r.train, &r.test})
    for (const auto& s : set->samples) {
      ASSERT_TRUE(s.tokens.has_value());
      EXPECT_LE(*s.tokens, 64) << s.id;
      EXPECT_GT(*s.tokens, 0) << s.id;
      if (s.domain == "chat" || s.domain == "tool_calling") {
        saw_chat = true;
        EXPECT_EQ(s.text.rfind("<|im_start|>", 0), 0u) << s.text;
      }
    }
  EXPECT_TRUE(saw_chat);
  EXPECT_GT(r.metadata["trimmed_samples"].get<int64_t>(), 0);
  EXPECT_GT(r.metadata["train"]["tokens"].get<int64_t>(), 0);
  // Token counts survive the JSONL round trip.
  const auto loaded = load_calibration((root_ / "out").string());
  EXPECT_EQ(loaded.samples[0].tokens, r.train.samples[0].tokens);
}

// Real chat templates (tests/data/templates) with the fixture's tokenizer: Qwen3 renders tool turns
// natively; Gemma 3 rejects the "tool" role, so tool turns are flattened to text and still templated.
TEST_F(CalibBuild, ToolTurnsWithRealTemplates) {
  const fs::path tok = fs::path(LP_SHARED_FIXTURES) / "tiny-qwen3";
  if (!fs::exists(tok / "tokenizer.json")) LP_SKIP_OR_FAIL("fixture missing: " << tok);
  auto make_model = [&](const std::string& name) {
    const fs::path dir = root_ / ("model_" + name);
    fs::create_directories(dir);
    fs::copy_file(tok / "tokenizer.json", dir / "tokenizer.json");
    fs::copy_file(tok / "tokenizer_config.json", dir / "tokenizer_config.json");
    fs::copy_file(fs::path(LP_SOURCE_DIR) / "tests/data/templates" / (name + ".jinja"), dir / "chat_template.jinja");
    return dir.string();
  };
  auto o = opts("qwen3");
  o.model = make_model("qwen3");
  o.domains = {"tool_calling"};
  o.samples = 10;
  auto r = build_calibration(o);
  EXPECT_EQ(r.metadata["template_flattened"].get<int64_t>(), 0);
  EXPECT_EQ(r.metadata["template_fallbacks"].get<int64_t>(), 0);
  int native = 0;
  for (const auto& s : r.train.samples) {
    EXPECT_NE(s.text.find("<tools>"), std::string::npos) << s.text;
    native += s.text.find("<tool_response>") != std::string::npos;
  }
  EXPECT_GT(native, 0);

  o = opts("gemma3");
  o.model = make_model("gemma3");
  o.domains = {"tool_calling"};
  o.samples = 10;
  r = build_calibration(o);
  EXPECT_GT(r.metadata["template_flattened"].get<int64_t>(), 0);
  EXPECT_EQ(r.metadata["template_fallbacks"].get<int64_t>(), 0);
  for (const auto& s : r.train.samples) EXPECT_NE(s.text.find("<start_of_turn>model"), std::string::npos) << s.text;
}

TEST(CalibBuiltin, BuiltinNamesTheEmbeddedMaterialOfEveryDomain) {
  const auto set = load_calibration(lp::calib::kBuiltinCalibration);
  const auto all = lp::calib::builtin_calibration_samples();
  ASSERT_FALSE(set.samples.empty());
  EXPECT_EQ(set.samples.size(), all.samples.size());
  std::set<std::string> domains;
  for (const auto& s : set.samples) domains.insert(s.domain);
  EXPECT_EQ(domains.size(), lp::calib::known_domains().size());
}
