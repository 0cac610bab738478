#include "convert/row_source.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/mxfp4.h"

namespace lp::convert {
namespace {

using arch::Transform;

int64_t element_size(formats::StDtype d) {
  using formats::StDtype;
  switch (d) {
    case StDtype::F64: return 8;
    case StDtype::F32: return 4;
    case StDtype::F16: case StDtype::BF16: return 2;
    case StDtype::F8_E4M3: case StDtype::F8_E5M2: return 1;
    default: return 0;
  }
}

std::vector<int64_t> reversed(const std::vector<int64_t>& v) { return {v.rbegin(), v.rend()}; }

}  // namespace

RowSource::RowSource(const formats::Checkpoint& ckpt, const arch::HParams& hp, const arch::GgufTensorRecipe& recipe)
    : ckpt_(ckpt), name_(recipe.gguf_name) {
  if (recipe.transform == Transform::GenerateRopeFreqs) {
    rope_freqs_ = arch::rope_freq_factors(hp);
    transform_ = recipe.transform;
    ncols_ = static_cast<int64_t>(rope_freqs_.size());
    nrows_ = 1;
    return;
  }
  if (recipe.role == arch::Role::AttnQ) heads_ = hp.n_head;
  if (recipe.role == arch::Role::AttnK) heads_ = hp.n_head_kv;
  if (recipe.transform == arch::Transform::SplitGateUpLower || recipe.transform == arch::Transform::SplitGateUpUpper)
    heads_ = recipe.ne.size() >= 2 ? static_cast<int>(recipe.ne[1]) : 0;  // the per-expert width F
  vheads_ = recipe.vheads;
  init(recipe.sources, recipe.transform, recipe.transpose_source, arch::recipe_reads_mxfp4(recipe), reversed(recipe.ne), recipe.role);
}

RowSource::RowSource(const formats::Checkpoint& ckpt, const arch::HParams& hp, const arch::MlxTensorRecipe& recipe)
    : ckpt_(ckpt), name_(recipe.mlx_name) {
  (void)hp;
  init(recipe.sources, recipe.transform, recipe.transpose_source, recipe.source_mxfp4, recipe.shape, recipe.role);
}

void RowSource::init(const std::vector<std::string>& sources, Transform transform, bool transpose, bool mxfp4,
                     const std::vector<int64_t>& shape, arch::Role role) {
  (void)role;
  transform_ = transform;
  add_one_ = transform == Transform::AddOne;
  transpose_ = transpose;
  mxfp4_ = mxfp4;
  if (shape.empty()) fail("{}: empty shape", name_);
  ncols_ = shape.back();
  nrows_ = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) nrows_ *= shape[i];
  if (sources.empty()) fail("{}: no source tensor", name_);
  size_t n_data = mxfp4 ? 1 : sources.size();
  for (size_t i = 0; i < n_data; ++i) sources_.push_back(&ckpt_.tensor(sources[i]));
  if (mxfp4) {
    if (sources.size() < 2) fail("{}: MXFP4 source needs blocks and scales", name_);
    scales_ = &ckpt_.tensor(sources[1]);
    if (sources_[0]->dtype != formats::StDtype::U8 || scales_->dtype != formats::StDtype::U8)
      fail("{}: MXFP4 blocks/scales must be U8 ({} / {})", name_, sources_[0]->name, scales_->name);
  } else {
    for (const auto* s : sources_)
      if (element_size(s->dtype) == 0)
        fail("{}: tensor '{}' has dtype {} which is not a float type we can convert", s->file, s->name,
             formats::st_dtype_name(s->dtype));
  }
  map_.emplace(transform, nrows_, sources_.size(), heads_, !mxfp4 && sources_[0]->shape.size() == 2, name_, vheads_);
  if (vheads_.active() && vheads_.columns &&
      ncols_ != vheads_.offset + vheads_.k_heads * vheads_.v_per_k * vheads_.head_dim)
    fail("{}: {} columns do not hold {} value heads of {}", name_, ncols_, vheads_.k_heads * vheads_.v_per_k, vheads_.head_dim);
  if (transform == Transform::StackExperts) {
    const int64_t per_expert = nrows_ / static_cast<int64_t>(sources_.size());
    for (const auto* s : sources_)
      if (static_cast<int64_t>(s->n_elements()) != per_expert * ncols_)
        fail("{}: expert tensor '{}' has {} values, expected {}x{}", s->file, s->name, s->n_elements(), per_expert, ncols_);
  }
  // Bound check of the whole mapping: the last row must exist in its source.
  if (nrows_ > 0) {
    locate(0);
    locate(nrows_ - 1);
  }
}

RowSource::SourceRow RowSource::locate(int64_t r) const {
  const arch::SourceRow m = map_->locate(r);
  const formats::StTensor* t = sources_[m.source];
  SourceRow s{t, m.row, m.parity};
  // Validate against the source's size.
  const uint64_t n = t->n_elements();
  uint64_t row_len;
  if (mxfp4_) row_len = static_cast<uint64_t>(ncols_) / 2;  // bytes of blocks per row
  else if (s.parity >= 0) row_len = 2 * static_cast<uint64_t>(ncols_);
  else row_len = static_cast<uint64_t>(ncols_);
  const uint64_t total = mxfp4_ ? t->nbytes : n;
  if (static_cast<uint64_t>(s.row + 1) * row_len > total)
    fail("{}: tensor '{}' is too small for {} (row {} of {} values)", t->file, t->name, name_, s.row, row_len);
  return s;
}

void RowSource::read_source_row(const SourceRow& s, float* out) const {
  const formats::StTensor* t = s.tensor;
  if (mxfp4_) {
    const uint64_t blocks_per_row = static_cast<uint64_t>(ncols_) / 32;
    quant::mxfp4_checkpoint_dequantize(t->data + static_cast<uint64_t>(s.row) * blocks_per_row * 16,
                                       scales_->data + static_cast<uint64_t>(s.row) * blocks_per_row, ncols_, out);
    return;
  }
  const int64_t es = element_size(t->dtype);
  if (transpose_) {
    // Source matrices [.., A, B]; "row" j of matrix e is column j: A values strided by B.
    const int64_t B = t->shape.back(), A = t->shape[t->shape.size() - 2];
    const int64_t e = s.row / B, j = s.row % B;
    if (A != ncols_) fail("{}: transposed source '{}' has {} rows, expected {}", name_, t->name, A, ncols_);
    const uint8_t* base = t->data + static_cast<uint64_t>(e * A * B + j) * static_cast<uint64_t>(es);
    for (int64_t k = 0; k < A; ++k)
      formats::convert_to_f32(t->dtype, base + static_cast<uint64_t>(k * B * es), 1, out + k);
    return;
  }
  if (s.parity >= 0) {
    std::vector<float> tmp(static_cast<size_t>(2 * ncols_));
    formats::convert_to_f32(t->dtype, t->data + static_cast<uint64_t>(s.row * 2 * ncols_ * es), static_cast<uint64_t>(2 * ncols_), tmp.data());
    for (int64_t k = 0; k < ncols_; ++k) out[k] = tmp[static_cast<size_t>(2 * k + s.parity)];
    return;
  }
  formats::convert_to_f32(t->dtype, t->data + static_cast<uint64_t>(s.row * ncols_ * es), static_cast<uint64_t>(ncols_), out);
  if (t->dtype == formats::StDtype::F8_E4M3 || t->dtype == formats::StDtype::F8_E5M2) {
    if (const formats::StTensor* sc = ckpt_.scale_for(*t)) {
      // Block scales [ceil(R/br), ceil(C/bc)] over the last two dims (DeepSeek/Qwen FP8: 128x128).
      std::vector<float> scale(sc->n_elements());
      formats::convert_to_f32(sc->dtype, sc->data, sc->n_elements(), scale.data());
      const int64_t R = t->shape.size() >= 2 ? t->shape[t->shape.size() - 2] : 1, C = t->shape.back();
      const int64_t SR = sc->shape.size() >= 2 ? sc->shape[sc->shape.size() - 2] : 1, SC = sc->shape.back();
      const int64_t br = (R + SR - 1) / SR, bc = (C + SC - 1) / SC;
      const int64_t rr = s.row % R;
      for (int64_t k = 0; k < ncols_; ++k) out[k] *= scale[static_cast<size_t>((rr / br) * SC + k / bc)];
    }
  }
}

void RowSource::read(int64_t r0, int64_t n, float* out) const {
  if (r0 < 0 || n < 0 || r0 + n > nrows_) fail("{}: rows {}..{} out of range ({} rows)", name_, r0, r0 + n, nrows_);
  if (transform_ == Transform::GenerateRopeFreqs) {
    std::memcpy(out, rope_freqs_.data(), rope_freqs_.size() * sizeof(float));
    return;
  }
  const bool permute_cols = vheads_.active() && vheads_.columns;
  std::vector<float> tmp(permute_cols ? static_cast<size_t>(ncols_) : 0);
  for (int64_t i = 0; i < n; ++i) {
    float* row = out + i * ncols_;
    read_source_row(locate(r0 + i), row);
    if (permute_cols) {
      std::memcpy(tmp.data(), row, tmp.size() * sizeof(float));
      for (int64_t k = 0; k < ncols_; ++k) row[k] = tmp[static_cast<size_t>(vheads_.source(k))];
    }
    for (int64_t k = 0; k < ncols_; ++k) {
      if (!std::isfinite(row[k]))
        fail("{}: tensor '{}' has a non-finite value (NaN/Inf) at row {}, column {}", sources_[0]->file,
             locate(r0 + i).tensor->name, locate(r0 + i).row, k);
      if (add_one_) row[k] += 1.0f;
      if (transform_ == Transform::NegExp) row[k] = -std::exp(row[k]);
    }
  }
}

void RowSource::read_mxfp4(int64_t r0, int64_t n, uint8_t* out) const {
  if (!mxfp4_) fail("{}: not an MXFP4 source", name_);
  const uint64_t blocks_per_row = static_cast<uint64_t>(ncols_) / 32;
  for (int64_t i = 0; i < n; ++i) {
    SourceRow s = locate(r0 + i);
    quant::mxfp4_from_checkpoint(s.tensor->data + static_cast<uint64_t>(s.row) * blocks_per_row * 16,
                                 scales_->data + static_cast<uint64_t>(s.row) * blocks_per_row, ncols_,
                                 reinterpret_cast<quant::block_mxfp4*>(out + static_cast<uint64_t>(i) * blocks_per_row * 17));
  }
}

void RowSource::release(int64_t r0, int64_t n) const {
  if (sources_.empty() || n <= 0 || transpose_) return;  // transposed reads stride the whole tensor: release_all()
  struct Range {
    uint64_t lo = UINT64_MAX, hi = 0;
  };
  std::vector<Range> ranges(sources_.size());
  Range scale_range;
  const uint64_t es = mxfp4_ ? 1 : static_cast<uint64_t>(element_size(sources_[0]->dtype));
  for (int64_t i = 0; i < n; ++i) {
    SourceRow s = locate(r0 + i);
    size_t k = 0;
    while (k < sources_.size() && sources_[k] != s.tensor) ++k;
    if (k == sources_.size()) continue;
    uint64_t row_bytes = mxfp4_ ? static_cast<uint64_t>(ncols_) / 2 : static_cast<uint64_t>(ncols_) * es;
    if (s.parity >= 0) row_bytes *= 2;
    const uint64_t lo = static_cast<uint64_t>(s.row) * row_bytes;
    ranges[k].lo = std::min(ranges[k].lo, lo);
    ranges[k].hi = std::max(ranges[k].hi, lo + row_bytes);
    if (mxfp4_) {
      const uint64_t sb = static_cast<uint64_t>(ncols_) / 32;
      scale_range.lo = std::min(scale_range.lo, static_cast<uint64_t>(s.row) * sb);
      scale_range.hi = std::max(scale_range.hi, static_cast<uint64_t>(s.row + 1) * sb);
    }
  }
  for (size_t k = 0; k < sources_.size(); ++k)
    if (ranges[k].hi > ranges[k].lo) ckpt_.release(*sources_[k], ranges[k].lo, ranges[k].hi - ranges[k].lo);
  if (mxfp4_ && scale_range.hi > scale_range.lo) ckpt_.release(*scales_, scale_range.lo, scale_range.hi - scale_range.lo);
}

void RowSource::release_all() const {
  for (const auto* t : sources_) ckpt_.release(*t, 0, t->nbytes);
  if (scales_) ckpt_.release(*scales_, 0, scales_->nbytes);
}

}  // namespace lp::convert
