#include "kernels/matmul.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/activations.h"
#include "kernels/dispatch.h"
#include "quant/blocks.h"

namespace lp::kernels {

GgmlType activation_type(GgmlType wtype) {
  switch (wtype) {
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::IQ4_NL:
    case GgmlType::MXFP4: return GgmlType::Q8_0;
    case GgmlType::Q4_1:
    case GgmlType::Q5_1: return GgmlType::Q8_1;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
    case GgmlType::IQ4_XS:
    case GgmlType::IQ2_XXS:
    case GgmlType::IQ2_XS:
    case GgmlType::IQ2_S:
    case GgmlType::IQ3_XXS:
    case GgmlType::IQ3_S:
    case GgmlType::IQ1_S:
    case GgmlType::IQ1_M: return GgmlType::Q8_K;
    default: return GgmlType::F32;
  }
}

bool matmul_supported(GgmlType wtype) { return scalar_row_dot(wtype) != nullptr; }

namespace {

int resolve_threads(int threads) { return threads > 0 ? threads : omp_get_max_threads(); }

void check_args(GgmlType wtype, int64_t rows, int64_t cols, int64_t n_tokens) {
  if (!matmul_supported(wtype)) lp::fail("matmul: no kernel for weight type {}", ggml_type_name(wtype));
  const int64_t block = ggml_traits(wtype).block_size;
  if (cols <= 0 || cols % block != 0) {
    lp::fail("matmul: {} weights need cols to be a positive multiple of {} (got {})", ggml_type_name(wtype), block, cols);
  }
  if (rows < 0 || n_tokens < 0) lp::fail("matmul: negative rows ({}) or n_tokens ({})", rows, n_tokens);
}

// Row blocks small enough to stay in L1/L2 while every token of the batch passes over them, so
// prefill reads each weight row from memory once; decode degenerates to one pass over the rows.
constexpr int64_t kRowBlock = 16;
// Columns per float-tile pass: 8 tokens x 512 floats (16 KB) + 16 rows x 512 weights fit in L1.
constexpr int64_t kFloatColumnChunk = 512;

// The kernels one call uses, picked once per call for the CPU's SIMD target.
struct RowKernels {
  RowDotFn dot = nullptr;       // one token
  RowDot4Fn dot4 = nullptr;     // four tokens sharing the unpacked weights (prefill), optional
  RowDot4Fn dot1_xd = nullptr;  // one token with float activation scales, optional (needs xd)
  const float* xd = nullptr;    // q8_0 activation block scales as floats, cols/32 per token
};

void run_rows(const RowKernels& k, const uint8_t* W, size_t w_row_bytes, int64_t rows, int64_t cols, const uint8_t* xq,
              size_t x_row_bytes, int64_t n_tokens, float* y, int64_t y_stride, int threads) {
  const int64_t nblocks = (rows + kRowBlock - 1) / kRowBlock;
  const int64_t xd_stride = cols / 32;
  auto block = [&](int64_t b) {
    const int64_t r0 = b * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
    int64_t t = 0;
    if (k.dot4 != nullptr) {
      for (; t + 4 <= n_tokens; t += 4) {
        const float* xdt = k.xd != nullptr ? k.xd + t * xd_stride : nullptr;
        for (int64_t r = r0; r < r1; ++r) {
          float out[4];
          k.dot4(W + r * w_row_bytes, xq + t * x_row_bytes, x_row_bytes, xdt, cols, out);
          for (int j = 0; j < 4; ++j) y[(t + j) * y_stride + r] = out[j];
        }
      }
    }
    for (; t < n_tokens; ++t) {
      const uint8_t* xt = xq + t * x_row_bytes;
      float* yt = y + t * y_stride;
      if (k.dot1_xd != nullptr && k.xd != nullptr) {
        const float* xdt = k.xd + t * xd_stride;
        for (int64_t r = r0; r < r1; ++r) k.dot1_xd(W + r * w_row_bytes, xt, x_row_bytes, xdt, cols, yt + r);
      } else {
        for (int64_t r = r0; r < r1; ++r) yt[r] = k.dot(W + r * w_row_bytes, xt, cols);
      }
    }
  };
  if (threads <= 1 || nblocks == 1) {
    for (int64_t b = 0; b < nblocks; ++b) block(b);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t b = 0; b < nblocks; ++b) block(b);
}

// Prefill GEMM: row blocks split across threads; inside a block, each tile of up to kMaxTileTokens
// tokens passes over the block's rows (the block's weights stay in L1/L2, the tile's activations in
// L1). Float tiles also walk the columns in chunks (float activations are 4x the bytes of q8 ones).
void run_tiles(const RowTileSet& tiles, const uint8_t* W, size_t w_row_bytes, int64_t rows, int64_t cols,
               const TileArgs& base, int64_t n_tokens, float* y, int64_t y_stride, int threads) {
  constexpr int64_t kTileRows = 16;
  const bool chunked = tiles.activation == TileActivation::kF32;
  const int64_t chunk = chunked ? kFloatColumnChunk : cols;
  const size_t w_elem_bytes = chunked ? w_row_bytes / static_cast<size_t>(cols) : 0;
  const int64_t nblocks = (rows + kTileRows - 1) / kTileRows;
  auto block = [&](int64_t b) {
    const int64_t r0 = b * kTileRows, r1 = std::min(rows, r0 + kTileRows);
    const uint8_t* Wb = W + r0 * w_row_bytes;  // row r at Wb + (r - r0) * row_bytes (decoded: a per-thread buffer)
    size_t row_bytes = w_row_bytes;
    if (tiles.decode != nullptr && !chunked) {
      thread_local std::vector<uint8_t> decoded;
      row_bytes = tiles.decoded_row_bytes(cols);
      decoded.resize(row_bytes * static_cast<size_t>(r1 - r0));
      tiles.decode(W + r0 * w_row_bytes, w_row_bytes, r1 - r0, cols, decoded.data());
      Wb = decoded.data();
    }
    for (int64_t c0 = 0; c0 < cols; c0 += chunk) {
      const int64_t nc = std::min(chunk, cols - c0);
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kMaxTileTokens) {
        const auto T = static_cast<int>(std::min<int64_t>(kMaxTileTokens, n_tokens - t0));
        TileArgs a = base;
        a.x += t0 * a.x_stride + c0 * static_cast<int64_t>(sizeof(float)) * (chunked ? 1 : 0);
        if (a.xs != nullptr) a.xs += t0 * a.xs_stride;
        a.accumulate = c0 > 0;
        a.w_row_bytes = row_bytes;
        const RowTileFn fn = tiles.by_tokens[T], pair = tiles.pairs_by_tokens[T];
        const uint8_t* wc = Wb + c0 * static_cast<int64_t>(w_elem_bytes);
        int64_t r = r0;
        if (pair != nullptr)
          for (; r + 2 <= r1; r += 2) pair(wc + (r - r0) * row_bytes, a, nc, y + t0 * y_stride + r, y_stride);
        for (; r < r1; ++r) fn(wc + (r - r0) * row_bytes, a, nc, y + t0 * y_stride + r, y_stride);
      }
    }
  };
  if (threads <= 1 || nblocks == 1) {
    for (int64_t b = 0; b < nblocks; ++b) block(b);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t b = 0; b < nblocks; ++b) block(b);
}

// LP_KERNELS_NO_TILES=1 turns the tiled prefill path off (A/B measurements against the 4-token kernels).
bool tiles_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("LP_KERNELS_NO_TILES");
    return v == nullptr || v[0] == '\0' || v[0] == '0';
  }();
  return enabled;
}

// q8_0 rows -> the kOffsetQ8_0 tile layout (codes + 128, float block scales).
void offset_q8_0(const uint8_t* xq, size_t x_row_bytes, int64_t n_tokens, int64_t cols, std::vector<uint8_t>& u,
                 std::vector<float>& scales, int threads) {
  const int64_t nb = cols / 32;
  u.resize(static_cast<size_t>(n_tokens * cols));
  scales.resize(static_cast<size_t>(n_tokens * nb));
#pragma omp parallel for num_threads(threads) schedule(static) if (n_tokens >= 8 && threads > 1)
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto* blocks = reinterpret_cast<const quant::block_q8_0*>(xq + t * x_row_bytes);
    uint8_t* ut = u.data() + t * cols;
    for (int64_t i = 0; i < nb; ++i) {
      scales[static_cast<size_t>(t * nb + i)] = f16_to_f32(blocks[i].d);
      for (int j = 0; j < 32; ++j) ut[32 * i + j] = static_cast<uint8_t>(blocks[i].qs[j] ^ 0x80);
    }
  }
}

}  // namespace

void matmul(GgmlType wtype, const void* W, int64_t rows, int64_t cols, const float* x, int64_t n_tokens, float* y,
            int threads) {
  matmul_strided(wtype, W, rows, cols, x, n_tokens, y, rows, threads);
}

void matmul_strided(GgmlType wtype, const void* W, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
                    float* y, int64_t y_stride, int threads) {
  check_args(wtype, rows, cols, n_tokens);
  if (y_stride < rows) lp::fail("matmul: y_stride {} is smaller than rows {}", y_stride, rows);
  if (rows == 0 || n_tokens == 0) return;
  threads = resolve_threads(threads);
  RowKernels k;
  k.dot = detail::row_dot_for(wtype);
  k.dot4 = n_tokens >= 4 ? detail::row_dot4_for(wtype) : nullptr;
  k.dot1_xd = detail::row_dot1_xd_for(wtype);
  const GgmlType act = activation_type(wtype);
  const uint8_t* xq = reinterpret_cast<const uint8_t*>(x);
  size_t x_row_bytes = static_cast<size_t>(cols) * sizeof(float);
  thread_local std::vector<uint8_t> scratch;     // quantized activations, reused across calls
  thread_local std::vector<float> block_scales;  // their q8_0 block scales as floats
  if (act != GgmlType::F32) {
    x_row_bytes = ggml_row_bytes(act, static_cast<uint64_t>(cols));
    scratch.resize(x_row_bytes * static_cast<size_t>(n_tokens));
    uint8_t* dst = scratch.data();
#pragma omp parallel for num_threads(threads) schedule(static) if (n_tokens >= 4 && threads > 1)
    for (int64_t t = 0; t < n_tokens; ++t) quantize_activations(act, x + t * cols, dst + t * x_row_bytes, cols);
    xq = dst;
  }
  RowTileSet tiles;
  if (n_tokens >= 2 && tiles_enabled() && detail::row_tiles_for(wtype, &tiles) &&
      (tiles.activation != TileActivation::kQ8_K || cols % 256 == 0)) {
    TileArgs a{xq, x_row_bytes, nullptr, 0};
    if (tiles.activation == TileActivation::kOffsetQ8_0) {
      thread_local std::vector<uint8_t> offset_codes;
      thread_local std::vector<float> tile_scales;
      offset_q8_0(xq, x_row_bytes, n_tokens, cols, offset_codes, tile_scales, threads);
      a = TileArgs{offset_codes.data(), static_cast<size_t>(cols), tile_scales.data(), static_cast<size_t>(cols / 32)};
    }
    run_tiles(tiles, static_cast<const uint8_t*>(W), ggml_row_bytes(wtype, static_cast<uint64_t>(cols)), rows, cols, a,
              n_tokens, y, y_stride, threads);
    return;
  }
  if (act == GgmlType::Q8_0 && (k.dot4 != nullptr || k.dot1_xd != nullptr)) {
    const int64_t nb = cols / 32;
    block_scales.resize(static_cast<size_t>(n_tokens * nb));
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto* blocks = reinterpret_cast<const quant::block_q8_0*>(xq + t * x_row_bytes);
      for (int64_t i = 0; i < nb; ++i) block_scales[t * nb + i] = f16_to_f32(blocks[i].d);
    }
    k.xd = block_scales.data();
  }
  run_rows(k, static_cast<const uint8_t*>(W), ggml_row_bytes(wtype, static_cast<uint64_t>(cols)), rows, cols, xq,
           x_row_bytes, n_tokens, y, y_stride, threads);
}

std::string active_target() { return detail::chosen_target_name(); }

std::vector<std::string> available_targets() {
  std::vector<std::string> out;
  for (int64_t bit : detail::available_target_bits()) out.emplace_back(detail::target_name(bit));
  return out;
}

}  // namespace lp::kernels
