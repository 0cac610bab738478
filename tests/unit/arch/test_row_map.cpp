// arch::RowMap, the one "recipe -> rows" unit the converter's RowSource and the engine's folder loader share:
// which source row every output row reads, for each row-moving transform (the folder-vs-GGUF equality tests in
// test_engine and the conversion tests check both users end to end).
#include <gtest/gtest.h>

#include "arch/row_map.h"
#include "core/error.h"

namespace {

using namespace lp::arch;

TEST(RowMap, PermuteQkInterleavesEachHeadsHalves) {
  // 2 heads of 4 rows: GGUF row j of a head reads HF row (j % 2) * 2 + j / 2.
  const RowMap m(Transform::PermuteQK, 8, 1, 2, false, "q");
  const int64_t want[] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int64_t r = 0; r < 8; ++r) {
    EXPECT_EQ(m.locate(r).row, want[r]) << r;
    EXPECT_EQ(m.locate(r).row, permute_qk_source_row(r, 4)) << r;
    EXPECT_EQ(m.locate(r).source, 0u);
  }
  EXPECT_THROW(RowMap(Transform::PermuteQK, 6, 1, 2, false, "q"), lp::Error);  // 3 rows per head
  EXPECT_THROW(RowMap(Transform::PermuteQK, 8, 1, 0, false, "q"), lp::Error);
}

TEST(RowMap, StackExpertsReadsExpertMajor) {
  const RowMap m(Transform::StackExperts, 12, 3, 0, false, "blk.0.ffn_up_exps.weight");
  for (int64_t r = 0; r < 12; ++r) {
    EXPECT_EQ(m.locate(r).source, static_cast<size_t>(r / 4)) << r;
    EXPECT_EQ(m.locate(r).row, r % 4) << r;
    EXPECT_EQ(m.locate(r).parity, -1);
  }
  EXPECT_THROW(RowMap(Transform::StackExperts, 10, 3, 0, false, "x"), lp::Error);
}

TEST(RowMap, SplitGateUpTakesAlternateRowsOrValues) {
  for (Transform t : {Transform::SplitGateUpEven, Transform::SplitGateUpEvenMxfp4}) {
    const RowMap m(t, 5, 1, 0, false, "gate");
    for (int64_t r = 0; r < 5; ++r) EXPECT_EQ(m.locate(r).row, 2 * r);
  }
  for (Transform t : {Transform::SplitGateUpOdd, Transform::SplitGateUpOddMxfp4}) {
    const RowMap m(t, 5, 1, 0, false, "up");
    for (int64_t r = 0; r < 5; ++r) EXPECT_EQ(m.locate(r).row, 2 * r + 1);
  }
  // The gate_up bias [E, 2F]: same row, every other value.
  const RowMap bias(Transform::SplitGateUpOdd, 4, 1, 0, true, "up bias");
  EXPECT_EQ(bias.locate(3).row, 3);
  EXPECT_EQ(bias.locate(3).parity, 1);
}

TEST(RowMap, ValueTransformsKeepRows) {
  for (Transform t : {Transform::None, Transform::AddOne, Transform::Mxfp4Repack}) {
    const RowMap m(t, 7, 1, 0, false, "x");
    for (int64_t r = 0; r < 7; ++r) {
      EXPECT_EQ(m.locate(r).row, r);
      EXPECT_EQ(m.locate(r).parity, -1);
    }
  }
  EXPECT_THROW(RowMap(Transform::None, 7, 2, 0, false, "x"), lp::Error);  // one source only
}

TEST(RowMap, FromGgufRecipe) {
  HParams hp;
  hp.n_head = 4;
  hp.n_head_kv = 2;
  GgufTensorRecipe k;
  k.gguf_name = "blk.0.attn_k.weight";
  k.role = Role::AttnK;
  k.ne = {16, 8};
  k.sources = {"model.layers.0.self_attn.k_proj.weight"};
  k.transform = Transform::PermuteQK;
  const RowMap mk = row_map(hp, k, 2);
  EXPECT_EQ(mk.rows(), 8);
  EXPECT_EQ(mk.locate(1).row, permute_qk_source_row(1, 4));  // n_head_kv heads of 4 rows
  GgufTensorRecipe up;
  up.gguf_name = "blk.0.ffn_up_exps.weight";
  up.ne = {32, 3, 2};
  up.sources = {"blocks", "scales"};
  up.transform = Transform::SplitGateUpOddMxfp4;
  EXPECT_TRUE(recipe_reads_mxfp4(up));
  const RowMap mu = row_map(hp, up, 4);
  EXPECT_EQ(mu.rows(), 6);
  EXPECT_EQ(mu.locate(4).row, 9);  // expert 1, row 1 of [E, 2F=6, ...] blocks: 2*4+1
}

}  // namespace
