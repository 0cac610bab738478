// Per-target dot products of the 256-element super-block types (Q2_K..Q6_K, IQ4_XS) with a q8_K
// activation row. Sub-block scales are applied in int16×int16→int32 multiply-adds (MaddI16), so a
// whole super-block accumulates in int32 and is converted to float once; mins and constant offsets
// go through the activation's per-16 sums (bsums) instead of the vectors.
#if defined(LP_KERNELS_DOT_KQUANTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_DOT_KQUANTS_INL_H_
#undef LP_KERNELS_DOT_KQUANTS_INL_H_
#else
#define LP_KERNELS_DOT_KQUANTS_INL_H_
#endif

#include "kernels/kquant_scales.h"
#include "kernels/simd_ops-inl.h"
#include "quant/blocks.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace lp::kernels::HWY_NAMESPACE {
#ifdef LP_KERNELS_X86_SIMD

using quant::block_q8_K;
using quant::QK_K;

// Eight 8-bit scales as int16, repeated in every 128-bit block of the vector.
template <class T>
HWY_INLINE V16 DupScales8(const T* s8) {
  const hn::Full128<int16_t> d128;
  const auto v = hn::PromoteTo(d128, hn::LoadU(hn::Full64<T>(), s8));
#if HWY_TARGET <= HWY_AVX2
  return hn::Combine(D16(), v, v);
#else
  return v;
#endif
}

// From a DupScales8 vector: int16 lane a in the first 16 elements' lanes, lane b in the second
// 16 (256-bit), or lane a everywhere (128-bit): one byte shuffle with a constant index.
HWY_INLINE V16 PickScales(V16 scales, int a, int b) {
#if HWY_TARGET <= HWY_AVX2
  return hn::TableLookupBytes(scales, hn::LoadU(D16(), kScalePairIndex.v[a][b]));
#else
  (void)b;
  return hn::TableLookupBytes(scales, hn::Set(D16(), static_cast<int16_t>((2 * a) | ((2 * a + 1) << 8))));
#endif
}

// Σ over 16 groups of scale16[g] * bsums[g], as int32 lanes (no horizontal reduction).
template <class T>
HWY_INLINE V32 BsumProducts(const int16_t* bsums, const T* scales8) {
  V32 s = hn::Zero(D32());
  const hn::Rebind<T, D16> d8;
  for (size_t g = 0; g < 16; g += hn::MaxLanes(D16())) {
    s = hn::Add(s, MaddI16(hn::LoadU(D16(), bsums + g), hn::PromoteTo(D16(), hn::LoadU(d8, scales8 + g))));
  }
  return s;
}

// Two super-blocks in flight, each adding d·sumi to its own accumulator; terms scaled by dmin
// (the mins) go to a third accumulator. Everything is reduced once per row.
template <class Block, class BlockFn>
HWY_INLINE float SumSuperBlocks(const Block* x, const block_q8_K* y, int64_t nb, BlockFn&& block) {
  VF acc0 = hn::Zero(DF()), acc1 = hn::Zero(DF()), accm = hn::Zero(DF());
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    acc0 = block(x[i], y[i], acc0, accm);
    acc1 = block(x[i + 1], y[i + 1], acc1, accm);
  }
  if (i < nb) acc0 = block(x[i], y[i], acc0, accm);
  return ReduceF(hn::Add(hn::Add(acc0, acc1), accm));
}

// Q4_K/Q5_K mins: accm += -dmin·d8 · Σ_k min[k]·(bsums[2k] + bsums[2k+1]).
HWY_INLINE VF AddMins8(const uint8_t* mins, const int16_t* bsums, float neg_dmin, VF accm) {
  const hn::Rebind<uint8_t, D32> d8;
  for (size_t k = 0; k < 8; k += hn::MaxLanes(D32())) {
    const V32 pairs = MaddI16(hn::LoadU(D16(), bsums + 2 * k), hn::Set(D16(), 1));
    const V32 m = hn::PromoteTo(D32(), hn::LoadU(d8, mins + k));
    accm = hn::MulAdd(hn::ConvertTo(DF(), hn::Mul(pairs, m)), hn::Set(DF(), neg_dmin), accm);
  }
  return accm;
}

float DotQ4_K(const void* w, const void* xq, int64_t n) {
  return SumSuperBlocks(static_cast<const quant::block_q4_K*>(w), static_cast<const block_q8_K*>(xq), n / QK_K,
                        [](const quant::block_q4_K& x, const block_q8_K& y, VF acc, VF& accm) {
                          alignas(16) uint8_t sm[16];
                          unpack_q4k_scales_mins(x.scales, sm);
                          accm = AddMins8(sm + 8, y.bsums, -y.d * HalfToFloat(x.dmin), accm);
                          const V16 scales = DupScales8(sm);
                          V32 sumi = hn::Zero(D32());
                          const V8u m4 = hn::Set(D8u(), 0x0F);
                          for (int j = 0; j < 4; ++j) {
                            const V16 s0 = PickScales(scales, 2 * j, 2 * j), s1 = PickScales(scales, 2 * j + 1, 2 * j + 1);
                            for (size_t h = 0; h < 32; h += kVecBytes) {
                              const V8u q = hn::LoadU(D8u(), x.qs + 32 * j + h);
                              const V8i y0 = hn::LoadU(D8i(), y.qs + 64 * j + h);
                              const V8i y1 = hn::LoadU(D8i(), y.qs + 64 * j + 32 + h);
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(hn::And(q, m4), y0), s0));
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(hn::ShiftRight<4>(q), y1), s1));
                            }
                          }
                          return hn::MulAdd(hn::ConvertTo(DF(), sumi), hn::Set(DF(), y.d * HalfToFloat(x.d)), acc);
                        });
}

float DotQ5_K(const void* w, const void* xq, int64_t n) {
  return SumSuperBlocks(static_cast<const quant::block_q5_K*>(w), static_cast<const block_q8_K*>(xq), n / QK_K,
                        [](const quant::block_q5_K& x, const block_q8_K& y, VF acc, VF& accm) {
                          alignas(16) uint8_t sm[16];
                          unpack_q4k_scales_mins(x.scales, sm);
                          accm = AddMins8(sm + 8, y.bsums, -y.d * HalfToFloat(x.dmin), accm);
                          const V16 scales = DupScales8(sm);
                          V32 sumi = hn::Zero(D32());
                          const V8u m4 = hn::Set(D8u(), 0x0F), b4 = hn::Set(D8u(), 0x10);
                          for (size_t h = 0; h < 32; h += kVecBytes) {
                            V8u hb = hn::LoadU(D8u(), x.qh + h);  // bit 2j / 2j+1: fifth bit of chunk j
                            for (int j = 0; j < 4; ++j) {
                              const V8u q = hn::LoadU(D8u(), x.qs + 32 * j + h);
                              const V8u q0 = hn::Or(hn::And(q, m4), hn::And(hn::ShiftLeft<4>(hb), b4));
                              const V8u q1 = hn::Or(hn::ShiftRight<4>(q), hn::And(hn::ShiftLeft<3>(hb), b4));
                              hb = hn::ShiftRight<2>(hb);
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(q0, hn::LoadU(D8i(), y.qs + 64 * j + h)), PickScales(scales, 2 * j, 2 * j)));
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(q1, hn::LoadU(D8i(), y.qs + 64 * j + 32 + h)),
                                                           PickScales(scales, 2 * j + 1, 2 * j + 1)));
                            }
                          }
                          return hn::MulAdd(hn::ConvertTo(DF(), sumi), hn::Set(DF(), y.d * HalfToFloat(x.d)), acc);
                        });
}

// Q6_K: 6-bit values 0..63 with an implicit -32, one int8 scale per 16 elements. The -32 joins the
// integer sum exactly through bsums: Σ sc·(q-32)·y = Σ sc·q·y - 32·Σ_g sc_g·bsum_g.
float DotQ6_K(const void* w, const void* xq, int64_t n) {
  return SumSuperBlocks(static_cast<const quant::block_q6_K*>(w), static_cast<const block_q8_K*>(xq), n / QK_K,
                        [](const quant::block_q6_K& x, const block_q8_K& y, VF acc, VF&) {
                          V32 sumi = hn::Neg(hn::ShiftLeft<5>(BsumProducts(y.bsums, x.scales)));
                          const V8u m4 = hn::Set(D8u(), 0x0F), m3 = hn::Set(D8u(), 0x03);
                          for (int half = 0; half < 2; ++half) {
                            const uint8_t* ql = x.ql + 64 * half;
                            const uint8_t* qh = x.qh + 32 * half;
                            const int8_t* q8 = y.qs + 128 * half;
                            const V16 scales = DupScales8(x.scales + 8 * half);
                            for (size_t h = 0; h < 32; h += kVecBytes) {
                              const int g = static_cast<int>(h / 16);  // 0 on 256-bit, 0/1 on 128-bit
                              const V8u a = hn::LoadU(D8u(), ql + h), b = hn::LoadU(D8u(), ql + 32 + h);
                              const V8u hb = hn::LoadU(D8u(), qh + h);
                              const V8u q1 = hn::Or(hn::And(a, m4), hn::ShiftLeft<4>(hn::And(hb, m3)));
                              const V8u q2 = hn::Or(hn::And(b, m4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(hb), m3)));
                              const V8u q3 = hn::Or(hn::ShiftRight<4>(a), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(hb), m3)));
                              const V8u q4 = hn::Or(hn::ShiftRight<4>(b), hn::ShiftLeft<4>(hn::ShiftRight<6>(hb)));
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(q1, hn::LoadU(D8i(), q8 + h)), PickScales(scales, g, g + 1)));
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(q2, hn::LoadU(D8i(), q8 + 32 + h)), PickScales(scales, g + 2, g + 3)));
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(q3, hn::LoadU(D8i(), q8 + 64 + h)), PickScales(scales, g + 4, g + 5)));
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(q4, hn::LoadU(D8i(), q8 + 96 + h)), PickScales(scales, g + 6, g + 7)));
                            }
                          }
                          return hn::MulAdd(hn::ConvertTo(DF(), sumi), hn::Set(DF(), y.d * HalfToFloat(x.d)), acc);
                        });
}

// Q3_K: 2 low bits in qs, third bit in hmask (set: +0, clear: -4), signed 6-bit scale per 16.
// Computed as Σ sc·u·y - 4·Σ_g sc_g·bsum_g with u = low | (hbit << 2) in 0..7.
float DotQ3_K(const void* w, const void* xq, int64_t n) {
  return SumSuperBlocks(static_cast<const quant::block_q3_K*>(w), static_cast<const block_q8_K*>(xq), n / QK_K,
                        [](const quant::block_q3_K& x, const block_q8_K& y, VF acc, VF&) {
                          alignas(16) int8_t sc8[16];
                          unpack_q3k_scales(x.scales, sc8);
                          V32 sumi = hn::Neg(hn::ShiftLeft<2>(BsumProducts(y.bsums, sc8)));
                          const V8u m3 = hn::Set(D8u(), 0x03), b2 = hn::Set(D8u(), 0x04);
                          for (size_t h = 0; h < 32; h += kVecBytes) {
                            V8u hm = hn::LoadU(D8u(), x.hmask + h);
                            const int g = static_cast<int>(h / 16);
                            for (int half = 0; half < 2; ++half) {
                              const V16 scales = DupScales8(sc8 + 8 * half);
                              V8u q = hn::LoadU(D8u(), x.qs + 32 * half + h);
                              for (int j = 0; j < 4; ++j) {
                                const V8u u = hn::Or(hn::And(q, m3), hn::And(hn::ShiftLeft<2>(hm), b2));
                                q = hn::ShiftRight<2>(q);
                                hm = hn::ShiftRight<1>(hm);
                                sumi = hn::Add(sumi, MaddI16(MaddUbs(u, hn::LoadU(D8i(), y.qs + 128 * half + 32 * j + h)),
                                                             PickScales(scales, 2 * j + g, 2 * j + 1)));
                              }
                            }
                          }
                          return hn::MulAdd(hn::ConvertTo(DF(), sumi), hn::Set(DF(), y.d * HalfToFloat(x.d)), acc);
                        });
}

// Q2_K: 2-bit values, per-16 4-bit scale (low nibble) and 4-bit min (high nibble).
float DotQ2_K(const void* w, const void* xq, int64_t n) {
  return SumSuperBlocks(static_cast<const quant::block_q2_K*>(w), static_cast<const block_q8_K*>(xq), n / QK_K,
                        [](const quant::block_q2_K& x, const block_q8_K& y, VF acc, VF& accm) {
                          alignas(16) uint8_t sc[16], mn[16];
                          for (int g = 0; g < 16; ++g) {
                            sc[g] = x.scales[g] & 0xF;
                            mn[g] = x.scales[g] >> 4;
                          }
                          accm = hn::MulAdd(hn::ConvertTo(DF(), BsumProducts(y.bsums, mn)), hn::Set(DF(), -y.d * HalfToFloat(x.dmin)), accm);
                          V32 sumi = hn::Zero(D32());
                          const V8u m3 = hn::Set(D8u(), 0x03);
                          for (int half = 0; half < 2; ++half) {
                            const V16 scales = DupScales8(sc + 8 * half);
                            for (size_t h = 0; h < 32; h += kVecBytes) {
                              V8u q = hn::LoadU(D8u(), x.qs + 32 * half + h);
                              const int g = static_cast<int>(h / 16);
                              for (int j = 0; j < 4; ++j) {
                                sumi = hn::Add(sumi, MaddI16(MaddUbs(hn::And(q, m3), hn::LoadU(D8i(), y.qs + 128 * half + 32 * j + h)),
                                                             PickScales(scales, 2 * j + g, 2 * j + 1)));
                                q = hn::ShiftRight<2>(q);
                              }
                            }
                          }
                          return hn::MulAdd(hn::ConvertTo(DF(), sumi), hn::Set(DF(), y.d * HalfToFloat(x.d)), acc);
                        });
}

// Four activation rows at once (prefill): the super-block's nibbles, scales and mins are
// unpacked once and reused for every token.
void DotQ4_Kx4(const void* w, const void* xq, size_t x_stride, const float*, int64_t n, float* out) {
  const auto* x = static_cast<const quant::block_q4_K*>(w);
  const block_q8_K* y[4];
  for (int t = 0; t < 4; ++t) y[t] = reinterpret_cast<const block_q8_K*>(static_cast<const uint8_t*>(xq) + t * x_stride);
  VF acc[4], accm[4];
  for (int t = 0; t < 4; ++t) acc[t] = accm[t] = hn::Zero(DF());
  const V8u m4 = hn::Set(D8u(), 0x0F);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    alignas(16) uint8_t sm[16];
    unpack_q4k_scales_mins(x[i].scales, sm);
    const float d = HalfToFloat(x[i].d), dmin = HalfToFloat(x[i].dmin);
    const V16 scales = DupScales8(sm);
    V32 sumi[4];
    for (int t = 0; t < 4; ++t) {
      accm[t] = AddMins8(sm + 8, y[t][i].bsums, -y[t][i].d * dmin, accm[t]);
      sumi[t] = hn::Zero(D32());
    }
    for (int j = 0; j < 4; ++j) {
      const V16 s0 = PickScales(scales, 2 * j, 2 * j), s1 = PickScales(scales, 2 * j + 1, 2 * j + 1);
      for (size_t h = 0; h < 32; h += kVecBytes) {
        const V8u q = hn::LoadU(D8u(), x[i].qs + 32 * j + h);
        const V8u lo = hn::And(q, m4), hi = hn::ShiftRight<4>(q);
        for (int t = 0; t < 4; ++t) {
          const V32 p0 = MaddI16(MaddUbs(lo, hn::LoadU(D8i(), y[t][i].qs + 64 * j + h)), s0);
          const V32 p1 = MaddI16(MaddUbs(hi, hn::LoadU(D8i(), y[t][i].qs + 64 * j + 32 + h)), s1);
          sumi[t] = hn::Add(sumi[t], hn::Add(p0, p1));
        }
      }
    }
    for (int t = 0; t < 4; ++t) acc[t] = hn::MulAdd(hn::ConvertTo(DF(), sumi[t]), hn::Set(DF(), y[t][i].d * d), acc[t]);
  }
  for (int t = 0; t < 4; ++t) out[t] = ReduceF(hn::Add(acc[t], accm[t]));
}

void DotQ6_Kx4(const void* w, const void* xq, size_t x_stride, const float*, int64_t n, float* out) {
  const auto* x = static_cast<const quant::block_q6_K*>(w);
  const block_q8_K* y[4];
  for (int t = 0; t < 4; ++t) y[t] = reinterpret_cast<const block_q8_K*>(static_cast<const uint8_t*>(xq) + t * x_stride);
  VF acc[4];
  for (int t = 0; t < 4; ++t) acc[t] = hn::Zero(DF());
  const V8u m4 = hn::Set(D8u(), 0x0F), m3 = hn::Set(D8u(), 0x03);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    V32 sumi[4];
    for (int t = 0; t < 4; ++t) sumi[t] = hn::Neg(hn::ShiftLeft<5>(BsumProducts(y[t][i].bsums, x[i].scales)));
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[i].ql + 64 * half;
      const uint8_t* qh = x[i].qh + 32 * half;
      const V16 scales = DupScales8(x[i].scales + 8 * half);
      for (size_t h = 0; h < 32; h += kVecBytes) {
        const int g = static_cast<int>(h / 16);
        const V8u a = hn::LoadU(D8u(), ql + h), b = hn::LoadU(D8u(), ql + 32 + h);
        const V8u hb = hn::LoadU(D8u(), qh + h);
        const V8u q[4] = {hn::Or(hn::And(a, m4), hn::ShiftLeft<4>(hn::And(hb, m3))),
                          hn::Or(hn::And(b, m4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(hb), m3))),
                          hn::Or(hn::ShiftRight<4>(a), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(hb), m3))),
                          hn::Or(hn::ShiftRight<4>(b), hn::ShiftLeft<4>(hn::ShiftRight<6>(hb)))};
        for (int k = 0; k < 4; ++k) {
          const V16 sc = PickScales(scales, g + 2 * k, g + 2 * k + 1);
          for (int t = 0; t < 4; ++t) {
            const int8_t* q8 = y[t][i].qs + 128 * half + 32 * k + h;
            sumi[t] = hn::Add(sumi[t], MaddI16(MaddUbs(q[k], hn::LoadU(D8i(), q8)), sc));
          }
        }
      }
    }
    const float d = HalfToFloat(x[i].d);
    for (int t = 0; t < 4; ++t) acc[t] = hn::MulAdd(hn::ConvertTo(DF(), sumi[t]), hn::Set(DF(), y[t][i].d * d), acc[t]);
  }
  for (int t = 0; t < 4; ++t) out[t] = ReduceF(acc[t]);
}

// IQ4_XS: IQ4_NL codebook values in 32-element sub-blocks with a 6-bit scale each.
float DotIQ4_XS(const void* w, const void* xq, int64_t n) {
  const V8i table = hn::LoadDup128(D8i(), quant::kvalues_iq4nl);
  return SumSuperBlocks(static_cast<const quant::block_iq4_xs*>(w), static_cast<const block_q8_K*>(xq), n / QK_K,
                        [&](const quant::block_iq4_xs& x, const block_q8_K& y, VF acc, VF&) {
                          V32 sumi = hn::Zero(D32());
                          for (int ib = 0; ib < 8; ++ib) {
                            const V16 ls = hn::Set(D16(), static_cast<int16_t>(iq4xs_scale(x.scales_h, x.scales_l, ib)));
                            ForBlockNibbles(x.qs + 16 * ib, [&](size_t h, V8u q) {
                              const V8i wv = hn::TableLookupBytes(table, hn::BitCast(D8i(), q));
                              const V8i yv = hn::LoadU(D8i(), y.qs + 32 * ib + h);
                              sumi = hn::Add(sumi, MaddI16(MaddUbs(hn::BitCast(D8u(), hn::Abs(wv)), SignI8(yv, wv)), ls));
                            });
                          }
                          return hn::MulAdd(hn::ConvertTo(DF(), sumi), hn::Set(DF(), y.d * HalfToFloat(x.d)), acc);
                        });
}

#endif  // LP_KERNELS_X86_SIMD
}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
