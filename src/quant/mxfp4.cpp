#include "quant/mxfp4.h"

#include <cmath>

#include "core/fp16.h"
#include "quant/rows.h"

namespace lp::quant {
namespace {

// ggml's best_index_mxfp4: exhaustive nearest search, first index wins ties (so +0 beats -0).
int best_index_mxfp4(float x, float e) {
  int best_index = 0;
  float best_err = std::fabs(kvalues_mxfp4[0] * e - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(kvalues_mxfp4[i] * e - x);
    if (err < best_err) {
      best_index = i;
      best_err = err;
    }
  }
  return best_index;
}

}  // namespace

float e2m1_to_f32(uint8_t code) {
  static constexpr float kValues[8] = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f};
  const float v = kValues[code & 7];
  return (code & 8) ? -v : v;
}

void quantize_row_mxfp4(const float* x, block_mxfp4* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_MXFP4; ++i, x += QK_MXFP4) {
    float amax = 0;
    for (int j = 0; j < QK_MXFP4; ++j)
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
    // Largest E2M1 magnitude is 6 = 1.5 * 2^2: pick the exponent so amax lands in the top binade.
    // ggml converts without a range check; blocks below 2^-125 would wrap, so those get e = 0 (all zero).
    const float e_f = amax > 0.0f ? std::floor(std::log2(amax)) - 2 + 127 : 0.0f;
    const uint8_t e = static_cast<uint8_t>(e_f < 0.0f ? 0.0f : e_f);
    const float d = e8m0_to_f32_half(e);
    y[i].e = e;
    for (int j = 0; j < QK_MXFP4 / 2; ++j) {
      const int x0 = best_index_mxfp4(x[j], d);
      const int x1 = best_index_mxfp4(x[j + 16], d);
      y[i].qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
    }
  }
}

void dequantize_row_mxfp4(const block_mxfp4* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_MXFP4; ++i, y += QK_MXFP4) {
    const float d = e8m0_to_f32_half(x[i].e);
    for (int j = 0; j < QK_MXFP4 / 2; ++j) {
      y[j] = kvalues_mxfp4[x[i].qs[j] & 0x0F] * d;
      y[j + 16] = kvalues_mxfp4[x[i].qs[j] >> 4] * d;
    }
  }
}

void mxfp4_from_checkpoint(const uint8_t* blocks, const uint8_t* scales, int64_t ncols, block_mxfp4* out) {
  for (int64_t g = 0; g < ncols / QK_MXFP4; ++g, blocks += 16) {
    uint8_t codes[QK_MXFP4];
    for (int k = 0; k < 16; ++k) {
      codes[2 * k] = blocks[k] & 0x0F;
      codes[2 * k + 1] = blocks[k] >> 4;
    }
    out[g].e = scales[g];
    for (int j = 0; j < 16; ++j) out[g].qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + 16] << 4));
  }
}

void mxfp4_to_checkpoint(const block_mxfp4* in, int64_t ncols, uint8_t* blocks, uint8_t* scales) {
  for (int64_t g = 0; g < ncols / QK_MXFP4; ++g, blocks += 16) {
    uint8_t codes[QK_MXFP4];
    for (int j = 0; j < 16; ++j) {
      codes[j] = in[g].qs[j] & 0x0F;
      codes[j + 16] = in[g].qs[j] >> 4;
    }
    scales[g] = in[g].e;
    for (int k = 0; k < 16; ++k) blocks[k] = static_cast<uint8_t>(codes[2 * k] | (codes[2 * k + 1] << 4));
  }
}

void mxfp4_checkpoint_dequantize(const uint8_t* blocks, const uint8_t* scales, int64_t ncols, float* out) {
  for (int64_t i = 0; i < ncols; ++i) {
    const uint8_t byte = blocks[i / 2];
    const uint8_t code = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
    out[i] = std::ldexp(e2m1_to_f32(code), static_cast<int>(scales[i / QK_MXFP4]) - 127);
  }
}

}  // namespace lp::quant
