// Per-target building blocks of the integer dot products (Highway -inl header: included once per
// target by matmul_simd.cpp through foreach_target.h). Vectors are capped at 32 bytes: a 256-bit
// vector holds one 32-element quant block, and AVX-512 targets gain VNNI without paying for
// 512-bit unpacking of 4-bit weights (decode is memory bound anyway).
//
// Highway 1.0.3 has no u8×i8 pairwise multiply-add, so MaddUbs/MaddI16/SignI8/DotAcc wrap the
// x86 intrinsics per target. The SCALAR target never uses this file's vector code.
#if defined(LP_KERNELS_SIMD_OPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_SIMD_OPS_INL_H_
#undef LP_KERNELS_SIMD_OPS_INL_H_
#else
#define LP_KERNELS_SIMD_OPS_INL_H_
#endif

#include <bit>
#include <cstdint>

#include "core/fp16.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
// Highway 1.0.3 compiles AVX3_DL with "avxvnni" (VEX-encoded VNNI, absent on Ice Lake / Zen 4) but
// only checks the CPU for AVX512-VNNI. We enable the latter, and DotAcc emits dpbusd through
// inline asm with an explicit {evex} encoding, since GCC prefers the VEX form when both are on.
#pragma GCC target("avx512vnni")
#endif
namespace lp::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Defined while compiling an x86 SIMD target (this header is re-entered once per target).
#undef LP_KERNELS_X86_SIMD
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
#define LP_KERNELS_X86_SIMD 1

using D8u = hn::CappedTag<uint8_t, 32>;
using D8i = hn::CappedTag<int8_t, 32>;
using D16 = hn::CappedTag<int16_t, 16>;
using D32 = hn::CappedTag<int32_t, 8>;
using DF = hn::CappedTag<float, 8>;
using V8u = hn::Vec<D8u>;
using V8i = hn::Vec<D8i>;
using V16 = hn::Vec<D16>;
using V32 = hn::Vec<D32>;
using VF = hn::Vec<DF>;
// Bytes per vector: 32 on AVX2/AVX-512 targets, 16 on SSSE3/SSE4.
constexpr size_t kVecBytes = hn::MaxLanes(D8u());

#if HWY_TARGET <= HWY_AVX2
static_assert(kVecBytes == 32);
HWY_INLINE V16 MaddUbs(V8u a, V8i b) { return V16{_mm256_maddubs_epi16(a.raw, b.raw)}; }
HWY_INLINE V32 MaddI16(V16 a, V16 b) { return V32{_mm256_madd_epi16(a.raw, b.raw)}; }
// b with the sign of a applied (0 where a is 0).
HWY_INLINE V8i SignI8(V8i b, V8i a) { return V8i{_mm256_sign_epi8(b.raw, a.raw)}; }
HWY_INLINE float HalfToFloat(uint16_t h) { return _cvtsh_ss(h); }
#else
static_assert(kVecBytes == 16);
HWY_INLINE V16 MaddUbs(V8u a, V8i b) { return V16{_mm_maddubs_epi16(a.raw, b.raw)}; }
HWY_INLINE V32 MaddI16(V16 a, V16 b) { return V32{_mm_madd_epi16(a.raw, b.raw)}; }
HWY_INLINE V8i SignI8(V8i b, V8i a) { return V8i{_mm_sign_epi8(b.raw, a.raw)}; }
// Branch-free binary16 -> float (the FP16 library's trick; the core version branches).
HWY_INLINE float HalfToFloat(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u, two_w = w + w;
  const float normalized = std::bit_cast<float>((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
  const float denormalized = std::bit_cast<float>((two_w >> 17) | (126u << 23)) - 0.5f;
  const uint32_t bits = two_w < (1u << 27) ? std::bit_cast<uint32_t>(denormalized) : std::bit_cast<uint32_t>(normalized);
  return std::bit_cast<float>(sign | bits);
}
#endif

// acc + Σ over each 4 bytes of a[k]*b[k] (a unsigned, b signed; pairwise sums must fit int16,
// which holds for every caller: |a| <= 128, |b| <= 127).
HWY_INLINE V32 DotAcc(V32 acc, V8u a, V8i b) {
#if HWY_TARGET == HWY_AVX3_DL
  __m256i r = acc.raw;
  asm("%{evex%} vpdpbusd %2, %1, %0" : "+v"(r) : "v"(a.raw), "v"(b.raw));
  return V32{r};
#else
  return hn::Add(acc, MaddI16(MaddUbs(a, b), hn::Set(D16(), 1)));
#endif
}

// Signed × signed bytes via |w| and sign(w)·x (x must not hold -128).
HWY_INLINE V32 DotAccSigned(V32 acc, V8i w, V8i x) {
  return DotAcc(acc, hn::BitCast(D8u(), hn::Abs(w)), SignI8(x, w));
}

// int16 vector whose first 8 lanes are a and last 8 are b (256-bit), or all a (128-bit): the
// per-16-element scales of Q2_K/Q3_K/Q6_K when one vector spans 32 elements.
HWY_INLINE V16 ScalePair(int a, int b) {
#if HWY_TARGET <= HWY_AVX2
  return V16{_mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(b)), _mm_set1_epi16(static_cast<int16_t>(a)))};
#else
  (void)b;
  return hn::Set(D16(), static_cast<int16_t>(a));
#endif
}

// Calls f(offset, nibbles) for the 32 4-bit values of a ggml 32-block (16 bytes: low nibbles are
// elements 0..15, high nibbles 16..31), one vector of kVecBytes elements at a time.
template <class F>
HWY_INLINE void ForBlockNibbles(const uint8_t* qs, F&& f) {
  const hn::Full128<uint8_t> d128;
  const auto q = hn::LoadU(d128, qs);
  const auto lo = hn::And(q, hn::Set(d128, 0x0F));
  const auto hi = hn::ShiftRight<4>(q);
#if HWY_TARGET <= HWY_AVX2
  f(0, hn::Combine(D8u(), hi, lo));
#else
  f(0, lo);
  f(16, hi);
#endif
}

// E8M0 scale halved (MXFP4 codebook values are doubled), as lp::e8m0_to_f32_half.
HWY_INLINE float E8M0Half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  return std::bit_cast<float>(bits);
}

HWY_INLINE float ReduceF(VF v) { return hn::GetLane(hn::SumOfLanes(DF(), v)); }
HWY_INLINE int32_t ReduceI(V32 v) { return hn::GetLane(hn::SumOfLanes(D32(), v)); }

#endif  // x86 SIMD target

}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
