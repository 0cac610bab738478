// Per-target dot products of the 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL,
// MXFP4) with a q8_0 / q8_1 activation row. Each block's integer sum stays in int32 lanes and is
// scaled into a float accumulator once per block (ggml's scheme).
#if defined(LP_KERNELS_DOT_BLOCKS32_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_DOT_BLOCKS32_INL_H_
#undef LP_KERNELS_DOT_BLOCKS32_INL_H_
#else
#define LP_KERNELS_DOT_BLOCKS32_INL_H_
#endif

#include <cstring>

#include "kernels/simd_ops-inl.h"
#include "quant/blocks.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace lp::kernels::HWY_NAMESPACE {
#ifdef LP_KERNELS_X86_SIMD

using quant::block_q8_0;
using quant::block_q8_1;

HWY_INLINE V32 Q8BlockSum(const int8_t* w, const int8_t* x) {
  V32 s = hn::Zero(D32());
  for (size_t h = 0; h < 32; h += kVecBytes) s = DotAccSigned(s, hn::LoadU(D8i(), w + h), hn::LoadU(D8i(), x + h));
  return s;
}

// Two independent accumulators hide the convert+FMA latency.
template <class Block, class XBlock, class BlockFn>
HWY_INLINE float SumBlocks(const Block* x, const XBlock* y, int64_t nb, BlockFn&& block) {
  VF acc0 = hn::Zero(DF()), acc1 = hn::Zero(DF());
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    acc0 = block(x[i], y[i], acc0);
    acc1 = block(x[i + 1], y[i + 1], acc1);
  }
  if (i < nb) acc0 = block(x[i], y[i], acc0);
  return ReduceF(hn::Add(acc0, acc1));
}

float DotQ8_0(const void* w, const void* xq, int64_t n) {
  return SumBlocks(static_cast<const block_q8_0*>(w), static_cast<const block_q8_0*>(xq), n / 32,
                   [](const block_q8_0& x, const block_q8_0& y, VF acc) {
                     const float d = HalfToFloat(x.d) * HalfToFloat(y.d);
                     return hn::MulAdd(hn::ConvertTo(DF(), Q8BlockSum(x.qs, y.qs)), hn::Set(DF(), d), acc);
                   });
}

// One activation row with its block scales pre-converted to float (xd): saves the per-block
// half->float conversion of the activation scale, which shows on slow cores (decode).
void DotQ8_0x1(const void* w, const void* xq, size_t, const float* xd, int64_t n, float* out) {
  const auto* x = static_cast<const block_q8_0*>(w);
  const auto* y = static_cast<const block_q8_0*>(xq);
  VF acc0 = hn::Zero(DF()), acc1 = hn::Zero(DF());
  const int64_t nb = n / 32;
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const V32 s0 = Q8BlockSum(x[i].qs, y[i].qs), s1 = Q8BlockSum(x[i + 1].qs, y[i + 1].qs);
    acc0 = hn::MulAdd(hn::ConvertTo(DF(), s0), hn::Set(DF(), HalfToFloat(x[i].d) * xd[i]), acc0);
    acc1 = hn::MulAdd(hn::ConvertTo(DF(), s1), hn::Set(DF(), HalfToFloat(x[i + 1].d) * xd[i + 1]), acc1);
  }
  if (i < nb) acc0 = hn::MulAdd(hn::ConvertTo(DF(), Q8BlockSum(x[i].qs, y[i].qs)), hn::Set(DF(), HalfToFloat(x[i].d) * xd[i]), acc0);
  out[0] = ReduceF(hn::Add(acc0, acc1));
}

// Four activation rows (x_stride bytes apart) against one weight row: the weight block, |w| and
// its scale are loaded/computed once and reused (prefill). Activation scales come from xd.
void DotQ8_0x4(const void* w, const void* xq, size_t x_stride, const float* xd, int64_t n, float* out) {
  const int64_t nb = n / 32;
  const auto* x = static_cast<const block_q8_0*>(w);
  const auto* y0 = static_cast<const block_q8_0*>(xq);
  const auto* y1 = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(xq) + x_stride);
  const auto* y2 = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(xq) + 2 * x_stride);
  const auto* y3 = reinterpret_cast<const block_q8_0*>(static_cast<const uint8_t*>(xq) + 3 * x_stride);
  VF a0 = hn::Zero(DF()), a1 = hn::Zero(DF()), a2 = hn::Zero(DF()), a3 = hn::Zero(DF());
  for (int64_t i = 0; i < nb; ++i) {
    V32 s0 = hn::Zero(D32()), s1 = hn::Zero(D32()), s2 = hn::Zero(D32()), s3 = hn::Zero(D32());
    for (size_t h = 0; h < 32; h += kVecBytes) {
      const V8i wv = hn::LoadU(D8i(), x[i].qs + h);
      const V8u aw = hn::BitCast(D8u(), hn::Abs(wv));
      s0 = DotAcc(s0, aw, SignI8(hn::LoadU(D8i(), y0[i].qs + h), wv));
      s1 = DotAcc(s1, aw, SignI8(hn::LoadU(D8i(), y1[i].qs + h), wv));
      s2 = DotAcc(s2, aw, SignI8(hn::LoadU(D8i(), y2[i].qs + h), wv));
      s3 = DotAcc(s3, aw, SignI8(hn::LoadU(D8i(), y3[i].qs + h), wv));
    }
    const VF dw = hn::Set(DF(), HalfToFloat(x[i].d));
    a0 = hn::MulAdd(hn::ConvertTo(DF(), s0), hn::Mul(dw, hn::Set(DF(), xd[i])), a0);
    a1 = hn::MulAdd(hn::ConvertTo(DF(), s1), hn::Mul(dw, hn::Set(DF(), xd[nb + i])), a1);
    a2 = hn::MulAdd(hn::ConvertTo(DF(), s2), hn::Mul(dw, hn::Set(DF(), xd[2 * nb + i])), a2);
    a3 = hn::MulAdd(hn::ConvertTo(DF(), s3), hn::Mul(dw, hn::Set(DF(), xd[3 * nb + i])), a3);
  }
  out[0] = ReduceF(a0);
  out[1] = ReduceF(a1);
  out[2] = ReduceF(a2);
  out[3] = ReduceF(a3);
}

// Signed nibble blocks: value = nibble - offset.
template <class Block>
HWY_INLINE V32 OffsetNibbleSum(const Block& x, const int8_t* y, int offset) {
  V32 s = hn::Zero(D32());
  ForBlockNibbles(x.qs, [&](size_t h, V8u q) {
    const V8i w = hn::Sub(hn::BitCast(D8i(), q), hn::Set(D8i(), static_cast<int8_t>(offset)));
    s = DotAccSigned(s, w, hn::LoadU(D8i(), y + h));
  });
  return s;
}

float DotQ4_0(const void* w, const void* xq, int64_t n) {
  return SumBlocks(static_cast<const quant::block_q4_0*>(w), static_cast<const block_q8_0*>(xq), n / 32,
                   [](const quant::block_q4_0& x, const block_q8_0& y, VF acc) {
                     const float d = HalfToFloat(x.d) * HalfToFloat(y.d);
                     return hn::MulAdd(hn::ConvertTo(DF(), OffsetNibbleSum(x, y.qs, 8)), hn::Set(DF(), d), acc);
                   });
}

// Q4_1: unsigned nibbles; the min term uses q8_1's precomputed d·Σq.
float DotQ4_1(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const quant::block_q4_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(xq);
  float mins = 0;
  for (int64_t i = 0; i < n / 32; ++i) mins += HalfToFloat(x[i].m) * HalfToFloat(y[i].s);
  return mins + SumBlocks(x, y, n / 32, [](const quant::block_q4_1& b, const block_q8_1& yb, VF acc) {
           V32 s = hn::Zero(D32());
           ForBlockNibbles(b.qs, [&](size_t h, V8u q) { s = DotAcc(s, q, hn::LoadU(D8i(), yb.qs + h)); });
           return hn::MulAdd(hn::ConvertTo(DF(), s), hn::Set(DF(), HalfToFloat(b.d) * HalfToFloat(yb.d)), acc);
         });
}

// Fifth bit of Q5 blocks: bit k of qh belongs to element k.
HWY_INLINE V8u Q5HighBits(const uint8_t* qh, size_t h) {
  const auto mask = hn::LoadMaskBits(D8u(), qh + h / 8);
  return hn::IfThenElseZero(mask, hn::Set(D8u(), 0x10));
}

float DotQ5_0(const void* w, const void* xq, int64_t n) {
  return SumBlocks(static_cast<const quant::block_q5_0*>(w), static_cast<const block_q8_0*>(xq), n / 32,
                   [](const quant::block_q5_0& x, const block_q8_0& y, VF acc) {
                     V32 s = hn::Zero(D32());
                     ForBlockNibbles(x.qs, [&](size_t h, V8u q) {
                       const V8u q5 = hn::Or(q, Q5HighBits(x.qh, h));
                       const V8i wv = hn::Sub(hn::BitCast(D8i(), q5), hn::Set(D8i(), 16));
                       s = DotAccSigned(s, wv, hn::LoadU(D8i(), y.qs + h));
                     });
                     return hn::MulAdd(hn::ConvertTo(DF(), s), hn::Set(DF(), HalfToFloat(x.d) * HalfToFloat(y.d)), acc);
                   });
}

float DotQ5_1(const void* w, const void* xq, int64_t n) {
  const auto* x = static_cast<const quant::block_q5_1*>(w);
  const auto* y = static_cast<const block_q8_1*>(xq);
  float mins = 0;
  for (int64_t i = 0; i < n / 32; ++i) mins += HalfToFloat(x[i].m) * HalfToFloat(y[i].s);
  return mins + SumBlocks(x, y, n / 32, [](const quant::block_q5_1& b, const block_q8_1& yb, VF acc) {
           V32 s = hn::Zero(D32());
           ForBlockNibbles(b.qs, [&](size_t h, V8u q) {
             s = DotAcc(s, hn::Or(q, Q5HighBits(b.qh, h)), hn::LoadU(D8i(), yb.qs + h));
           });
           return hn::MulAdd(hn::ConvertTo(DF(), s), hn::Set(DF(), HalfToFloat(b.d) * HalfToFloat(yb.d)), acc);
         });
}

// 16-entry int8 codebooks (IQ4_NL, MXFP4) through a byte shuffle.
HWY_INLINE V8i LoadCodebook(const int8_t* table) { return hn::LoadDup128(D8i(), table); }

HWY_INLINE V32 CodebookBlockSum(const uint8_t* qs, const int8_t* y, V8i table) {
  V32 s = hn::Zero(D32());
  ForBlockNibbles(qs, [&](size_t h, V8u q) {
    const V8i wv = hn::TableLookupBytes(table, hn::BitCast(D8i(), q));
    s = DotAccSigned(s, wv, hn::LoadU(D8i(), y + h));
  });
  return s;
}

float DotIQ4_NL(const void* w, const void* xq, int64_t n) {
  const V8i table = LoadCodebook(quant::kvalues_iq4nl);
  return SumBlocks(static_cast<const quant::block_iq4_nl*>(w), static_cast<const block_q8_0*>(xq), n / 32,
                   [&](const quant::block_iq4_nl& x, const block_q8_0& y, VF acc) {
                     const float d = HalfToFloat(x.d) * HalfToFloat(y.d);
                     return hn::MulAdd(hn::ConvertTo(DF(), CodebookBlockSum(x.qs, y.qs, table)), hn::Set(DF(), d), acc);
                   });
}

float DotMXFP4(const void* w, const void* xq, int64_t n) {
  const V8i table = LoadCodebook(quant::kvalues_mxfp4);
  return SumBlocks(static_cast<const quant::block_mxfp4*>(w), static_cast<const block_q8_0*>(xq), n / 32,
                   [&](const quant::block_mxfp4& x, const block_q8_0& y, VF acc) {
                     const float d = E8M0Half(x.e) * HalfToFloat(y.d);
                     return hn::MulAdd(hn::ConvertTo(DF(), CodebookBlockSum(x.qs, y.qs, table)), hn::Set(DF(), d), acc);
                   });
}

#endif  // LP_KERNELS_X86_SIMD
}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
