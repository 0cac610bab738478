#include "kernels/dot_scalar.h"

#include <cstring>

#include "core/fp16.h"
#include "kernels/iq_unpack.h"
#include "kernels/kquant_scales.h"
#include "quant/blocks.h"

namespace lp::kernels {
namespace {

using namespace lp::quant;

float dot_f32(const void* w, const void* xq, int64_t n) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
float dot_f16(const void* w, const void* xq, int64_t n) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const float* b = static_cast<const float*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += f16_to_f32(a[i]) * b[i];
  return s;
}
float dot_bf16(const void* w, const void* xq, int64_t n) {
  const uint16_t* a = static_cast<const uint16_t*>(w);
  const float* b = static_cast<const float*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += bf16_to_f32(a[i]) * b[i];
  return s;
}

// 32-element blocks: w nibble j (low) is element j, high nibble element j+16.
float dot_q4_0(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q4_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) {
      sum += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    }
    s += f16_to_f32(x[i].d) * f16_to_f32(y[i].d) * static_cast<float>(sum);
  }
  return s;
}
float dot_q4_1(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q4_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) sum += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
    s += f16_to_f32(x[i].d) * f16_to_f32(y[i].d) * static_cast<float>(sum) + f16_to_f32(x[i].m) * f16_to_f32(y[i].s);
  }
  return s;
}
float dot_q5_0(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q5_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    int sum = 0;
    for (int j = 0; j < 16; ++j) {
      const int h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
      sum += (((x[i].qs[j] & 0xF) | h0) - 16) * y[i].qs[j] + (((x[i].qs[j] >> 4) | h1) - 16) * y[i].qs[j + 16];
    }
    s += f16_to_f32(x[i].d) * f16_to_f32(y[i].d) * static_cast<float>(sum);
  }
  return s;
}
float dot_q5_1(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q5_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    int sum = 0;
    for (int j = 0; j < 16; ++j) {
      const int h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
      sum += ((x[i].qs[j] & 0xF) | h0) * y[i].qs[j] + ((x[i].qs[j] >> 4) | h1) * y[i].qs[j + 16];
    }
    s += f16_to_f32(x[i].d) * f16_to_f32(y[i].d) * static_cast<float>(sum) + f16_to_f32(x[i].m) * f16_to_f32(y[i].s);
  }
  return s;
}
float dot_q8_0(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q8_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += x[i].qs[j] * y[i].qs[j];
    s += f16_to_f32(x[i].d) * f16_to_f32(y[i].d) * static_cast<float>(sum);
  }
  return s;
}
template <const int8_t* kTable>
int dot_codebook_32(const uint8_t* qs, const int8_t* y) {
  int sum = 0;
  for (int j = 0; j < 16; ++j) sum += kTable[qs[j] & 0xF] * y[j] + kTable[qs[j] >> 4] * y[j + 16];
  return sum;
}
inline constexpr const int8_t* kIq4nl = kvalues_iq4nl;
inline constexpr const int8_t* kMxfp4 = kvalues_mxfp4;
float dot_iq4_nl(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_iq4_nl*>(w);
  const auto* y = static_cast<const block_q8_0*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    const int sum = dot_codebook_32<kIq4nl>(x[i].qs, y[i].qs);
    s += f16_to_f32(x[i].d) * f16_to_f32(y[i].d) * static_cast<float>(sum);
  }
  return s;
}
float dot_mxfp4(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_mxfp4*>(w);
  const auto* y = static_cast<const block_q8_0*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    const int sum = dot_codebook_32<kMxfp4>(x[i].qs, y[i].qs);
    s += e8m0_to_f32_half(x[i].e) * f16_to_f32(y[i].d) * static_cast<float>(sum);
  }
  return s;
}

// K-quants against q8_K: integer sums per sub-block, scaled once per super-block.
float dot_q2_K(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q2_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    int sumi = 0, summ = 0;
    for (int g = 0; g < 16; ++g) summ += (x[i].scales[g] >> 4) * y[i].bsums[g];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = x[i].qs + 32 * half;
      for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 32; ++l) {
          const int g = 8 * half + 2 * j + l / 16;
          sumi += (x[i].scales[g] & 0xF) * ((q[l] >> (2 * j)) & 3) * y[i].qs[128 * half + 32 * j + l];
        }
      }
    }
    s += y[i].d * (f16_to_f32(x[i].d) * static_cast<float>(sumi) - f16_to_f32(x[i].dmin) * static_cast<float>(summ));
  }
  return s;
}
float dot_q3_K(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q3_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    int8_t sc[16];
    unpack_q3k_scales(x[i].scales, sc);
    int sumi = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = x[i].qs + 32 * half;
      for (int j = 0; j < 4; ++j) {
        const int bit = 4 * half + j;
        for (int l = 0; l < 32; ++l) {
          const int g = 8 * half + 2 * j + l / 16;
          const int v = ((q[l] >> (2 * j)) & 3) - (((x[i].hmask[l] >> bit) & 1) ? 0 : 4);
          sumi += sc[g] * v * y[i].qs[128 * half + 32 * j + l];
        }
      }
    }
    s += y[i].d * f16_to_f32(x[i].d) * static_cast<float>(sumi);
  }
  return s;
}
float dot_q4_K(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q4_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    uint8_t sc[8], mn[8];
    unpack_q4k_scales(x[i].scales, sc, mn);
    int sumi = 0, summ = 0;
    for (int j = 0; j < 4; ++j) {
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        s0 += (x[i].qs[32 * j + l] & 0xF) * y[i].qs[64 * j + l];
        s1 += (x[i].qs[32 * j + l] >> 4) * y[i].qs[64 * j + 32 + l];
      }
      sumi += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
    }
    for (int k = 0; k < 8; ++k) summ += mn[k] * (y[i].bsums[2 * k] + y[i].bsums[2 * k + 1]);
    s += y[i].d * (f16_to_f32(x[i].d) * static_cast<float>(sumi) - f16_to_f32(x[i].dmin) * static_cast<float>(summ));
  }
  return s;
}
float dot_q5_K(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q5_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    uint8_t sc[8], mn[8];
    unpack_q4k_scales(x[i].scales, sc, mn);
    int sumi = 0, summ = 0;
    for (int j = 0; j < 4; ++j) {
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        const int h0 = ((x[i].qh[l] >> (2 * j)) & 1) << 4, h1 = ((x[i].qh[l] >> (2 * j + 1)) & 1) << 4;
        s0 += ((x[i].qs[32 * j + l] & 0xF) | h0) * y[i].qs[64 * j + l];
        s1 += ((x[i].qs[32 * j + l] >> 4) | h1) * y[i].qs[64 * j + 32 + l];
      }
      sumi += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
    }
    for (int k = 0; k < 8; ++k) summ += mn[k] * (y[i].bsums[2 * k] + y[i].bsums[2 * k + 1]);
    s += y[i].d * (f16_to_f32(x[i].d) * static_cast<float>(sumi) - f16_to_f32(x[i].dmin) * static_cast<float>(summ));
  }
  return s;
}
float dot_q6_K(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_q6_K*>(w);
  const auto* y = static_cast<const block_q8_K*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    int sumi = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[i].ql + 64 * half;
      const uint8_t* qh = x[i].qh + 32 * half;
      const int8_t* sc = x[i].scales + 8 * half;
      const int8_t* q8 = y[i].qs + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int g = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        sumi += sc[g] * q1 * q8[l] + sc[g + 2] * q2 * q8[l + 32] + sc[g + 4] * q3 * q8[l + 64] +
                sc[g + 6] * q4 * q8[l + 96];
      }
    }
    s += y[i].d * f16_to_f32(x[i].d) * static_cast<float>(sumi);
  }
  return s;
}
float dot_iq4_xs(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const block_iq4_xs*>(w);
  const auto* y = static_cast<const block_q8_K*>(xq);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    int sumi = 0;
    for (int ib = 0; ib < 8; ++ib) {
      sumi += iq4xs_scale(x[i].scales_h, x[i].scales_l, ib) * dot_codebook_32<kIq4nl>(x[i].qs + 16 * ib, y[i].qs + 32 * ib);
    }
    s += y[i].d * f16_to_f32(x[i].d) * static_cast<float>(sumi);
  }
  return s;
}

// The i-quants: unpacked to signed codes and per-16 scales (kernels/iq_unpack.h), then integer sums.
template <GgmlType kType>
float dot_iq(const void* w, const void* xq, int64_t n) {
  const auto* y = static_cast<const block_q8_K*>(xq);
  IqUnpacked u;
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    unpack_iq(kType, w, i, u);
    int32_t sumi = 0;
    for (int g = 0; g < QK_K / 16; ++g) {
      int32_t sg = 0;
      for (int j = 0; j < 16; ++j) sg += u.code[16 * g + j] * y[i].qs[16 * g + j];
      sumi += sg * u.scale16[g];
    }
    s += y[i].d * u.d * static_cast<float>(sumi);
  }
  return s;
}

}  // namespace

RowDotFn scalar_row_dot(GgmlType wtype) {
  switch (wtype) {
    case GgmlType::F32: return dot_f32;
    case GgmlType::F16: return dot_f16;
    case GgmlType::BF16: return dot_bf16;
    case GgmlType::Q4_0: return dot_q4_0;
    case GgmlType::Q4_1: return dot_q4_1;
    case GgmlType::Q5_0: return dot_q5_0;
    case GgmlType::Q5_1: return dot_q5_1;
    case GgmlType::Q8_0: return dot_q8_0;
    case GgmlType::Q2_K: return dot_q2_K;
    case GgmlType::Q3_K: return dot_q3_K;
    case GgmlType::Q4_K: return dot_q4_K;
    case GgmlType::Q5_K: return dot_q5_K;
    case GgmlType::Q6_K: return dot_q6_K;
    case GgmlType::IQ4_NL: return dot_iq4_nl;
    case GgmlType::IQ4_XS: return dot_iq4_xs;
    case GgmlType::MXFP4: return dot_mxfp4;
    case GgmlType::IQ2_XXS: return dot_iq<GgmlType::IQ2_XXS>;
    case GgmlType::IQ2_XS: return dot_iq<GgmlType::IQ2_XS>;
    case GgmlType::IQ2_S: return dot_iq<GgmlType::IQ2_S>;
    case GgmlType::IQ3_XXS: return dot_iq<GgmlType::IQ3_XXS>;
    case GgmlType::IQ3_S: return dot_iq<GgmlType::IQ3_S>;
    case GgmlType::IQ1_S: return dot_iq<GgmlType::IQ1_S>;
    case GgmlType::IQ1_M: return dot_iq<GgmlType::IQ1_M>;
    default: return nullptr;
  }
}

}  // namespace lp::kernels
