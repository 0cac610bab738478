// Per-target dot products and prefill tiles of the i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
// IQ3_S) with q8_K activations. A super-block is first unpacked to signed 8-bit codes and per-16 integer
// scales (kernels/iq_unpack.h: grid lookups are 8-byte loads, signs a bytewise negation), then the 256 codes
// go through the same u8×i8 multiply-adds as the K-quants: |code| · sign(code)·q8, scaled per 16 in int16
// multiply-adds, so a whole super-block accumulates in int32. Tiles unpack once per super-block and reuse the
// codes for every token of the tile.
#if defined(LP_KERNELS_DOT_IQUANTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_DOT_IQUANTS_INL_H_
#undef LP_KERNELS_DOT_IQUANTS_INL_H_
#else
#define LP_KERNELS_DOT_IQUANTS_INL_H_
#endif

#include "kernels/dot_iquants_x86-inl.h"
#include "kernels/iq_unpack.h"
#include "kernels/simd_ops-inl.h"
#include "kernels/tiles.h"
#include "quant/blocks.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace lp::kernels::HWY_NAMESPACE {
#ifdef LP_KERNELS_X86_SIMD

// Σ_g scale16[g] · Σ code·q8 over one unpacked super-block, as int32 lanes.
HWY_INLINE V32 IqBlockSum(const IqUnpacked& u, const int8_t* q8) {
  V32 sumi = hn::Zero(D32());
  for (size_t off = 0; off < quant::QK_K; off += kVecBytes) {
    const V8i c = hn::Load(D8i(), u.code + off);
    const V16 p = MaddUbs(hn::BitCast(D8u(), hn::Abs(c)), SignI8(hn::LoadU(D8i(), q8 + off), c));
#if HWY_TARGET <= HWY_AVX2
    const V16 sc = ScalePair(u.scale16[off / 16], u.scale16[off / 16 + 1]);
#else
    const V16 sc = hn::Set(D16(), u.scale16[off / 16]);
#endif
    sumi = hn::Add(sumi, MaddI16(p, sc));
  }
  return sumi;
}

template <GgmlType kType>
float DotIQ(const void* w, const void* xq, int64_t n) {
  const auto* y = static_cast<const quant::block_q8_K*>(xq);
  IqUnpacked u;
  VF acc = hn::Zero(DF());
  for (int64_t i = 0; i < n / quant::QK_K; ++i) {
    unpack_iq(kType, w, i, u);
    acc = hn::MulAdd(hn::ConvertTo(DF(), IqBlockSum(u, y[i].qs)), hn::Set(DF(), y[i].d * u.d), acc);
  }
  return ReduceF(acc);
}

// One weight row against T tokens (q8_K rows a.x_stride bytes apart).
template <GgmlType kType, int T>
void TileIQ(const void* w, const TileArgs& a, int64_t cols, float* y, int64_t y_stride) {
  IqUnpacked u;
  VF acc[T];
  for (int t = 0; t < T; ++t) acc[t] = hn::Zero(DF());
  for (int64_t i = 0; i < cols / quant::QK_K; ++i) {
    unpack_iq(kType, w, i, u);
    for (int t = 0; t < T; ++t) {
      const auto& yb = reinterpret_cast<const quant::block_q8_K*>(a.x + t * a.x_stride)[i];
      acc[t] = hn::MulAdd(hn::ConvertTo(DF(), IqBlockSum(u, yb.qs)), hn::Set(DF(), yb.d * u.d), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[t * y_stride] = ReduceF(acc[t]);
}

HWY_INLINE RowDotFn IqRowDot(GgmlType wtype) {
#ifdef LP_KERNELS_IQ_X86
  switch (wtype) {
    case GgmlType::IQ2_XXS: return iqx::Dot<GgmlType::IQ2_XXS>;
    case GgmlType::IQ2_XS: return iqx::Dot<GgmlType::IQ2_XS>;
    case GgmlType::IQ2_S: return iqx::Dot<GgmlType::IQ2_S>;
    case GgmlType::IQ3_XXS: return iqx::Dot<GgmlType::IQ3_XXS>;
    case GgmlType::IQ3_S: return iqx::Dot<GgmlType::IQ3_S>;
    case GgmlType::IQ1_S: return iqx::Dot<GgmlType::IQ1_S>;
    case GgmlType::IQ1_M: return iqx::Dot<GgmlType::IQ1_M>;
    default: break;
  }
#endif
  switch (wtype) {
    case GgmlType::IQ2_XXS: return DotIQ<GgmlType::IQ2_XXS>;
    case GgmlType::IQ2_XS: return DotIQ<GgmlType::IQ2_XS>;
    case GgmlType::IQ2_S: return DotIQ<GgmlType::IQ2_S>;
    case GgmlType::IQ3_XXS: return DotIQ<GgmlType::IQ3_XXS>;
    case GgmlType::IQ3_S: return DotIQ<GgmlType::IQ3_S>;
    case GgmlType::IQ1_S: return DotIQ<GgmlType::IQ1_S>;
    case GgmlType::IQ1_M: return DotIQ<GgmlType::IQ1_M>;
    default: return nullptr;
  }
}

#define LP_IQ_TILES(t) \
  {{nullptr, TileIQ<t, 1>, TileIQ<t, 2>, TileIQ<t, 3>, TileIQ<t, 4>, TileIQ<t, 5>, TileIQ<t, 6>, TileIQ<t, 7>, TileIQ<t, 8>}, \
   TileActivation::kQ8_K}
#if defined(LP_KERNELS_IQ_X86) && HWY_TARGET == HWY_AVX3_DL
#define LP_IQX_TILES(t)                                                                                          \
  {{nullptr, iqx::TileDecoded<1>, iqx::TileDecoded<2>, iqx::TileDecoded<3>, iqx::TileDecoded<4>,                \
    iqx::TileDecoded<5>, iqx::TileDecoded<6>, iqx::TileDecoded<7>, iqx::TileDecoded<8>},                        \
   TileActivation::kQ8_K, {}, iqx::DecodeRows<t>, iqx::DecodedRowBytes}
#elif defined(LP_KERNELS_IQ_X86)
#define LP_IQX_TILES(t)                                                                                          \
  {{nullptr, iqx::Tile<t, 1>, iqx::Tile<t, 2>, iqx::Tile<t, 3>, iqx::Tile<t, 4>, iqx::Tile<t, 5>, iqx::Tile<t, 6>, \
    iqx::Tile<t, 7>, iqx::Tile<t, 8>},                                                                           \
   TileActivation::kQ8_K}
#else
#define LP_IQX_TILES(t) LP_IQ_TILES(t)
#endif
HWY_INLINE bool FillIqTiles(GgmlType wtype, RowTileSet* out) {
  static constexpr RowTileSet k2xxs LP_IQX_TILES(GgmlType::IQ2_XXS), k2xs LP_IQX_TILES(GgmlType::IQ2_XS),
      k2s LP_IQX_TILES(GgmlType::IQ2_S), k3xxs LP_IQX_TILES(GgmlType::IQ3_XXS), k3s LP_IQX_TILES(GgmlType::IQ3_S),
      k1s LP_IQX_TILES(GgmlType::IQ1_S), k1m LP_IQX_TILES(GgmlType::IQ1_M);
  switch (wtype) {
    case GgmlType::IQ2_XXS: *out = k2xxs; return true;
    case GgmlType::IQ2_XS: *out = k2xs; return true;
    case GgmlType::IQ2_S: *out = k2s; return true;
    case GgmlType::IQ3_XXS: *out = k3xxs; return true;
    case GgmlType::IQ3_S: *out = k3s; return true;
    case GgmlType::IQ1_S: *out = k1s; return true;
    case GgmlType::IQ1_M: *out = k1m; return true;
    default: return false;
  }
}
#undef LP_IQ_TILES
#undef LP_IQX_TILES

#endif  // LP_KERNELS_X86_SIMD
}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
