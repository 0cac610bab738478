// The row transforms of GgufTensorRecipe that compute values (rope factors) or move rows (q/k permute, expert
// stacking, gate/up split, the MXFP4 variants' row choice), written once for the converter and the engine's
// folder loader.
#include <cmath>
#include <numbers>

#include "arch/arch.h"
#include "arch/row_map.h"
#include "core/error.h"

namespace lp::arch {

std::vector<float> llama3_rope_factors(const HParams& hp) {
  // Per rotary frequency, a divisor that stretches low frequencies by `factor` and blends the middle band.
  const auto& r = hp.rope;
  const double base = hp.rope_theta;
  const int dim = hp.head_dim;
  const double factor = r.factor, low = r.low_freq_factor ? r.low_freq_factor : 1.0,
               high = r.high_freq_factor ? r.high_freq_factor : 4.0;
  const double old_ctx = r.original_max_position ? static_cast<double>(r.original_max_position) : 8192.0;
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(base, static_cast<double>(i) / dim);
    const double wavelen = 2 * std::numbers::pi / freq;
    double f;
    if (wavelen < high_wavelen) f = 1;
    else if (wavelen > low_wavelen) f = factor;
    else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      f = 1 / ((1 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

std::vector<float> rope_freq_factors(const HParams& hp) {
  if (hp.family != Family::Gemma4) return llama3_rope_factors(hp);
  // Gemma4Model.generate_extra_tensors: "proportional" rope rotates the first partial_rotary_factor of each
  // half-head pair set; ggml's neox rope takes per-pair frequency divisors, so 1e30 freezes the other pairs.
  const int pairs = hp.head_dim_global / 2;
  const int rotated = static_cast<int>(hp.head_dim_global * hp.rope_partial_global / 2);
  std::vector<float> out(static_cast<size_t>(pairs), 1e30f);
  for (int i = 0; i < rotated && i < pairs; ++i) out[static_cast<size_t>(i)] = 1.0f;
  return out;
}

int64_t permute_qk_source_row(int64_t r, int64_t rows_per_head) {
  // HF keeps each head as [2, hd/2] (rotate-half), llama.cpp's converter as [hd/2, 2]: out row j of a head reads
  // HF row (j % 2) * hd/2 + j / 2 (LlamaModel.permute in convert_hf_to_gguf).
  const int64_t hd = rows_per_head, h = r / hd, j = r % hd;
  return h * hd + (j % 2) * (hd / 2) + j / 2;
}

int64_t VHeadOrder::source(int64_t i) const {
  if (!active() || i < offset) return i;
  // GGUF index (v, g, d) over [v_per_k, k_heads, head_dim] reads checkpoint index (g, v, d) over [k_heads, v_per_k, head_dim].
  const int64_t j = i - offset, v = j / (k_heads * head_dim), g = (j / head_dim) % k_heads, d = j % head_dim;
  if (v >= v_per_k) return i;  // past the value heads: unchanged (callers bound-check)
  return offset + (g * v_per_k + v) * head_dim + d;
}

namespace {

Transform row_part(Transform t) {
  switch (t) {
    case Transform::SplitGateUpEvenMxfp4: return Transform::SplitGateUpEven;
    case Transform::SplitGateUpOddMxfp4: return Transform::SplitGateUpOdd;
    case Transform::PermuteQK: case Transform::StackExperts: case Transform::SplitGateUpEven: case Transform::SplitGateUpOdd:
    case Transform::SplitGateUpLower: case Transform::SplitGateUpUpper:
      return t;
    default:
      return Transform::None;  // AddOne, Mxfp4Repack: values change, rows stay; GenerateRopeFreqs has no source
  }
}

}  // namespace

RowMap::RowMap(Transform transform, int64_t rows, size_t n_sources, int heads, bool split_in_row, std::string_view name,
               VHeadOrder vheads)
    : transform_(row_part(transform)), rows_(rows), split_in_row_(split_in_row), vheads_(vheads) {
  if (vheads_.active() && !vheads_.columns) {
    if (transform_ != Transform::None) fail("{}: V-head reordering with transform {}", name, transform_name(transform));
    if (rows != vheads_.offset + vheads_.k_heads * vheads_.v_per_k * vheads_.head_dim)
      fail("{}: {} rows do not hold {} value heads of {} after {} leading rows", name, rows,
           vheads_.k_heads * vheads_.v_per_k, vheads_.head_dim, vheads_.offset);
  }
  if (rows < 0) fail("{}: negative row count {}", name, rows);
  if (n_sources == 0) fail("{}: no source tensor", name);
  if (transform_ == Transform::StackExperts) {
    if (rows % static_cast<int64_t>(n_sources) != 0) fail("{}: {} rows do not split into {} experts", name, rows, n_sources);
    rows_per_unit_ = rows / static_cast<int64_t>(n_sources);
  } else if (n_sources != 1) {
    fail("{}: {} sources for transform {} (one expected)", name, n_sources, transform_name(transform));
  }
  if (transform_ == Transform::SplitGateUpLower || transform_ == Transform::SplitGateUpUpper) {
    // heads: the per-expert width F (output rows are [E][F], each expert's source rows [gate F, up F]).
    if (heads <= 0 || rows % heads != 0) fail("{}: {} rows do not split into experts of {} rows", name, rows, heads);
    rows_per_unit_ = heads;
  }
  if (transform_ == Transform::PermuteQK) {
    if (heads <= 0 || rows % (2 * int64_t{heads}) != 0) fail("{}: cannot permute {} rows into {} heads", name, rows, heads);
    rows_per_unit_ = rows / heads;
  }
}

SourceRow RowMap::locate(int64_t r) const {
  switch (transform_) {
    case Transform::StackExperts:
      return {static_cast<size_t>(r / rows_per_unit_), r % rows_per_unit_, -1};
    case Transform::PermuteQK:
      return {0, permute_qk_source_row(r, rows_per_unit_), -1};
    case Transform::SplitGateUpEven:
    case Transform::SplitGateUpOdd: {
      const int parity = transform_ == Transform::SplitGateUpOdd ? 1 : 0;
      if (split_in_row_) return {0, r, parity};  // bias [E, 2F]: de-interleave inside the row
      return {0, 2 * r + parity, -1};             // rows of [E, 2F, D] (or of the transposed dense [E, D, 2F])
    }
    case Transform::SplitGateUpLower:
    case Transform::SplitGateUpUpper: {
      const int64_t F = rows_per_unit_, e = r / F, f = r % F;
      return {0, e * 2 * F + (transform_ == Transform::SplitGateUpUpper ? F : 0) + f, -1};
    }
    default:
      return {0, vheads_.active() && !vheads_.columns ? vheads_.source(r) : r, -1};
  }
}

bool recipe_reads_mxfp4(const GgufTensorRecipe& recipe) {
  return recipe.transform == Transform::Mxfp4Repack || recipe.transform == Transform::SplitGateUpEvenMxfp4 ||
         recipe.transform == Transform::SplitGateUpOddMxfp4;
}

RowMap row_map(const HParams& hp, const GgufTensorRecipe& recipe, size_t source_rank) {
  int64_t rows = 1;
  for (size_t d = 1; d < recipe.ne.size(); ++d) rows *= recipe.ne[d];
  const bool mxfp4 = recipe_reads_mxfp4(recipe);
  const size_t n_sources = mxfp4 ? 1 : recipe.sources.size();
  int heads = recipe.role == Role::AttnQ ? hp.n_head : recipe.role == Role::AttnK ? hp.n_head_kv : 0;
  if (recipe.transform == Transform::SplitGateUpLower || recipe.transform == Transform::SplitGateUpUpper)
    heads = recipe.ne.size() >= 2 ? static_cast<int>(recipe.ne[1]) : 0;
  return RowMap(recipe.transform, rows, n_sources, heads, !mxfp4 && source_rank == 2, recipe.gguf_name, recipe.vheads);
}

}  // namespace lp::arch

