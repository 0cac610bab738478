// Each weight type's dot product (SIMD where the CPU has it) against float math on the dequantized
// row. Activations are quantized (Q8_0 / Q8_K) like ggml, so the tolerance is a small fraction of
// sum|w*x|; a wrong block layout gives errors of the order of the whole sum.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "engine/matmul.h"
#include "quant/blocks.h"

namespace lp::engine {
namespace {

using namespace lp::quant;

// Random blocks with finite, moderate f16 scales patched in.
std::vector<uint8_t> random_rows(GgmlType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  const size_t row_bytes = ggml_row_bytes(t, cols);
  std::vector<uint8_t> buf(rows * row_bytes);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> f(-1.0f, 1.0f);
  for (auto& b : buf) b = static_cast<uint8_t>(byte(rng));
  const auto& tr = ggml_traits(t);
  const size_t nblocks = buf.size() / tr.type_size;
  auto set_half = [&](uint8_t* p, float v) {
    const uint16_t h = f32_to_f16(v);
    std::memcpy(p, &h, 2);
  };
  for (size_t i = 0; i < nblocks; ++i) {
    uint8_t* blk = buf.data() + i * tr.type_size;
    switch (t) {
      case GgmlType::F32:
        for (int j = 0; j < 1; ++j) {
          float* p = reinterpret_cast<float*>(blk);
          *p = f(rng);
        }
        break;
      case GgmlType::F16: set_half(blk, f(rng)); break;
      case GgmlType::BF16: {
        const uint16_t h = f32_to_bf16(f(rng));
        std::memcpy(blk, &h, 2);
        break;
      }
      case GgmlType::Q8_0: case GgmlType::Q4_0: set_half(blk, 0.01f * (1 + f(rng))); break;
      case GgmlType::Q4_K: case GgmlType::Q5_K:
        set_half(blk, 0.01f * (1 + f(rng)));
        set_half(blk + 2, 0.005f * (1 + f(rng)));
        break;
      case GgmlType::Q6_K: set_half(blk + offsetof(block_q6_K, d), 0.01f * (1 + f(rng))); break;
      default: break;
    }
  }
  return buf;
}

class MatmulTypes : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatmulTypes, MatchesDequantizedFloatMath) {
  const GgmlType t = GetParam();
  std::mt19937 rng(1234);
  const int64_t rows = 37, cols = 512;
  const int n_tokens = 3;
  auto w = random_rows(t, rows, cols, rng);
  GgufTensor tensor;
  tensor.type = t;
  tensor.ne[0] = cols;
  tensor.ne[1] = rows;
  tensor.data = w.data();
  Weight W{&tensor};
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(n_tokens * cols), y(n_tokens * rows);
  for (auto& v : x) v = nd(rng);
  matmul(W, x.data(), n_tokens, y.data(), 2);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(t, W.row(r), row.data(), cols);
    for (int tk = 0; tk < n_tokens; ++tk) {
      double ref = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        ref += double(row[c]) * x[tk * cols + c];
        mag += std::fabs(double(row[c]) * x[tk * cols + c]);
      }
      const bool float_act = t == GgmlType::F32;
      // Quantized activations add ~sqrt(n)/254 relative noise (~1e-3 of mag at n=512); a wrong block
      // layout pairs weights with the wrong activations and misses by ~sqrt(n)/n of mag (~4e-2).
      const double tol = (float_act ? 1e-5 : 4e-3) * mag + 1e-6;
      ASSERT_NEAR(y[tk * rows + r], ref, tol) << ggml_type_name(t) << " row " << r << " token " << tk;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTypes,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
                                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K),
                         [](const auto& info) { return std::string(ggml_type_name(info.param)); });

TEST(Matmul, Q4KDequantizeKnownBlock) {
  // One Q4_K super-block with d=1, dmin=0.5, all sub-block scales 1 and mins 2, nibbles 3 (low) / 7 (high):
  // values are 1*3 - 0.5*2 = 2 for the first 32 of every 64 and 1*7 - 1 = 6 for the next 32.
  block_q4_K b{};
  b.d = f32_to_f16(1.0f);
  b.dmin = f32_to_f16(0.5f);
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = 1;      // scale of sub-blocks 0..3 (6 bits)
    b.scales[j + 4] = 2;  // min of sub-blocks 0..3
  }
  for (int j = 8; j < 12; ++j) b.scales[j] = 1 | (2 << 4);  // sub-blocks 4..7: scale low 4 bits, min low 4 bits
  std::memset(b.qs, 0x73, sizeof(b.qs));
  std::vector<float> out(256);
  dequantize_row(GgmlType::Q4_K, reinterpret_cast<const uint8_t*>(&b), out.data(), 256);
  for (int i = 0; i < 256; ++i) ASSERT_FLOAT_EQ(out[i], (i % 64) < 32 ? 2.0f : 6.0f) << i;
}

}  // namespace
}  // namespace lp::engine
