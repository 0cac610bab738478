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

}  // namespace lp::kernels
