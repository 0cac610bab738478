#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "calib/imatrix.h"
#include "core/error.h"
#include "scratch_path.h"

namespace fs = std::filesystem;
using lp::calib::Imatrix;

namespace {
fs::path temp_dir() {
  fs::path d = lp::test::scratch_path("lp_imatrix_test");
  fs::create_directories(d);
  return d;
}
Imatrix sample() {
  Imatrix im;
  im.datasets = {"genesis.txt"};
  im.chunk_count = 3;
  im.chunk_size = 256;
  std::vector<float> x = {1, 2, 3, 4, 0.5f, 0.5f, 0.5f, 0.5f};  // two tokens, 4 columns
  im.accumulate("blk.0.attn_q.weight", 0, 1, x.data(), 2, 4);
  im.accumulate("blk.0.ffn_down_exps.weight", 1, 3, x.data(), 2, 4);  // expert 1 of 3 only
  return im;
}
}  // namespace

TEST(Imatrix, AccumulatesSquaresAndCounts) {
  Imatrix im = sample();
  const auto& e = im.entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(e.counts, std::vector<int64_t>{2});
  EXPECT_FLOAT_EQ(e.sums[0], 1.25f);
  EXPECT_FLOAT_EQ(e.sums[3], 16.25f);
  auto imp = im.importance("blk.0.attn_q.weight", 0, 4);
  ASSERT_TRUE(imp);
  EXPECT_FLOAT_EQ((*imp)[3], 16.25f / 2);
  // an expert that saw no tokens: the layer's other experts' mean (shrinkage), or uniform importance as
  // llama-quantize does when shrinkage is off
  auto unseen = im.importance("blk.0.ffn_down_exps.weight", 0, 4);
  EXPECT_FLOAT_EQ((*unseen)[3], 16.25f / 2);
  im.expert_shrinkage_tokens = 0;
  unseen = im.importance("blk.0.ffn_down_exps.weight", 0, 4);
  EXPECT_EQ(*unseen, std::vector<float>(4, 1.0f));
  EXPECT_FALSE(im.importance("output.weight", 0, 4));
  EXPECT_THROW(im.accumulate("blk.0.attn_q.weight", 0, 1, std::vector<float>(5).data(), 1, 5), lp::Error);
}

TEST(Imatrix, GgufRoundTrip) {
  fs::path p = temp_dir() / "im.gguf";
  Imatrix im = sample();
  im.save_gguf(p.string());
  Imatrix back = Imatrix::load(p.string());
  EXPECT_FALSE(back.legacy);
  EXPECT_EQ(back.datasets, im.datasets);
  EXPECT_EQ(back.chunk_count, 3u);
  EXPECT_EQ(back.chunk_size, 256u);
  EXPECT_EQ(back.expert_shrinkage_tokens, 64);
  im.expert_shrinkage_tokens = 0;  // the calibration run's choice travels with the file
  im.save_gguf(p.string());
  EXPECT_EQ(Imatrix::load(p.string()).expert_shrinkage_tokens, 0);
  ASSERT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.entries.at("blk.0.ffn_down_exps.weight").counts, (std::vector<int64_t>{0, 2, 0}));
  EXPECT_EQ(back.entries.at("blk.0.attn_q.weight").sums, im.entries.at("blk.0.attn_q.weight").sums);
}

TEST(Imatrix, LegacyRoundTripGivesTheSameImportance) {
  fs::path p = temp_dir() / "im.dat";
  Imatrix im = sample();
  im.save_legacy(p.string());
  Imatrix back = Imatrix::load(p.string());
  EXPECT_TRUE(back.legacy);
  EXPECT_EQ(back.datasets, im.datasets);
  auto a = im.importance("blk.0.attn_q.weight", 0, 4), b = back.importance("blk.0.attn_q.weight", 0, 4);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR((*a)[i], (*b)[i], 1e-6);
}

TEST(Imatrix, RejectsCorruptFilesAndForeignModels) {
  fs::path d = temp_dir();
  { std::ofstream(d / "junk.dat", std::ios::binary) << "xx"; }
  EXPECT_THROW(Imatrix::load((d / "junk.dat").string()), lp::Error);
  {
    std::ofstream f(d / "trunc.dat", std::ios::binary);
    int32_t n = 1, len = 100;
    f.write(reinterpret_cast<char*>(&n), 4);
    f.write(reinterpret_cast<char*>(&len), 4);
  }
  EXPECT_THROW(Imatrix::load((d / "trunc.dat").string()), lp::Error);
  EXPECT_THROW(Imatrix::load((d / "missing.gguf").string()), lp::Error);

  Imatrix im = sample();
  std::map<std::string, lp::calib::WeightShape> model = {{"blk.0.attn_q.weight", {4, 1}},
                                                         {"blk.0.ffn_down_exps.weight", {4, 3}},
                                                         {"blk.0.attn_k.weight", {4, 1}}};
  auto cov = lp::calib::check_imatrix(im, model, "im.gguf");
  EXPECT_EQ(cov.missing, std::vector<std::string>{"blk.0.attn_k.weight"});
  EXPECT_EQ(cov.uncovered_experts.size(), 2u);
  EXPECT_NE(cov.uncovered_fallback.find("shrinkage below 64 tokens"), std::string::npos);
  // a router entry (llama-imatrix and our engine record it) is not an error when the caller omits routers
  im.accumulate("blk.0.ffn_gate_inp.weight", 0, 1, std::vector<float>(4, 1.0f).data(), 1, 4);
  EXPECT_EQ(lp::calib::check_imatrix(im, model, "im.gguf").missing.size(), 1u);
  model["blk.0.attn_q.weight"] = {8, 1};
  try {
    lp::calib::check_imatrix(im, model, "im.gguf");
    FAIL();
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos);
  }
  model.erase("blk.0.attn_q.weight");
  EXPECT_THROW(lp::calib::check_imatrix(im, model, "im.gguf"), lp::Error);
}
