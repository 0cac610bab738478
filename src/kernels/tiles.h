// Internal: the prefill GEMM tile interface (one weight row × up to kMaxTileTokens tokens), shared
// by the per-target kernels (gemm_tiles-inl.h) and the matmul driver.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lp::kernels {

inline constexpr int kMaxTileTokens = 8;

// What the tile kernels read for each token.
enum class TileActivation : uint8_t {
  kF32,         // the float rows themselves (float weight types; the driver walks column chunks)
  kQ8_K,        // the q8_K rows matmul() quantizes to (x = row bytes, xs unused)
  kOffsetQ8_0,  // q8_0 codes + 128 as bytes (x: cols bytes per token) and the block scales as
                // floats (xs: cols/32 per token)
};

struct TileArgs {
  const uint8_t* x = nullptr;  // token 0 of the tile
  size_t x_stride = 0;         // bytes between tokens
  const float* xs = nullptr;   // token 0's scale vectors (kOffsetQ8_0)
  size_t xs_stride = 0;        // floats between tokens
  bool accumulate = false;     // float tiles: add to y (a later column chunk) instead of storing
  size_t w_row_bytes = 0;      // weight row stride (two-row tiles)
};

// One weight row (cols elements) against T tokens: y[t * y_stride] = row · x_t for t < T.
using RowTileFn = void (*)(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride);

struct RowTileSet {
  RowTileFn by_tokens[kMaxTileTokens + 1] = {};  // [T] handles T tokens; [0] unused
  TileActivation activation = TileActivation::kQ8_K;
  // Optional: two consecutive weight rows against T tokens (outputs y[t * y_stride + 0/1]).
  RowTileFn pairs_by_tokens[kMaxTileTokens + 1] = {};
  // Optional (the i-quants): the driver decodes each row block once, decode(w, w_row_bytes, rows, cols, out)
  // writing `rows` rows of decoded_row_bytes(cols) bytes to a per-thread buffer, and by_tokens then reads those
  // decoded rows instead of the weights (grid lookups and sign bits cost more than the multiply-adds, so they
  // are not repeated for every tile of tokens).
  void (*decode)(const void* w, size_t w_row_bytes, int64_t rows, int64_t cols, void* out) = nullptr;
  size_t (*decoded_row_bytes)(int64_t cols) = nullptr;
};

// MLX affine rows (w = scale·q + bias per group; q unsigned `bits`-bit codes, 32 codes = 4·bits bytes)
// against activations quantized per 32 elements to int8 with a float scale (matmul_mlx.cpp):
//   y = Σ_g scale_g · Σ_{32-blocks b of g} d_b · Σ_e q_e·xq_e  +  Σ_g bias_g · Σ_{e in g} x_e
// with the bias term on the float x sums (exact). Inside each 32-block the int8 codes sit in the
// order the tile set's `layout` names, so the kernels read the packed codes with no in-register
// shuffling (the dot of a block does not depend on the order of its elements).
enum class MlxXLayout : uint8_t {
  kNatural,      // position k = element k
  kNibblePairs,  // 4-bit: positions 0..15 = elements 0,2,..,30, positions 16..31 = elements 1,3,..,31
  kCrumbs,       // 2-bit: position 8j + m = element 4m + j (j < 4, m < 8)
};

// Element of a 32-block at position k (0..31) of the given layout.
constexpr int mlx_layout_element(MlxXLayout layout, int k) {
  switch (layout) {
    case MlxXLayout::kNibblePairs: return k < 16 ? 2 * k : 2 * (k - 16) + 1;
    case MlxXLayout::kCrumbs: return 4 * (k % 8) + k / 8;
    default: return k;
  }
}

struct MlxTileArgs {
  const int8_t* xq = nullptr;    // token 0's codes (cols bytes per token, `layout` order in each block)
  size_t xq_stride = 0;          // bytes between tokens
  const float* xd = nullptr;     // token 0's block scales (cols/32)
  size_t xd_stride = 0;          // floats between tokens
  const float* xsum = nullptr;   // token 0's per-group sums of the float x (cols/group_size)
  const float* xhat_sum = nullptr;  // per-group sums of the quantized x (Σ d_b·xq), same stride as xsum
  size_t xsum_stride = 0;        // floats between tokens
  int group_size = 64;
};

// One weight row (packed codes, its scales and biases) against T tokens: y[t * y_stride] for t < T.
using MlxRowTileFn = void (*)(const uint8_t* row, const float* scales, const float* biases, const MlxTileArgs& a,
                              int64_t cols, float* y, int64_t y_stride);

struct MlxTileSet {
  MlxRowTileFn by_tokens[kMaxTileTokens + 1] = {};  // [T] for T = 1..max_tokens
  int max_tokens = 0;
  MlxXLayout layout = MlxXLayout::kNatural;
  // Optional: one weight row against lane_tokens tokens held in the int32 lanes of a vector (16 on
  // AVX-512 VNNI, 8 on AVX2 / AVX3 for codes of <= 6 bits). MlxTileArgs then points at the lane layout:
  // xq = [block][4-position group k < 8][token][4 bytes] (32·lane_tokens bytes per 32-block),
  // xd = [block][token], xsum = [group][token]; the strides are unused.
  MlxRowTileFn lanes = nullptr;
  int lane_tokens = 0;
  // Optional (AVX-512 VNNI): one token, two blocks per 512-bit vector; xd then holds each block's d
  // 8 times (cols/4 floats). Only for cols/32 even.
  MlxRowTileFn decode = nullptr;
};
// The 3/5/6-bit unpacking loads whole vectors, so the tiles may read up to this many bytes past the end
// of a row: matmul_mlx hands each call's last row to them as a padded copy (earlier rows run into the
// next row's bytes, which are there).
inline constexpr int kMlxRowOverRead = 64;

}  // namespace lp::kernels
