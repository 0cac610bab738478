// Per-target float dot products for F32 / F16 / BF16 weights against float activations: four
// independent FMA chains over the widest vector of the target.
#if defined(LP_KERNELS_DOT_FLOAT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_DOT_FLOAT_INL_H_
#undef LP_KERNELS_DOT_FLOAT_INL_H_
#else
#define LP_KERNELS_DOT_FLOAT_INL_H_
#endif

#include "core/fp16.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lp::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// load(d, i) returns the float vector of weights i .. i+Lanes-1; scalar(i) one weight.
template <class LoadFn, class ScalarFn>
HWY_INLINE float FloatDot(const float* x, int64_t n, LoadFn&& load, ScalarFn&& scalar) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = hn::MulAdd(load(d, i), hn::LoadU(d, x + i), a0);
    a1 = hn::MulAdd(load(d, i + N), hn::LoadU(d, x + i + N), a1);
    a2 = hn::MulAdd(load(d, i + 2 * N), hn::LoadU(d, x + i + 2 * N), a2);
    a3 = hn::MulAdd(load(d, i + 3 * N), hn::LoadU(d, x + i + 3 * N), a3);
  }
  for (; i + N <= n; i += N) a0 = hn::MulAdd(load(d, i), hn::LoadU(d, x + i), a0);
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (; i < n; ++i) s += scalar(i) * x[i];
  return s;
}

float DotF32(const void* w, const void* xq, int64_t n) {
  const float* wf = static_cast<const float*>(w);
  return FloatDot(
      static_cast<const float*>(xq), n, [&](auto d, int64_t i) { return hn::LoadU(d, wf + i); },
      [&](int64_t i) { return wf[i]; });
}

float DotF16(const void* w, const void* xq, int64_t n) {
  const auto* wh = static_cast<const hwy::float16_t*>(w);
  const auto* wu = static_cast<const uint16_t*>(w);
  return FloatDot(
      static_cast<const float*>(xq), n,
      [&](auto d, int64_t i) { return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::float16_t, decltype(d)>(), wh + i)); },
      [&](int64_t i) { return lp::f16_to_f32(wu[i]); });
}

// bf16 -> f32 is a 16-bit shift into the high half.
float DotBF16(const void* w, const void* xq, int64_t n) {
  const auto* wu = static_cast<const uint16_t*>(w);
  return FloatDot(
      static_cast<const float*>(xq), n,
      [&](auto d, int64_t i) {
        const hn::RebindToUnsigned<decltype(d)> du32;
        const auto u16 = hn::LoadU(hn::Rebind<uint16_t, decltype(d)>(), wu + i);
        return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du32, u16)));
      },
      [&](int64_t i) { return lp::bf16_to_f32(wu[i]); });
}

}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
