// The saved reference (--save-reference / --reference): round trip, the top-k + tail KL divergence against
// the full one, and the refusals of a damaged or foreign file.
#include "eval/reference_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "core/error.h"

namespace lp::eval {
namespace {

namespace fs = std::filesystem;

std::vector<float> random_logits(std::mt19937& rng, int n, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

ReferenceHeader header(int ctx, int chunks, int top_k, int n_vocab) {
  ReferenceHeader h;
  h.corpus_name = "test";
  h.corpus_sha256 = std::string(64, 'a');
  h.original_path = "model";
  h.architecture = "qwen3";
  h.ctx = ctx;
  h.chunks = chunks;
  h.top_k = top_k;
  h.n_vocab = n_vocab;
  h.n_layer = 2;
  return h;
}

// One reference row built through ReferenceFile (top-k extraction included).
struct OneRow {
  ReferenceFile file;
  std::vector<float> ref_logprobs;
  int ref_top = 0;
};
OneRow one_row(const std::vector<float>& ref_logits, int top_k) {
  OneRow r{ReferenceFile(header(16, 1, top_k, static_cast<int>(ref_logits.size()))), ref_logits, 0};
  r.ref_top = log_softmax_inplace(r.ref_logprobs).top;
  r.file.add_row(r.ref_logprobs, 1.0f);
  return r;
}

TEST(ReferenceFile, TopKOverTheWholeVocabularyIsExact) {
  std::mt19937 rng(1);
  const auto ref = random_logits(rng, 64, 2.0f), quant = random_logits(rng, 64, 2.0f);
  const OneRow r = one_row(ref, 64);
  const TokenComparison full = compare_token(r.ref_logprobs, r.ref_top, quant, 5);
  const TokenComparison topk = compare_token_topk(r.file.row(0, 0), quant, 5);
  EXPECT_NEAR(topk.kld, full.kld, 1e-6 * std::max(1.0, full.kld));
  EXPECT_DOUBLE_EQ(topk.nll_quant, full.nll_quant);
  EXPECT_EQ(topk.same_top1, full.same_top1);
  EXPECT_NEAR(topk.dp_top, full.dp_top, 1e-7);
}

TEST(ReferenceFile, TopKPlusTailIsALowerBoundAndCloseForPeakedDistributions) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    // Peaked like a language model's next-token distribution: a few large logits over a wide flat floor.
    auto ref = random_logits(rng, 4096, 1.0f);
    for (int i = 0; i < 8; ++i) ref[static_cast<size_t>(rng() % 4096)] += 12.0f;
    auto quant = ref;
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (float& x : quant) x += noise(rng);
    const OneRow r = one_row(ref, 32);
    const double full = compare_token(r.ref_logprobs, r.ref_top, quant, 0).kld;
    const double approx = compare_token_topk(r.file.row(0, 0), quant, 0).kld;
    EXPECT_LE(approx, full * (1 + 1e-6) + 1e-12) << trial;  // coarsening never increases KL
    EXPECT_GT(approx, 0.5 * full) << trial;                 // most of it sits in the head
  }
}

TEST(ReferenceFile, SavesAndLoadsRowsAndTokens) {
  std::mt19937 rng(3);
  const int ctx = 16, chunks = 2, k = 4, vocab = 50;
  ReferenceFile f(header(ctx, chunks, k, vocab));
  std::vector<std::vector<float>> rows;
  for (int c = 0; c < chunks; ++c) {
    std::vector<int32_t> tokens(ctx);
    for (int i = 0; i < ctx; ++i) tokens[static_cast<size_t>(i)] = (c * ctx + i) % vocab;
    f.add_tokens(tokens);
    for (int j = 0; j < f.header().rows_per_chunk(); ++j) {
      auto row = random_logits(rng, vocab, 3.0f);
      log_softmax_inplace(row);
      f.add_row(row, static_cast<float>(j));
      rows.push_back(row);
    }
  }
  const fs::path path = fs::temp_directory_path() / ("lp-ref-" + std::to_string(::getpid()) + ".bin");
  f.save(path.string());
  const ReferenceFile g = ReferenceFile::load(path.string());
  EXPECT_EQ(g.header().ctx, ctx);
  EXPECT_EQ(g.header().chunks, chunks);
  EXPECT_EQ(g.header().corpus_sha256, std::string(64, 'a'));
  ASSERT_EQ(g.tokens().size(), static_cast<size_t>(ctx * chunks));
  EXPECT_EQ(g.tokens()[17], 17);
  const ReferenceRow row = g.row(1, 3);
  EXPECT_FLOAT_EQ(row.nll, 3.0f);
  const auto& expected = rows[static_cast<size_t>(g.header().rows_per_chunk() + 3)];
  ASSERT_EQ(row.ids.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(row.logprobs[i], expected[static_cast<size_t>(row.ids[i])]);
  for (size_t i = 1; i < 4; ++i) EXPECT_GE(row.logprobs[i - 1], row.logprobs[i]);
  for (float v : expected) EXPECT_LE(v, row.logprobs[0]);

  // A truncated copy and a file of another kind are refused with the path in the message.
  const fs::path cut = path.string() + ".cut";
  fs::copy_file(path, cut, fs::copy_options::overwrite_existing);
  fs::resize_file(cut, fs::file_size(path) - 10);
  EXPECT_THROW(ReferenceFile::load(cut.string()), lp::Error);
  std::ofstream(cut, std::ios::binary) << "GGUF not a reference";
  try {
    ReferenceFile::load(cut.string());
    FAIL() << "expected an error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find(cut.string()), std::string::npos) << e.what();
  }
  fs::remove(cut);
  fs::remove(path);
}

TEST(ReferenceFile, RowCountMustMatchTheHeader) {
  ReferenceFile f(header(16, 1, 2, 8));
  f.add_tokens(std::vector<int32_t>(16, 1));
  const std::vector<float> uniform(8, std::log(1.0f / 8));
  f.add_row(uniform, 1.0f);  // 1 of 7 rows
  EXPECT_THROW(f.save((fs::temp_directory_path() / "lp-ref-never.bin").string()), lp::Error);
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / "lp-ref-never.bin"));
}

}  // namespace
}  // namespace lp::eval
