// The one "recipe -> rows" unit of the row-moving transforms (arch::Transform), shared by the converter's
// streaming RowSource (src/convert/row_source.cpp) and the engine's HF folder loader (src/engine/folder_loader.cpp),
// so running an HF folder equals running its F32 GGUF by construction: both ask this map which source row every
// output row reads. Defined in row_transforms.cpp next to the value transforms (rope factors, q/k permute).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "arch/arch.h"

namespace lp::arch {

// Where each row of a recipe's output comes from, for every row-moving transform (PermuteQK, StackExperts,
// SplitGateUp*, the MXFP4 variants). Output rows are all dims but the innermost (GGUF ne[1..], MLX
// shape[..-1]); source rows are the source's rows of the same length (of its transposed view when the recipe
// transposes; of its MXFP4 blocks for MXFP4 sources, whose scales share the row index).
struct SourceRow {
  size_t source = 0;  // index into the recipe's data sources (always 0 except for StackExperts)
  int64_t row = 0;    // row of that source
  int parity = -1;    // >= 0: the source row holds 2x the values, interleaved; this row takes values parity, parity+2, ...
};
class RowMap {
 public:
  // rows: output rows; n_sources: data sources (expert count for StackExperts); heads: PermuteQK's head count (n_head
  // for q, n_head_kv for k); split_in_row: SplitGateUp on a source whose rows interleave gate/up values (gpt-oss's
  // gate_up bias [E, 2F]) rather than alternate rows ([E, 2F, D] weights, MXFP4 blocks). Bad shapes -> lp::Error.
  // vheads: qwen35's V-head reordering of rows (a `columns` order is applied by the reader within each row).
  RowMap(Transform transform, int64_t rows, size_t n_sources, int heads, bool split_in_row, std::string_view name,
         VHeadOrder vheads = {});
  SourceRow locate(int64_t r) const;
  int64_t rows() const { return rows_; }

 private:
  Transform transform_;  // with the MXFP4 variants folded into their row-moving part
  int64_t rows_, rows_per_unit_ = 1;  // rows per expert (StackExperts) or per head (PermuteQK)
  bool split_in_row_;
  VHeadOrder vheads_;
};
// The RowMap of a GGUF recipe (output rows from recipe.ne) whose first source has `source_rank` dimensions
// (a float SplitGateUp source of rank 2 is the interleaved bias).
RowMap row_map(const HParams& hp, const GgufTensorRecipe& recipe, size_t source_rank);

// Whether a recipe's sources are MXFP4 blocks + scales (one data source, rows of 16-byte blocks).
bool recipe_reads_mxfp4(const GgufTensorRecipe& recipe);

}  // namespace lp::arch
