// Per-target row dot products for MLX affine weights (w = scale·q + bias per group) against float
// activations. 4-bit codes sit two per byte in element order, so the caller pre-permutes x per
// 16-element chunk into [even elements | odd elements] (mlx_prepare_x): then the low nibbles of 8
// bytes meet x' [0..8) and the high nibbles x' [8..16) with no in-register shuffling.
#if defined(LP_KERNELS_DOT_MLX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_DOT_MLX_INL_H_
#undef LP_KERNELS_DOT_MLX_INL_H_
#else
#define LP_KERNELS_DOT_MLX_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lp::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Σ_g scale_g · Σ_{e in g} q_e·x_e  (the bias part, Σ_g bias_g·Σx_g, is added by the caller).
// bits 4: xp is the permuted x; bits 8: plain x.
float MlxScaledCodeDot(const uint8_t* packed, const float* scales, const float* xp, int64_t cols, int group_size,
                       int bits) {
  const hn::CappedTag<float, 8> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(df)> d8;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto acc = hn::Zero(df);
  const int64_t groups = cols / group_size;
  for (int64_t g = 0; g < groups; ++g) {
    auto a0 = hn::Zero(df), a1 = hn::Zero(df);
    const float* xg = xp + g * group_size;
    if (bits == 4) {
      const uint8_t* p = packed + g * group_size / 2;
      for (int64_t c = 0; c < group_size; c += 16) {
        for (int64_t b = 0; b < 8; b += N) {
          const auto q = hn::PromoteTo(di, hn::LoadU(d8, p + c / 2 + b));
          a0 = hn::MulAdd(hn::ConvertTo(df, hn::And(q, hn::Set(di, 0xF))), hn::LoadU(df, xg + c + b), a0);
          a1 = hn::MulAdd(hn::ConvertTo(df, hn::ShiftRight<4>(q)), hn::LoadU(df, xg + c + 8 + b), a1);
        }
      }
    } else {  // 8 bits
      const uint8_t* p = packed + g * group_size;
      for (int64_t c = 0; c < group_size; c += 2 * N) {
        a0 = hn::MulAdd(hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, p + c))), hn::LoadU(df, xg + c), a0);
        a1 = hn::MulAdd(hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, p + c + N))), hn::LoadU(df, xg + c + N), a1);
      }
    }
    acc = hn::MulAdd(hn::Add(a0, a1), hn::Set(df, scales[g]), acc);
  }
  return hn::GetLane(hn::SumOfLanes(df, acc));
}

}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
