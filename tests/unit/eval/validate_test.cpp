// End-to-end validation on the trained tiny-qwen3 fixture: the KLD ordering across presets, an F32
// re-export that must match the original exactly, a damaged artifact that must fail its gate, and the
// refusals (short corpus, other model) that must leave the manifest untouched.
#include "eval/validate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

#include "convert/convert.h"
#include "core/error.h"
#include "eval/artifacts.h"
#include "eval/corpus.h"
#include "formats/gguf.h"
#include "peer_skip.h"
#include "scratch_path.h"

namespace lp::eval {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = LP_SHARED_FIXTURES;
const fs::path kTiny = kFixtures / "tiny-qwen3";
const fs::path kHeldout = kFixtures / "heldout.txt";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ctest runs every test case in its own process, so a suite-wide set-up would convert every artifact in each of them
// (six conversions, 4-6 s under ASan, in nine processes); each test converts only what it reads, once per process.
class ValidateTiny : public ::testing::Test {
 protected:
  static inline fs::path work;
  static inline std::set<std::string> converted;
  static void SetUpTestSuite() {
    work = test::scratch_path("lp-eval-test");
    fs::create_directories(work);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!work.empty()) fs::remove_all(work, ec);
    converted.clear();
  }
  // work/<name>: the tiny-qwen3 fixture converted to `presets` with llama.cpp's own mixes (architecture rules off,
  // comparable with the fixture README).
  static fs::path artifacts(const std::string& name, std::vector<plan::Preset> presets) {
    const fs::path dir = work / name;
    if (!converted.contains(name)) {
      convert::ConvertOptions co;
      co.model = kTiny.string();
      co.output = dir;
      co.precision.gguf = std::move(presets);
      co.architecture_aware = false;
      co.progress = false;
      convert::convert(co);
      converted.insert(name);
    }
    return dir;
  }
  static fs::path presets() {
    return artifacts("presets", {plan::Preset::Q8_0, plan::Preset::Q6_K, plan::Preset::Q4_K_M, plan::Preset::Q3_K_M, plan::Preset::Q2_K});
  }
  static fs::path f32() { return artifacts("f32", {plan::Preset::F32}); }
  // The Q8_0 file alone (the same file the presets' conversion writes: a preset's file does not depend on the others).
  static std::string q8_0() {
    const fs::path dir = artifacts("q8_0", {plan::Preset::Q8_0});
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.path().string().find("q8_0") != std::string::npos && e.path().extension() == ".gguf") return e.path().string();
    return {};
  }
  void SetUp() override {
    if (!fs::exists(kTiny / "model.safetensors") || !fs::exists(kHeldout)) LP_SKIP_OR_FAIL("fixture tiny-qwen3 / heldout.txt missing in " << kFixtures);
  }
  static ValidateOptions options(const fs::path& quantized, int64_t max_tokens = 16384) {
    ValidateOptions o;
    o.original = kTiny.string();
    o.quantized = quantized.string();
    o.corpus = kHeldout.string();
    o.ctx = 256;
    o.max_tokens = max_tokens;
    o.metrics = {true, true, false};
    o.progress = false;
    return o;
  }
};

// 16 chunks keep the test short; the 64-chunk numbers (reference.json's protocol) are in docs/VALIDATION.md.
TEST_F(ValidateTiny, KldOrderingFollowsBitWidth) {
  const ValidationReport r = validate(options(presets(), 4096));
  EXPECT_EQ(r.chunks, 16);
  EXPECT_EQ(r.scored_tokens, 16u * 127u);
  ASSERT_EQ(r.formats.size(), 5u);
  // The engine runs every one of these block types: none may be reported as SKIP.
  const char* order[] = {"Q8_0", "Q6_K", "Q4_K_M", "Q3_K_M", "Q2_K"};
  std::vector<const FormatReport*> ran;
  for (const char* name : order) {
    const auto it = std::find_if(r.formats.begin(), r.formats.end(), [&](const FormatReport& f) { return f.precision == name; });
    ASSERT_NE(it, r.formats.end()) << name;
    const FormatReport& f = *it;
    ASSERT_NE(f.status, "SKIP") << name << ": " << f.skip_reason;
    std::printf("%-7s ppl %.4f (%+.3f%%) kld mean %.6f median %.6f p99 %.6f max %.4f top1 %.2f%%  %s\n", name,
                f.stats.perplexity, 100 * f.ppl_increase, f.stats.kld_mean, f.stats.kld_median, f.stats.kld_p99,
                f.stats.kld_max, 100 * f.stats.same_top1, f.status.c_str());
    EXPECT_EQ(f.status, "PASS") << name;
    if (!ran.empty()) {
      EXPECT_LT(ran.back()->stats.kld_mean, f.stats.kld_mean) << ran.back()->precision << " vs " << name;
      EXPECT_GE(ran.back()->stats.same_top1, f.stats.same_top1) << ran.back()->precision << " vs " << name;
    }
    ran.push_back(&f);
  }
  ASSERT_EQ(ran.size(), 5u);
  EXPECT_EQ(ran[0]->precision, "Q8_0");
  EXPECT_EQ(ran[2]->precision, "Q4_K_M");
  EXPECT_TRUE(r.all_pass());
}

TEST_F(ValidateTiny, F32ReexportIsIdenticalToTheOriginal) {
  const ValidationReport r = validate(options(f32(), 4096));
  ASSERT_EQ(r.formats.size(), 1u);
  const FormatReport& f = r.formats[0];
  EXPECT_EQ(f.precision, "F32");
  EXPECT_LT(f.stats.kld_mean, 1e-6);
  EXPECT_LT(f.stats.kld_max, 1e-5);
  EXPECT_DOUBLE_EQ(f.stats.same_top1, 1.0);
  EXPECT_NEAR(f.ppl_increase, 0.0, 1e-6);
  EXPECT_EQ(f.status, "PASS");
}

TEST_F(ValidateTiny, ZeroedTensorFailsTheGate) {
  // A Q8_0 copy whose layer-1 FFN down projection is all zero bytes (zero scales: the tensor is zero).
  const std::string q8 = q8_0();
  ASSERT_FALSE(q8.empty());
  const std::string damaged = (work / "damaged-q8_0.gguf").string();
  {
    const auto g = formats::GgufFile::open(q8);
    const auto& t = g.require_tensor("blk.1.ffn_down.weight");
    std::string bytes = slurp(q8);
    std::memset(bytes.data() + g.data_offset() + t.offset, 0, t.nbytes);
    std::ofstream(damaged, std::ios::binary) << bytes;
  }
  const ValidationReport r = validate(options(damaged, 4096));
  ASSERT_EQ(r.formats.size(), 1u);
  const FormatReport& f = r.formats[0];
  std::printf("damaged Q8_0: ppl %+.2f%% kld mean %.5f top1 %.2f%%\n", 100 * f.ppl_increase, f.stats.kld_mean, 100 * f.stats.same_top1);
  EXPECT_EQ(f.precision, "Q8_0");
  EXPECT_EQ(f.status, "FAIL");
  EXPECT_FALSE(f.failures.empty());
  EXPECT_FALSE(r.all_pass());
}

TEST_F(ValidateTiny, ShortCorpusIsRefusedAndManifestUnchanged) {
  const fs::path dir = f32();
  const std::string before = slurp(dir / "manifest.json");
  const fs::path small = work / "small.txt";
  std::ofstream(small) << "In the beginning.\n";
  ValidateOptions o = options(dir);
  o.corpus = small.string();
  try {
    validate(o);
    FAIL() << "expected an error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("less than one chunk"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(dir / "manifest.json"), before);
  EXPECT_FALSE(fs::exists(dir / "validation.json"));
}

TEST_F(ValidateTiny, OutputsGoNextToTheManifest) {
  const fs::path dir = f32();
  const ValidationReport r = validate(options(dir, 1024));
  write_outputs((dir / "manifest.json").string(), r);
  const auto m = nlohmann::json::parse(slurp(dir / "manifest.json"));
  ASSERT_TRUE(m.contains("validation"));
  EXPECT_EQ(m["validation"]["corpus"]["sha256"], load_corpus(kHeldout.string()).sha256);
  EXPECT_EQ(m["validation"]["formats"][0]["status"], "PASS");
  EXPECT_TRUE(m.contains("formats"));  // the rest of the manifest is kept
  const auto v = nlohmann::json::parse(slurp(dir / "validation.json"));
  for (const char* k : {"format", "precision", "path", "size_bytes", "bpw", "perplexity", "ppl_increase", "kld_mean", "kld_median",
                        "kld_p99", "kld_max", "same_top1", "ppl_increase_error", "tokens_to_first_divergence", "status"})
    EXPECT_TRUE(v["formats"][0].contains(k)) << k;
  EXPECT_NE(slurp(dir / "VALIDATION.md").find("| Format |"), std::string::npos);
  EXPECT_NE(render_table(r).find("Same top-1"), std::string::npos);
  // One line says what to ship and by which rule.
  EXPECT_EQ(v["ship"]["path"], r.formats[0].path);
  EXPECT_NE(render_table(r).find("ship: " + r.formats[0].path), std::string::npos) << render_table(r);
}

TEST_F(ValidateTiny, GenerationIsComparedSideBySide) {
  ValidateOptions o = options(f32(), 256);
  o.metrics = {true, true, true};
  o.gen_tokens = 8;
  const ValidationReport r = validate(o);
  ASSERT_EQ(r.formats.size(), 1u);
  ASSERT_TRUE(r.formats[0].tokens_to_divergence.has_value());
  EXPECT_DOUBLE_EQ(*r.formats[0].tokens_to_divergence, 8.0);  // identical weights decode identically
  EXPECT_DOUBLE_EQ(*r.formats[0].identical_prefix, 1.0);
  // Identical weights: every paired NLL difference is 0, so ΔPPL is 0 ± 0 (not "within noise": there is none).
  ASSERT_TRUE(r.formats[0].ppl_increase_error.has_value());
  EXPECT_NEAR(r.formats[0].ppl_increase, 0.0, 1e-6);
  EXPECT_LT(*r.formats[0].ppl_increase_error, 1e-6);
  EXPECT_EQ(r.formats[0].samples.size(), 4u);
}

TEST_F(ValidateTiny, ArtifactFromAnotherModelIsRefused) {
  const fs::path other = kFixtures / "tiny-gemma3";
  if (!fs::exists(other / "model.safetensors")) LP_SKIP_OR_FAIL("tiny-gemma3 fixture missing");
  convert::ConvertOptions co;
  co.model = other.string();
  co.output = work / "gemma3";
  co.precision.gguf = {plan::Preset::Q8_0};
  co.progress = false;
  convert::convert(co);
  const std::string before = slurp(work / "gemma3" / "manifest.json");
  try {
    validate(options(work / "gemma3", 1024));
    FAIL() << "expected an error";
  } catch (const lp::Error& e) {
    const std::string msg = e.what();
    // The engine runs gemma3, so the refusal is validate's own check, naming the artifact and the mismatch.
    std::printf("refused: %s\n", msg.c_str());
    EXPECT_NE(msg.find("does not match the original"), std::string::npos) << msg;
    EXPECT_NE(msg.find("artifact from a different model"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tiny-gemma3-q8_0.gguf"), std::string::npos) << msg;  // names the artifact
  }
  EXPECT_EQ(slurp(work / "gemma3" / "manifest.json"), before);
}

TEST_F(ValidateTiny, MlxFoldersAreMeasuredLikeGguf) {
  convert::ConvertOptions co;
  co.model = kTiny.string();
  co.output = work / "mixed";
  co.gguf = co.mlx = true;
  co.precision.gguf = {plan::Preset::Q8_0};
  co.precision.mlx = {plan::MlxPrecision{}, plan::MlxPrecision{.bits = 8, .group_size = 64, .mixed = false}};
  co.progress = false;
  convert::convert(co);
  const ValidationReport r = validate(options(work / "mixed", 1024));
  ASSERT_EQ(r.formats.size(), 3u);
  const FormatReport *mlx4 = nullptr, *mlx8 = nullptr;
  for (const auto& f : r.formats) {
    std::printf("%s %s: ppl %.4f kld mean %.6f top1 %.2f%% %s %s\n", f.format.c_str(), f.precision.c_str(), f.stats.perplexity,
                f.stats.kld_mean, 100 * f.stats.same_top1, f.status.c_str(), f.skip_reason.c_str());
    if (f.format == "mlx") (f.precision.starts_with("4bit") ? mlx4 : mlx8) = &f;
  }
  ASSERT_TRUE(mlx4 && mlx8);
  for (const FormatReport* f : {mlx4, mlx8}) {
    EXPECT_NE(f->status, "SKIP") << f->skip_reason;
    EXPECT_EQ(f->stats.tokens, r.scored_tokens);
    EXPECT_GT(f->stats.kld_mean, 0.0);
  }
  // 8-bit MLX is closer to the original than 4-bit MLX, and both pass their precision's gate.
  EXPECT_LT(mlx8->stats.kld_mean, mlx4->stats.kld_mean);
  EXPECT_EQ(mlx4->status, "PASS");
  EXPECT_EQ(mlx8->status, "PASS");
  const auto j = to_json(r);
  for (const auto& f : j["formats"]) EXPECT_TRUE(f["kld_mean"].is_number()) << f["format"];
}

TEST_F(ValidateTiny, SavedReferenceReproducesTheLiveRun) {
  const std::string q8 = q8_0();
  ASSERT_FALSE(q8.empty());
  const std::string saved = (work / "reference.lpref").string();
  ValidateOptions o = options(q8, 1024);
  o.save_reference = saved;
  const ValidationReport live = validate(o);
  ASSERT_TRUE(fs::exists(saved));
  ValidateOptions again = options(q8, 1024);
  again.original.clear();  // the saved file replaces the original model
  again.reference_file = saved;
  const ValidationReport reused = validate(again);
  ASSERT_EQ(reused.formats.size(), 1u);
  const auto &a = live.formats[0].stats, &b = reused.formats[0].stats;
  std::printf("live kld %.7f, top-32 + tail %.7f; ppl %.4f / %.4f\n", a.kld_mean, b.kld_mean, a.perplexity, b.perplexity);
  EXPECT_EQ(reused.scored_tokens, live.scored_tokens);
  EXPECT_NEAR(reused.ref_perplexity, live.ref_perplexity, 1e-6 * live.ref_perplexity);  // stored NLLs
  EXPECT_DOUBLE_EQ(b.perplexity, a.perplexity);
  EXPECT_DOUBLE_EQ(b.same_top1, a.same_top1);
  EXPECT_LE(b.kld_mean, a.kld_mean * (1 + 1e-6));  // coarsened KL never exceeds the full one
  EXPECT_GT(b.kld_mean, 0.5 * a.kld_mean);
  EXPECT_NE(reused.kld_method.find("top-32"), std::string::npos);
  // Another corpus is refused: the file names the corpus it was made on.
  ValidateOptions other = again;
  other.corpus.clear();
  EXPECT_THROW(validate(other), lp::Error);
}

TEST(EvalCorpus, BuiltinCorpusIsVariedAndHashed) {
  const Corpus c = builtin_corpus();
  EXPECT_EQ(c.name, "builtin");
  EXPECT_GT(c.text.size(), 50000u);
  for (const char* needle : {"def ", "#include", "Customer:", "Français", "中文", "Русский"})
    EXPECT_NE(c.text.find(needle), std::string::npos) << needle;
  EXPECT_EQ(c.sha256.size(), 64u);
  EXPECT_THROW(load_corpus("/nonexistent/corpus.txt"), lp::Error);
}

TEST(EvalArtifacts, MissingManifestIsExplained) {
  const fs::path empty = fs::temp_directory_path() / ("lp-eval-empty-" + std::to_string(::getpid()));
  fs::create_directories(empty);
  try {
    list_artifacts(empty.string());
    FAIL() << "expected an error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.json"), std::string::npos);
  }
  fs::remove_all(empty);
}

TEST(EvalMetrics, ParseMetricsList) {
  const Metrics m = parse_metrics("kld,generation");
  EXPECT_FALSE(m.perplexity);
  EXPECT_TRUE(m.kld);
  EXPECT_TRUE(m.generation);
  EXPECT_THROW(parse_metrics("kld,speed"), lp::Error);
}

}  // namespace
}  // namespace lp::eval

namespace lp::eval {
namespace {

// MoE routing metrics end to end on the trained tiny-qwen3moe fixture (8 experts, top-2, 4 layers).
TEST(ValidateMoe, RouterAgreementFallsWithBitWidth) {
  const fs::path moe = kFixtures / "tiny-qwen3moe";
  if (!fs::exists(moe / "model.safetensors") || !fs::exists(kHeldout)) LP_SKIP_OR_FAIL("tiny-qwen3moe / heldout.txt missing in " << kFixtures);
  const fs::path work = fs::temp_directory_path() / ("lp-eval-moe-" + std::to_string(::getpid()));
  convert::ConvertOptions co;
  co.model = moe.string();
  co.output = work;
  co.precision.gguf = {plan::Preset::Q8_0, plan::Preset::Q2_K};
  co.architecture_aware = false;
  co.progress = false;
  convert::convert(co);
  ValidateOptions o;
  o.original = moe.string();
  o.quantized = work.string();
  o.corpus = kHeldout.string();
  o.ctx = 256;
  o.max_tokens = 4096;
  o.metrics = {true, true, false};
  o.progress = false;
  const ValidationReport r = validate(o);
  fs::remove_all(work);
  EXPECT_TRUE(r.is_moe);
  const FormatReport *q8 = nullptr, *q2 = nullptr;
  for (const auto& f : r.formats) (f.precision == "Q8_0" ? q8 : q2) = &f;
  ASSERT_TRUE(q8 && q2);
  ASSERT_NE(q8->status, "SKIP") << q8->skip_reason;  // the engine runs qwen3moe
  ASSERT_NE(q2->status, "SKIP") << q2->skip_reason;
  ASSERT_TRUE(q8->moe.has_value()) << r.moe_note;
  ASSERT_TRUE(q2->moe.has_value());
  for (const FormatReport* f : {q8, q2})
    std::printf("%s: kld %.6f top1 %.2f%% expert corr %.4f router agreement %.2f%% unused %d/%d of %d  %s\n", f->precision.c_str(),
                f->stats.kld_mean, 100 * f->stats.same_top1, f->moe->correlation, 100 * f->moe->topk_agreement, f->moe->never_original,
                f->moe->never_quantized, f->moe->total_experts, f->status.c_str());
  EXPECT_EQ(q8->moe->layers.size(), 4u);
  EXPECT_EQ(q8->moe->total_experts, 32);
  EXPECT_EQ(q8->moe->decisions, 4u * static_cast<uint64_t>(r.chunks) * 256u);  // every evaluated token, every layer
  EXPECT_GT(q8->moe->topk_agreement, 0.95);
  EXPECT_GT(q8->moe->correlation, 0.95);
  EXPECT_EQ(q8->status, "PASS");
  EXPECT_LT(q2->moe->topk_agreement, q8->moe->topk_agreement);
  EXPECT_LT(q2->moe->correlation, 1.0);
}

}  // namespace
}  // namespace lp::eval
