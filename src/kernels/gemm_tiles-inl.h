// Prefill GEMM tiles: one weight row against T activation rows (T = 1..8). Quantized types (AVX-512 +
// VNNI only): the row's blocks are unpacked once into registers (K-quants: 512-bit vectors holding a
// 64-element chunk of a super-block with its sub-block scales spread over the int32 lanes; Q8_0: one
// 32-element block) and then multiplied against every token of the tile with vpdpbusd, so the
// per-token cost is one load, one dpbusd and one scale multiply per vector. Float types: FMA tiles.
//
// Integer sums are exact and the float scaling is ggml's (d_w·d_x per block / super-block), so
// results equal the one-token kernels up to float summation order.
#if defined(LP_KERNELS_GEMM_TILES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_GEMM_TILES_INL_H_
#undef LP_KERNELS_GEMM_TILES_INL_H_
#else
#define LP_KERNELS_GEMM_TILES_INL_H_
#endif

#include <bit>

#include "core/fp16.h"
#include "kernels/kquant_scales.h"
#include "kernels/simd_ops-inl.h"
#include "kernels/tiles.h"
#include "quant/blocks.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace lp::kernels::HWY_NAMESPACE {

#ifdef LP_KERNELS_X86_SIMD
// F32 / F16 / BF16 weights against float activations: each weight vector is loaded (and widened)
// once and fed to T FMA chains. The driver calls this per column chunk (TileArgs::accumulate adds
// to y), so a chunk of the row block's weights and of the tile's activations stays in L1.
template <int T, int R, class W, class LoadW, class ScalarW>
HWY_INLINE void FloatTile(const W* w, size_t w_row_elems, const TileArgs& a, int64_t cols, float* y, int64_t y_stride,
                          LoadW&& load, ScalarW&& scalar) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const auto* x = reinterpret_cast<const float*>(a.x);
  const size_t xs = a.x_stride / sizeof(float);
  hn::Vec<decltype(d)> acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = hn::Zero(d);
  int64_t c = 0;
  for (; c + N <= cols; c += N) {
    hn::Vec<decltype(d)> wv[R];
    for (int r = 0; r < R; ++r) wv[r] = load(d, w + r * w_row_elems + c);
    for (int t = 0; t < T; ++t) {
      const auto xv = hn::LoadU(d, x + t * xs + c);
      for (int r = 0; r < R; ++r) acc[r][t] = hn::MulAdd(wv[r], xv, acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float sum = hn::GetLane(hn::SumOfLanes(d, acc[r][t]));
      for (int64_t k = c; k < cols; ++k) sum += scalar(w[r * w_row_elems + k]) * x[t * xs + k];
      float& out = y[t * y_stride + r];
      out = a.accumulate ? out + sum : sum;
    }
  }
}

// R = 1: one row; R = 2: rows w and w + w_row_bytes into y[.] and y[. + 1] (TileArgs::w_row_bytes).
template <int T, int R = 1>
void TileF32(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  FloatTile<T, R>(static_cast<const float*>(w), a.w_row_bytes / sizeof(float), a, cols, y, y_stride,
                  [](auto d, const float* p) { return hn::LoadU(d, p); }, [](float v) { return v; });
}

template <int T, int R = 1>
void TileF16(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  FloatTile<T, R>(
      static_cast<const hwy::float16_t*>(w), a.w_row_bytes / 2, a, cols, y, y_stride,
      [](auto d, const hwy::float16_t* p) { return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::float16_t, decltype(d)>(), p)); },
      [](hwy::float16_t v) { return lp::f16_to_f32(std::bit_cast<uint16_t>(v)); });
}

template <int T, int R = 1>
void TileBF16(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  FloatTile<T, R>(
      static_cast<const uint16_t*>(w), a.w_row_bytes / 2, a, cols, y, y_stride,
      [](auto d, const uint16_t* p) {
        const hn::RebindToUnsigned<decltype(d)> du32;
        return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(hn::Rebind<uint16_t, decltype(d)>(), p))));
      },
      [](uint16_t v) { return lp::bf16_to_f32(v); });
}
#endif  // LP_KERNELS_X86_SIMD

#undef LP_KERNELS_TILES
#if defined(LP_KERNELS_X86_SIMD) && HWY_TARGET == HWY_AVX3_DL
#define LP_KERNELS_TILES 1

using DZ8u = hn::Full512<uint8_t>;
using DZ8i = hn::Full512<int8_t>;
using DZ32 = hn::Full512<int32_t>;
using DY8u = hn::Full256<uint8_t>;
using DY8i = hn::Full256<int8_t>;
using DY16 = hn::Full256<int16_t>;
using VZ8u = hn::Vec<DZ8u>;
using VZ8i = hn::Vec<DZ8i>;
using VZ32 = hn::Vec<DZ32>;

// acc + Σ over each 4 bytes of a[k]·b[k] (a unsigned, b signed), exact in int32 (vpdpbusd).
HWY_INLINE VZ32 DotAccZ(VZ32 acc, VZ8u a, VZ8i b) { return VZ32{_mm512_dpbusd_epi32(acc.raw, a.raw, b.raw)}; }

// Sub-block-scaled K-quant chunk: acc + Σ over each 4 bytes of q·y·scale, where scale16 holds each
// int32 lane's scale in both int16 halves: pmaddubsw (pairs fit int16: |q| <= 63, |y| <= 127) then
// vpdpwssd, so applying the scale costs no 32-bit multiply.
HWY_INLINE VZ32 ScaledDotAccZ(VZ32 acc, VZ8u q, VZ8i y, VZ32 scale16) {
  return VZ32{_mm512_dpwssd_epi32(acc.raw, _mm512_maddubs_epi16(q.raw, y.raw), scale16.raw)};
}

// int32 lanes (small signed values) -> the same value in both int16 halves of each lane.
HWY_INLINE VZ32 DupToInt16Pairs(VZ32 v) {
  return hn::Or(hn::And(v, hn::Set(DZ32(), 0xFFFF)), hn::ShiftLeft<16>(v));
}

// Lower 256 bits from lo, upper from hi.
template <class D>
HWY_INLINE hn::Vec<D> Join(D d, hn::Vec<hn::Half<D>> hi, hn::Vec<hn::Half<D>> lo) {
  return hn::Combine(d, hi, lo);
}

// int32 lanes l = table[l / 8 + 2 * j] (Q4_K/Q5_K: sub-blocks 2j, 2j+1) or table[l / 4 + 4 * j]
// (Q6_K: 16-element groups 4j..4j+3) of a 16-lane vector.
template <int kLanesPerScale>
HWY_INLINE VZ32 SpreadScales(VZ32 table, int j) {
  alignas(64) int32_t idx[16];
  for (int l = 0; l < 16; ++l) idx[l] = l / kLanesPerScale + (16 / kLanesPerScale) * j;
  return hn::TableLookupLanes(table, hn::SetTableIndices(DZ32(), idx));
}

// 16 int32 lanes -> 8 (lane k + lane k+8, exact): lane k then covers elements 32m+4k..32m+4k+3, the
// same lanes as the 256-bit 4-token kernels, so the float accumulation below is theirs bit for bit.
HWY_INLINE V32 FoldHalves(VZ32 v) {
  const hn::Half<DZ32> dh;
  return hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v));
}

// Q8_0 weights against offset activations u = x + 128 (TileArgs::x, same block layout as the
// codes) and float block scales (TileArgs::xs): Σ x·w = Σ u·w − 128·Σ w, and the 128·Σ w term is
// one dpbusd per weight block, shared by all tokens (no per-token sign trick). 256-bit on purpose:
// each token accumulates block after block into one 8-lane FMA chain, the summation order of
// ggml's Q8_0 GEMM (llamafile tinyBLAS), which keeps logits closest to llama.cpp's.
template <int T>
void TileQ8_0(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  const auto* b = static_cast<const quant::block_q8_0*>(w);
  VF acc[T];
  for (int t = 0; t < T; ++t) acc[t] = hn::Zero(DF());
  const V8u k128 = hn::Set(D8u(), 0x80);
  for (int64_t i = 0; i < cols / 32; ++i) {
    const V8i wv = hn::LoadU(D8i(), b[i].qs);
    const V32 init = hn::Neg(DotAcc(hn::Zero(D32()), k128, wv));
    const VF dw = hn::Set(DF(), HalfToFloat(b[i].d));
    for (int t = 0; t < T; ++t) {
      const V32 s = DotAcc(init, hn::LoadU(D8u(), a.x + t * a.x_stride + 32 * i), wv);
      acc[t] = hn::MulAdd(hn::ConvertTo(DF(), s), hn::Mul(dw, hn::Set(DF(), a.xs[t * a.xs_stride + i])), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[t * y_stride] = ReduceF(acc[t]);
}

HWY_INLINE const quant::block_q8_K* TokenBlocks(const TileArgs& a, int t) {
  return reinterpret_cast<const quant::block_q8_K*>(a.x + t * a.x_stride);
}

// Q4_K / Q5_K share everything but the weight unpacking: `chunk(j)` returns the 64 weights of
// elements 64j..64j+63 (sub-blocks 2j and 2j+1) as unsigned bytes.
template <int T, class Block, class ChunkFn>
HWY_INLINE void KQuantMinsTile(const Block* x, const TileArgs& a, int64_t cols, float* y, int64_t y_stride,
                               ChunkFn&& chunk) {
  VF acc[T], accm[T];  // d-scaled sums and dmin-scaled mins, 8 lanes each (the 4-token kernel's order)
  for (int t = 0; t < T; ++t) acc[t] = accm[t] = hn::Zero(DF());
  // bytes 8..15 (the mins) each twice, for int16 pairs against bsums[2k], bsums[2k+1]
  alignas(16) static constexpr uint8_t kMinPairs[16] = {8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15};
  const hn::Full128<uint8_t> d128;
  for (int64_t i = 0; i < cols / quant::QK_K; ++i) {
    alignas(16) uint8_t sm[16];
    unpack_q4k_scales_mins(x[i].scales, sm);
    const auto smv = hn::LoadU(d128, sm);
    const VZ32 table = hn::PromoteTo(DZ32(), smv);
    const auto mins16 = hn::PromoteTo(DY16(), hn::TableLookupBytes(smv, hn::Load(d128, kMinPairs)));
    VZ32 scv[4];
    VZ8u q[4];
    for (int j = 0; j < 4; ++j) {
      scv[j] = DupToInt16Pairs(SpreadScales<8>(table, j));
      q[j] = chunk(x[i], j);
    }
    const float d = HalfToFloat(x[i].d), dmin = HalfToFloat(x[i].dmin);
    for (int t = 0; t < T; ++t) {
      const quant::block_q8_K& yb = TokenBlocks(a, t)[i];
      VZ32 sumi = hn::Zero(DZ32());
      for (int j = 0; j < 4; ++j) sumi = ScaledDotAccZ(sumi, q[j], hn::LoadU(DZ8i(), yb.qs + 64 * j), scv[j]);
      const V32 mins = MaddI16(hn::LoadU(DY16(), yb.bsums), mins16);
      acc[t] = hn::MulAdd(hn::ConvertTo(DF(), FoldHalves(sumi)), hn::Set(DF(), yb.d * d), acc[t]);
      accm[t] = hn::MulAdd(hn::ConvertTo(DF(), mins), hn::Set(DF(), -yb.d * dmin), accm[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[t * y_stride] = ReduceF(hn::Add(acc[t], accm[t]));
}

template <int T>
void TileQ4_K(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  const DY8u d8;
  KQuantMinsTile<T>(static_cast<const quant::block_q4_K*>(w), a, cols, y, y_stride,
                    [&](const quant::block_q4_K& b, int j) {
                      const auto v = hn::LoadU(d8, b.qs + 32 * j);
                      return Join(DZ8u(), hn::ShiftRight<4>(v), hn::And(v, hn::Set(d8, 0x0F)));
                    });
}

template <int T>
void TileQ5_K(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  const DY8u d8;
  KQuantMinsTile<T>(static_cast<const quant::block_q5_K*>(w), a, cols, y, y_stride,
                    [&](const quant::block_q5_K& b, int j) {
                      const auto v = hn::LoadU(d8, b.qs + 32 * j);
                      const auto hb = hn::LoadU(d8, b.qh);
                      const auto k16 = hn::Set(d8, 0x10);
                      // bit 2j of qh[l] is the fifth bit of element 64j+l, bit 2j+1 that of 64j+32+l
                      const auto lo5 = hn::IfThenElseZero(hn::TestBit(hb, hn::Set(d8, static_cast<uint8_t>(1u << (2 * j)))), k16);
                      const auto hi5 = hn::IfThenElseZero(hn::TestBit(hb, hn::Set(d8, static_cast<uint8_t>(2u << (2 * j)))), k16);
                      return Join(DZ8u(), hn::Or(hn::ShiftRight<4>(v), hi5), hn::Or(hn::And(v, hn::Set(d8, 0x0F)), lo5));
                    });
}

// Q6_K: unsigned 6-bit codes q (value q − 32) with an int8 scale per 16 elements; the −32 offset
// goes through the activation's bsums.
template <int T>
void TileQ6_K(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  const auto* x = static_cast<const quant::block_q6_K*>(w);
  VF acc[T];  // 8 lanes: the 4-token kernel's summation order
  for (int t = 0; t < T; ++t) acc[t] = hn::Zero(DF());
  const DY8u d8;
  const auto m4 = hn::Set(d8, 0x0F), m3 = hn::Set(d8, 0x03);
  for (int64_t i = 0; i < cols / quant::QK_K; ++i) {
    const auto sc8 = hn::LoadU(hn::Full128<int8_t>(), x[i].scales);
    const VZ32 table = hn::PromoteTo(DZ32(), sc8);
    const auto sc16 = hn::PromoteTo(DY16(), sc8);
    VZ32 scv[4];
    VZ8u q[4];
    for (int half = 0; half < 2; ++half) {
      const auto va = hn::LoadU(d8, x[i].ql + 64 * half), vb = hn::LoadU(d8, x[i].ql + 64 * half + 32);
      const auto hb = hn::LoadU(d8, x[i].qh + 32 * half);
      const auto q0 = hn::Or(hn::And(va, m4), hn::ShiftLeft<4>(hn::And(hb, m3)));
      const auto q1 = hn::Or(hn::And(vb, m4), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(hb), m3)));
      const auto q2 = hn::Or(hn::ShiftRight<4>(va), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(hb), m3)));
      const auto q3 = hn::Or(hn::ShiftRight<4>(vb), hn::ShiftLeft<4>(hn::ShiftRight<6>(hb)));
      q[2 * half] = Join(DZ8u(), q1, q0);
      q[2 * half + 1] = Join(DZ8u(), q3, q2);
    }
    for (int k = 0; k < 4; ++k) scv[k] = DupToInt16Pairs(SpreadScales<4>(table, k));
    const float d = HalfToFloat(x[i].d);
    for (int t = 0; t < T; ++t) {
      const quant::block_q8_K& yb = TokenBlocks(a, t)[i];
      VZ32 sumi = hn::Zero(DZ32());
      for (int k = 0; k < 4; ++k) sumi = ScaledDotAccZ(sumi, q[k], hn::LoadU(DZ8i(), yb.qs + 64 * k), scv[k]);
      const V32 offs = hn::ShiftLeft<5>(MaddI16(hn::LoadU(DY16(), yb.bsums), sc16));
      acc[t] = hn::MulAdd(hn::ConvertTo(DF(), hn::Sub(FoldHalves(sumi), offs)), hn::Set(DF(), yb.d * d), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[t * y_stride] = ReduceF(acc[t]);
}

// Q2_K: 2-bit codes with a 4-bit scale and a 4-bit min per 16 elements (value d·sc·q − dmin·m); the mins go
// through the activation's bsums. Chunk k (elements 64k..64k+63) is bit pairs 2·(2k%4) and 2·(2k%4)+2 of
// qs[32·(k/2) ..]: the layout of ggml's dequantize_row_q2_K.
template <int T>
void TileQ2_K(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  const auto* x = static_cast<const quant::block_q2_K*>(w);
  VF acc[T], accm[T];
  for (int t = 0; t < T; ++t) acc[t] = accm[t] = hn::Zero(DF());
  const DY8u d8;
  const hn::Full128<uint8_t> d128;
  const auto m3 = hn::Set(d8, 0x03);
  for (int64_t i = 0; i < cols / quant::QK_K; ++i) {
    const auto sc8 = hn::LoadU(d128, x[i].scales);
    const VZ32 table = hn::PromoteTo(DZ32(), hn::And(sc8, hn::Set(d128, 0x0F)));
    const auto mins16 = hn::BitCast(DY16(), hn::PromoteTo(hn::Full256<uint16_t>(), hn::ShiftRight<4>(sc8)));
    VZ32 scv[4];
    VZ8u q[4];
    for (int n = 0; n < 2; ++n) {
      const auto v = hn::LoadU(d8, x[i].qs + 32 * n);
      q[2 * n] = Join(DZ8u(), hn::And(hn::ShiftRight<2>(v), m3), hn::And(v, m3));
      q[2 * n + 1] = Join(DZ8u(), hn::ShiftRight<6>(v), hn::And(hn::ShiftRight<4>(v), m3));
    }
    for (int k = 0; k < 4; ++k) scv[k] = DupToInt16Pairs(SpreadScales<4>(table, k));
    const float d = HalfToFloat(x[i].d), dmin = HalfToFloat(x[i].dmin);
    for (int t = 0; t < T; ++t) {
      const quant::block_q8_K& yb = TokenBlocks(a, t)[i];
      VZ32 sumi = hn::Zero(DZ32());
      for (int k = 0; k < 4; ++k) sumi = ScaledDotAccZ(sumi, q[k], hn::LoadU(DZ8i(), yb.qs + 64 * k), scv[k]);
      const V32 mins = MaddI16(hn::LoadU(DY16(), yb.bsums), mins16);
      acc[t] = hn::MulAdd(hn::ConvertTo(DF(), FoldHalves(sumi)), hn::Set(DF(), yb.d * d), acc[t]);
      accm[t] = hn::MulAdd(hn::ConvertTo(DF(), mins), hn::Set(DF(), -yb.d * dmin), accm[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[t * y_stride] = ReduceF(hn::Add(acc[t], accm[t]));
}

#endif  // AVX3_DL

#ifdef LP_KERNELS_X86_SIMD
#define LP_TILE_SET(fn) {nullptr, fn<1>, fn<2>, fn<3>, fn<4>, fn<5>, fn<6>, fn<7>, fn<8>}
// Two-row float tiles need 2·T accumulators: only with AVX-512's 32 vector registers.
#if HWY_TARGET <= HWY_AVX3
#define LP_TILE_PAIR_SET(fn) {nullptr, fn<1, 2>, fn<2, 2>, fn<3, 2>, fn<4, 2>, fn<5, 2>, fn<6, 2>, fn<7, 2>, fn<8, 2>}
#else
#define LP_TILE_PAIR_SET(fn) {}
#endif
HWY_INLINE bool FillTiles(GgmlType wtype, RowTileSet* out) {
  static constexpr RowTileSet kF32{LP_TILE_SET(TileF32), TileActivation::kF32, LP_TILE_PAIR_SET(TileF32)};
  static constexpr RowTileSet kF16{LP_TILE_SET(TileF16), TileActivation::kF32, LP_TILE_PAIR_SET(TileF16)};
  static constexpr RowTileSet kBF16{LP_TILE_SET(TileBF16), TileActivation::kF32, LP_TILE_PAIR_SET(TileBF16)};
  switch (wtype) {
    case GgmlType::F32: *out = kF32; return true;
    case GgmlType::F16: *out = kF16; return true;
    case GgmlType::BF16: *out = kBF16; return true;
    default: break;
  }
#ifdef LP_KERNELS_TILES
  static constexpr RowTileSet kQ8_0{LP_TILE_SET(TileQ8_0), TileActivation::kOffsetQ8_0};
  static constexpr RowTileSet kQ4_K{LP_TILE_SET(TileQ4_K), TileActivation::kQ8_K};
  static constexpr RowTileSet kQ5_K{LP_TILE_SET(TileQ5_K), TileActivation::kQ8_K};
  static constexpr RowTileSet kQ6_K{LP_TILE_SET(TileQ6_K), TileActivation::kQ8_K};
  static constexpr RowTileSet kQ2_K{LP_TILE_SET(TileQ2_K), TileActivation::kQ8_K};
  switch (wtype) {
    case GgmlType::Q2_K: *out = kQ2_K; return true;
    case GgmlType::Q8_0: *out = kQ8_0; return true;
    case GgmlType::Q4_K: *out = kQ4_K; return true;
    case GgmlType::Q5_K: *out = kQ5_K; return true;
    case GgmlType::Q6_K: *out = kQ6_K; return true;
    default: break;
  }
#endif
  return false;
}
#undef LP_TILE_SET
#undef LP_TILE_PAIR_SET
#endif  // LP_KERNELS_X86_SIMD
}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
