// Shared helpers of the kernels tests: random weights of every type and error bounds.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/ggml_type.h"
#include "quant/quantize.h"

namespace lp::kernels::test {

inline const std::vector<GgmlType>& all_weight_types() {
  static const std::vector<GgmlType> types = {
      GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,   GgmlType::Q4_1,
      GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,   GgmlType::Q5_K,
      GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4,
      GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS, GgmlType::IQ3_S,
      GgmlType::IQ1_S, GgmlType::IQ1_M};
  return types;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& f : v) f = dist(rng);
  return v;
}

// Weights as the quantizer would produce them from Gaussian floats.
inline std::vector<uint8_t> quantized_weights(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const auto f = random_floats(static_cast<size_t>(rows * cols), seed, 0.05f);
  std::vector<uint8_t> out(ggml_row_bytes(type, cols) * rows);
  // IQ1_S / IQ2_XXS / IQ2_XS need importance: a mildly uneven one.
  std::vector<float> imp(static_cast<size_t>(cols));
  for (size_t i = 0; i < imp.size(); ++i) imp[i] = 0.5f + static_cast<float>(i % 7) * 0.25f;
  quant::quantize(type, f.data(), out.data(), rows, cols, quant::requires_importance(type) ? imp.data() : nullptr);
  return out;
}

// Every bit of every quant field random (reaches codes the quantizer rarely emits, e.g. -128 in
// Q8_0 or all-ones high bits); only the float scales are forced into a sane range.
inline std::vector<uint8_t> random_blocks(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  const auto& tr = ggml_traits(type);
  std::vector<uint8_t> out(ggml_row_bytes(type, cols) * rows);
  if (type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16) {
    const auto f = random_floats(static_cast<size_t>(rows * cols), seed, 0.05f);
    for (size_t i = 0; i < f.size(); ++i) {
      if (type == GgmlType::F32) std::memcpy(out.data() + 4 * i, &f[i], 4);
      const uint16_t h = type == GgmlType::F16 ? f32_to_f16(f[i]) : f32_to_bf16(f[i]);
      if (type != GgmlType::F32) std::memcpy(out.data() + 2 * i, &h, 2);
    }
    return out;
  }
  for (auto& b : out) b = static_cast<uint8_t>(byte(rng));
  auto put_half = [&](uint8_t* p) {
    const uint16_t h = f32_to_f16(scale(rng));
    std::memcpy(p, &h, 2);
  };
  for (size_t off = 0; off < out.size(); off += tr.type_size) {
    uint8_t* b = out.data() + off;
    switch (type) {
      case GgmlType::Q4_1:
      case GgmlType::Q5_1:
      case GgmlType::Q4_K:
      case GgmlType::Q5_K: put_half(b); put_half(b + 2); break;
      case GgmlType::Q2_K: put_half(b + 80); put_half(b + 82); break;
      case GgmlType::Q3_K: put_half(b + 108); break;
      case GgmlType::Q6_K: put_half(b + 208); break;
      case GgmlType::MXFP4: b[0] = static_cast<uint8_t>(118 + byte(rng) % 8); break;
      case GgmlType::IQ1_M: {  // fp16 super-scale in the top nibbles of the four scale words (bytes 48..55)
        const uint16_t h = f32_to_f16(scale(rng));
        for (int k = 0; k < 4; ++k) b[48 + 2 * k + 1] = static_cast<uint8_t>((b[48 + 2 * k + 1] & 0x0f) | (((h >> (4 * k)) & 0xf) << 4));
        break;
      }
      default: put_half(b); break;  // Q4_0, Q5_0, Q8_0, IQ4_NL, IQ4_XS: d first
    }
  }
  return out;
}

// Exact float reference on dequantized weights, plus the worst-case effect of activation
// quantization: every x is rounded to a grid of step amax(block)/127, so |Δy| <= Σ |w|·step/2.
struct Reference {
  std::vector<float> y;
  std::vector<double> bound;
};

inline Reference reference(GgmlType type, const std::vector<uint8_t>& W, int64_t rows, int64_t cols,
                           const std::vector<float>& x, int64_t n_tokens, int64_t act_block) {
  Reference ref{std::vector<float>(rows * n_tokens), std::vector<double>(rows * n_tokens)};
  std::vector<float> w(cols);
  const size_t rb = ggml_row_bytes(type, cols);
  for (int64_t r = 0; r < rows; ++r) {
    quant::dequantize_row(type, W.data() + r * rb, w.data(), cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x.data() + t * cols;
      double s = 0, mag = 0, qerr = 0;
      for (int64_t b0 = 0; b0 < cols; b0 += act_block) {
        float amax = 0;
        for (int64_t c = b0; c < b0 + act_block; ++c) amax = std::max(amax, std::fabs(xt[c]));
        for (int64_t c = b0; c < b0 + act_block; ++c) {
          s += static_cast<double>(w[c]) * xt[c];
          mag += std::fabs(static_cast<double>(w[c]) * xt[c]);
          qerr += std::fabs(w[c]) * amax / 254.0;
        }
      }
      ref.y[t * rows + r] = static_cast<float>(s);
      // f16 rounding of the activation scale (2^-11 relative) and float summation order on top.
      ref.bound[t * rows + r] = (act_block > 1 ? qerr * 1.01 + mag * 1e-3 : 0.0) + mag * 1e-5 + 1e-6;
    }
  }
  return ref;
}

}  // namespace lp::kernels::test
