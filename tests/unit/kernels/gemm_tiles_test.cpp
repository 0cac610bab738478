// The prefill GEMM tiles (one weight row × 1..8 tokens; AVX-512 VNNI, the i-quants on every x86 SIMD target) against the portable integer
// kernels on identical quantized activations, for token counts that exercise every tile width and
// the tails, and row counts that leave partial row blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/activations.h"
#include "kernels/dispatch.h"
#include "kernels/dot_scalar.h"
#include "kernels/matmul.h"

namespace lp::kernels {
namespace {

constexpr GgmlType kTiledTypes[] = {GgmlType::Q8_0,    GgmlType::Q4_K,  GgmlType::Q5_K,  GgmlType::Q6_K,  GgmlType::Q2_K,
                                    GgmlType::F32,     GgmlType::F16,   GgmlType::BF16,  GgmlType::IQ2_XXS,
                                    GgmlType::IQ2_XS,  GgmlType::IQ2_S, GgmlType::IQ3_XXS, GgmlType::IQ3_S,
                                    GgmlType::IQ1_S,   GgmlType::IQ1_M};

// Q8_0: 6 blocks; K-quants: 2 super-blocks; float: two full 512-column chunks and a tail
// that is not a multiple of the vector width.
int64_t tile_test_cols(GgmlType type) {
  const int64_t block = ggml_traits(type).block_size;
  return block == 1 ? 1100 : block == 32 ? 192 : 512;
}

// Runs body(target name, type) for every SIMD target this CPU supports and every type that has tiles
// there (float tiles on every x86 SIMD target, quantized tiles on AVX3_DL), and returns what ran.
template <class Body>
std::vector<std::string> for_each_tiled(Body&& body) {
  std::vector<std::string> ran;
  for (int64_t target : detail::available_target_bits()) {
    detail::force_target(target);
    for (GgmlType type : kTiledTypes) {
      RowTileSet tiles;
      if (!detail::row_tiles_for(type, &tiles)) continue;
      ran.push_back(std::string(detail::target_name(target)) + ":" + ggml_type_name(type));
      body(std::string(detail::target_name(target)), type);
    }
  }
  detail::force_target(0);
  std::string list;
  for (const auto& r : ran) list += " " + r;
  std::printf("tiles exercised (target:type):%s\n", list.empty() ? " none" : list.c_str());
  ::testing::Test::RecordProperty("tiles_exercised", list);
  return ran;
}

// True when an x86 SIMD target is among those this run may use (all of them, or the one pinned by
// LP_KERNELS_TARGET): every such target has at least the float tiles.
bool x86_simd_cpu() {
#if defined(__x86_64__) || defined(__i386__)
  for (int64_t target : detail::available_target_bits()) {
    const std::string name = detail::target_name(target);
    if (name != "EMU128" && name != "SCALAR") return true;
  }
#endif
  return false;
}

std::vector<uint8_t> quantize_rows(GgmlType act, const std::vector<float>& x, int64_t n_tokens, int64_t cols) {
  const size_t rb = ggml_row_bytes(act, cols);
  if (act == GgmlType::F32) return {reinterpret_cast<const uint8_t*>(x.data()), reinterpret_cast<const uint8_t*>(x.data() + x.size())};
  std::vector<uint8_t> out(rb * n_tokens);
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (act == GgmlType::Q8_0) quantize_row_q8_0_scalar(x.data() + t * cols, out.data() + t * rb, cols);
    if (act == GgmlType::Q8_K) quantize_row_q8_K_scalar(x.data() + t * cols, out.data() + t * rb, cols);
  }
  return out;
}

TEST(GemmTiles, AvailableOnVnniCpus) {
  if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bw")) GTEST_SKIP() << "no AVX-512 VNNI";
  for (GgmlType type : kTiledTypes) {
    RowTileSet tiles;
    ASSERT_TRUE(detail::row_tiles_for(type, &tiles)) << ggml_type_name(type);
    for (int t = 1; t <= kMaxTileTokens; ++t) EXPECT_NE(tiles.by_tokens[t], nullptr);
  }
}

TEST(GemmTiles, MatchScalarIntegerKernels) {
  const auto ran = for_each_tiled([](const std::string& target, GgmlType type) {
    SCOPED_TRACE(target);
    const int64_t cols = tile_test_cols(type), rows = 37;
    const auto W = test::random_blocks(type, rows, cols, 11);
    const RowDotFn dot = scalar_row_dot(type);
    const size_t wrb = ggml_row_bytes(type, cols);
    const GgmlType act = activation_type(type);
    const size_t xrb = act == GgmlType::F32 ? cols * sizeof(float) : ggml_row_bytes(act, cols);
    for (int64_t n_tokens : {2, 3, 7, 8, 9, 17}) {
      for (int threads : {1, 2}) {
        const auto x = test::random_floats(static_cast<size_t>(n_tokens * cols), 5 + static_cast<uint32_t>(n_tokens));
        std::vector<float> y(rows * n_tokens, NAN);
        matmul(type, W.data(), rows, cols, x.data(), n_tokens, y.data(), threads);
        const auto xq = quantize_rows(act, x, n_tokens, cols);
        std::vector<float> want(y.size());
        float magnitude = 0;  // random scale bits make large terms cancel: bound errors by the largest output
        for (int64_t t = 0; t < n_tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            want[t * rows + r] = dot(W.data() + r * wrb, xq.data() + t * xrb, cols);
            magnitude = std::max(magnitude, std::fabs(want[t * rows + r]));
          }
        }
        for (int64_t t = 0; t < n_tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            ASSERT_NEAR(y[t * rows + r], want[t * rows + r], 1e-5 * (1 + magnitude))
                << ggml_type_name(type) << " tokens=" << n_tokens << " threads=" << threads << " r=" << r << " t=" << t;
          }
        }
      }
    }
  });
  if (x86_simd_cpu()) {
    EXPECT_FALSE(ran.empty()) << "no tiled GEMM path on an x86 SIMD CPU";
  }
}

// Strided output (a row slice written into a wider matrix) through the tiled path.
TEST(GemmTiles, StridedSliceMatchesFullProduct) {
  const auto ran = for_each_tiled([](const std::string& target, GgmlType type) {
    SCOPED_TRACE(target);
    const int64_t rows = 29, cols = tile_test_cols(type), n_tokens = 11, r0 = 5, r1 = 26;
    const auto W = test::random_blocks(type, rows, cols, 3);
    const auto x = test::random_floats(static_cast<size_t>(n_tokens * cols), 4);
    std::vector<float> full(rows * n_tokens), part(rows * n_tokens, -7.0f);
    matmul(type, W.data(), rows, cols, x.data(), n_tokens, full.data(), 2);
    matmul_strided(type, W.data() + r0 * ggml_row_bytes(type, cols), r1 - r0, cols, x.data(), n_tokens, part.data() + r0,
                   rows, 1);
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        if (r < r0 || r >= r1) {
          EXPECT_EQ(part[t * rows + r], -7.0f);
        } else {
          EXPECT_FLOAT_EQ(part[t * rows + r], full[t * rows + r]) << ggml_type_name(type) << " r=" << r << " t=" << t;
        }
      }
    }
  });
  if (x86_simd_cpu()) {
    EXPECT_FALSE(ran.empty()) << "no tiled GEMM path on an x86 SIMD CPU";
  }
}

}  // namespace
}  // namespace lp::kernels
