// The fixed input behind tests/data/quant/ggml_reference.txt (shared with its generator, which must not
// depend on lp libraries, hence the plain block sizes here).
#pragma once
#include <cstdint>
#include <vector>

#include "test_data.h"

namespace lp::quant::testing {

inline constexpr int kRefRows = 12, kRefCols = 512;

struct RefType {
  const char* name;     // ggml type name
  const char* ggml_fn;  // ggml's chunk quantizer (what llama-quantize calls)
  int block_size;
  int block_bytes;
};

inline constexpr RefType kRefTypes[] = {
    {"q4_0", "quantize_q4_0", 32, 18},     {"q4_1", "quantize_q4_1", 32, 20},
    {"q5_0", "quantize_q5_0", 32, 22},     {"q5_1", "quantize_q5_1", 32, 24},
    {"q8_0", "quantize_q8_0", 32, 34},     {"q2_K", "quantize_q2_K", 256, 84},
    {"q3_K", "quantize_q3_K", 256, 110},   {"q4_K", "quantize_q4_K", 256, 144},
    {"q5_K", "quantize_q5_K", 256, 176},   {"q6_K", "quantize_q6_K", 256, 210},
    {"iq4_nl", "quantize_iq4_nl", 32, 18}, {"iq4_xs", "quantize_iq4_xs", 256, 136},
    {"mxfp4", "quantize_mxfp4", 32, 17},
};

// Gaussian rows plus edge cases: an all-zero row, a constant row, a ramp, a row with one huge outlier,
// a row of tiny values, an all-negative row and a row whose second half is zero.
inline std::vector<float> reference_input() {
  auto x = gaussian_matrix(kRefRows, kRefCols, 7);
  auto row = [&](int r) { return x.data() + r * kRefCols; };
  for (int c = 0; c < kRefCols; ++c) {
    row(0)[c] = 0.0f;
    row(1)[c] = 0.375f;
    row(2)[c] = static_cast<float>(c - kRefCols / 2) / 128.0f;
    row(4)[c] *= 1e-6f;
    row(5)[c] = -0.01f - (row(5)[c] < 0 ? -row(5)[c] : row(5)[c]);
    if (c >= kRefCols / 2) row(6)[c] = 0.0f;
  }
  row(3)[77] = 3.0f;
  return x;
}

}  // namespace lp::quant::testing
