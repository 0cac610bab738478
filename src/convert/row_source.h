// Streams the rows of one output tensor (GGUF or MLX) out of the checkpoint, applying the recipe's layout
// change on the fly (q/k permutation, expert stacking, gate/up de-interleaving, transposition, MXFP4 decode,
// +1 norms). Conversion reads a bounded number of rows at a time, so memory stays near one chunk.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arch/arch.h"
#include "arch/row_map.h"
#include "formats/checkpoint.h"

namespace lp::convert {

class RowSource {
 public:
  RowSource(const formats::Checkpoint& ckpt, const arch::HParams& hp, const arch::GgufTensorRecipe& recipe);
  RowSource(const formats::Checkpoint& ckpt, const arch::HParams& hp, const arch::MlxTensorRecipe& recipe);

  int64_t ncols() const { return ncols_; }
  int64_t nrows() const { return nrows_; }
  const std::string& name() const { return name_; }

  // Rows [r0, r0+n) as float32 into out (n * ncols floats). Non-finite values are an error naming the tensor.
  void read(int64_t r0, int64_t n, float* out) const;
  // True when the source is native MXFP4 that can be copied as ggml block_mxfp4 rows without decoding.
  bool has_native_mxfp4() const { return mxfp4_; }
  // Rows [r0, r0+n) as ggml block_mxfp4 (ncols/32 blocks of 17 bytes per row).
  void read_mxfp4(int64_t r0, int64_t n, uint8_t* out) const;

  // Drops the checkpoint bytes behind rows [r0, r0+n) from the resident set (they were consumed), so
  // peak RSS stays near one chunk instead of growing with the mapped checkpoint.
  void release(int64_t r0, int64_t n) const;
  void release_all() const;

 private:
  struct SourceRow {
    const formats::StTensor* tensor;
    int64_t row;     // row of the (possibly transposed) source matrix
    int parity = -1; // de-interleave within a 1-D row: take elements 2k+parity (gate/up biases)
  };  // arch::SourceRow resolved to its tensor
  void init(const std::vector<std::string>& sources, arch::Transform transform, bool transpose, bool mxfp4,
            const std::vector<int64_t>& rowmajor_shape, arch::Role role);
  SourceRow locate(int64_t r) const;
  void read_source_row(const SourceRow& s, float* out) const;

  const formats::Checkpoint& ckpt_;
  std::string name_;
  std::vector<const formats::StTensor*> sources_;
  const formats::StTensor* scales_ = nullptr;  // MXFP4 scales
  arch::Transform transform_ = arch::Transform::None;
  bool transpose_ = false;
  bool mxfp4_ = false;
  bool add_one_ = false;
  int64_t ncols_ = 0, nrows_ = 0;
  int heads_ = 0;                 // PermuteQK: n_head (q) or n_head_kv (k)
  arch::VHeadOrder vheads_;       // qwen35 V-head reordering (rows via map_, columns in read())
  std::optional<arch::RowMap> map_;  // which source row each output row reads (arch/row_transforms.cpp)
  std::vector<float> rope_freqs_;  // GenerateRopeFreqs
};

}  // namespace lp::convert
