// Register-resident i-quant kernels for the 256-bit targets (AVX2, AVX3, AVX3_DL) of IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S, IQ1_S and IQ1_M against q8_K activations. Unlike the unpack path (iq_unpack.h, kept for
// SSSE3/SSE4), nothing goes through memory: each group of 32 weights is decoded straight into
//   * a vector of the 32 unsigned grid bytes (the grid entries fetched by index: a hardware gather on AVX-512
//     targets, four 8-byte / eight 4-byte loads assembled into a vector on AVX2),
//   * its 32 sign bits (ggml's 7 stored bits + parity for the XXS/XS types, stored bytes for the S types), which
//     negate the matching q8 bytes (one masked subtract on AVX-512, a compare-built mask on AVX2),
//   * its scale(s) as int16 lanes (one per 32, or one per 16 for IQ2_XS/IQ2_S),
// (IQ1: the signed codes 8·grid ± 1 are built in the vector, then split into magnitudes and sign bits)
// and summed as maddubs(grid, ±q8) · scale in int16 → int32 multiply-adds, like the K-quants. Decode runs the
// groups of a row; the prefill tiles decode a group once and apply it to every token of the tile (AVX3_DL: the
// driver decodes a whole row block once, and the tiles of every token read the decoded rows).
// Same integer math as the unpack path (and ggml's vec_dot_iq*_q8_K), so results are bit-identical to it.
#if defined(LP_KERNELS_DOT_IQUANTS_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_DOT_IQUANTS_X86_INL_H_
#undef LP_KERNELS_DOT_IQUANTS_X86_INL_H_
#else
#define LP_KERNELS_DOT_IQUANTS_X86_INL_H_
#endif

#include <cstddef>
#include <cstring>

#include "kernels/simd_ops-inl.h"
#include "kernels/tiles.h"
#include "quant/blocks.h"
#include "quant/iq_grids.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace lp::kernels::HWY_NAMESPACE {
#undef LP_KERNELS_IQ_X86
#if defined(LP_KERNELS_X86_SIMD) && HWY_TARGET <= HWY_AVX2
#define LP_KERNELS_IQ_X86 1

namespace iqx {

#if HWY_TARGET <= HWY_AVX3
// Sign bits as an AVX-512 mask register: q8 bytes negated where the bit is set, one masked subtract.
using SignMask = __mmask32;
HWY_INLINE SignMask MakeSigns(uint32_t bits) { return static_cast<__mmask32>(bits); }
HWY_INLINE __m256i ApplySigns(__m256i q8, SignMask m) { return _mm256_mask_sub_epi8(q8, m, _mm256_setzero_si256(), q8); }
#else
// Sign bits as a byte mask (0xff = negative): byte i tests bit i of the 32 bits.
using SignMask = __m256i;
HWY_INLINE SignMask MakeSigns(uint32_t bits) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3,
                                          3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), spread), bit);
  return _mm256_cmpeq_epi8(v, bit);
}
HWY_INLINE __m256i ApplySigns(__m256i q8, SignMask m) { return _mm256_sub_epi8(_mm256_xor_si256(q8, m), m); }
#endif

// Four 7-bit sign fields (bits 0..27, field k at 7k) -> 32 sign bits, byte k = field k plus the parity bit 7 that
// makes each byte's count even (ggml's ksigns_iq2xs, quant::iq2_signs).
HWY_INLINE uint32_t EvenSigns(uint32_t s28) {
#if HWY_TARGET <= HWY_AVX3
  const uint32_t b = _pdep_u32(s28, 0x7f7f7f7fu);
#else
  const uint32_t b = (s28 & 0x7fu) | ((s28 << 1) & 0x7f00u) | ((s28 << 2) & 0x7f0000u) | ((s28 << 3) & 0x7f000000u);
#endif
  uint32_t p = b ^ (b >> 4);
  p ^= p >> 2;
  p ^= p >> 1;  // bit 0 of each byte: parity of that byte's 7 bits
  return b | ((p & 0x01010101u) << 7);
}

// Grid entries by index: four 8-byte entries (idx: 4 int32) or eight 4-byte entries (idx: 8 int32).
HWY_INLINE __m256i Grid64(const uint64_t* grid, __m128i idx) {
#if HWY_TARGET <= HWY_AVX3
  return _mm256_i32gather_epi64(reinterpret_cast<const long long*>(grid), idx, 8);
#else
  alignas(16) uint32_t i[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(i), idx);
  return _mm256_set_epi64x(static_cast<int64_t>(grid[i[3]]), static_cast<int64_t>(grid[i[2]]),
                           static_cast<int64_t>(grid[i[1]]), static_cast<int64_t>(grid[i[0]]));
#endif
}
HWY_INLINE __m256i Grid32(const uint32_t* grid, __m256i idx) {
#if HWY_TARGET <= HWY_AVX3
  return _mm256_i32gather_epi32(reinterpret_cast<const int*>(grid), idx, 4);
#else
  alignas(32) uint32_t i[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(i), idx);
  return _mm256_setr_epi32(static_cast<int>(grid[i[0]]), static_cast<int>(grid[i[1]]), static_cast<int>(grid[i[2]]),
                           static_cast<int>(grid[i[3]]), static_cast<int>(grid[i[4]]), static_cast<int>(grid[i[5]]),
                           static_cast<int>(grid[i[6]]), static_cast<int>(grid[i[7]]));
#endif
}

HWY_INLINE uint32_t Load32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
HWY_INLINE __m128i Load4Bytes(const void* p) { return _mm_cvtsi32_si128(static_cast<int>(Load32(p))); }

// Per-16 scales (IQ2_XS, IQ2_S: nibble pairs 2·s+1) as 16 bytes, byte 2j = low nibble of scales[j], 2j+1 = high.
HWY_INLINE __m128i NibbleScales(const uint8_t* scales) {
  const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(scales));
  const __m128i m4 = _mm_set1_epi8(0x0f);
  const __m128i s = _mm_unpacklo_epi8(_mm_and_si128(raw, m4), _mm_and_si128(_mm_srli_epi16(raw, 4), m4));
  return _mm_add_epi8(_mm_add_epi8(s, s), _mm_set1_epi8(1));
}
// int16 lanes 0..7 = byte 2j, lanes 8..15 = byte 2j+1 of NibbleScales.
HWY_INLINE __m256i PairScale(__m128i s16, int j) {
  const __m128i pick = _mm_set_epi64x(0x0101010101010101ll * (2 * j + 1), 0x0101010101010101ll * (2 * j));
  return _mm256_cvtepu8_epi16(_mm_shuffle_epi8(s16, pick));
}
HWY_INLINE __m256i OneScale(int s) { return _mm256_set1_epi16(static_cast<int16_t>(s)); }

// One decoded group of 32 weights.
struct Group {
  __m256i grid;   // unsigned grid bytes
  SignMask sign;  // negate where set
  __m256i scale;  // int16 multipliers of the 16 pair sums
};

// A group from signed codes (IQ1: 8·grid ± 1): magnitudes and the sign bits of the codes.
HWY_INLINE Group SignedGroup(__m256i code, __m256i scale) {
#if HWY_TARGET <= HWY_AVX3
  const SignMask sign = _mm256_movepi8_mask(code);
#else
  const SignMask sign = _mm256_cmpgt_epi8(_mm256_setzero_si256(), code);
#endif
  return {_mm256_abs_epi8(code), sign, scale};
}

// IQ1 codes of four 8-byte grid entries (int8 lanes -1/0/+1): 8·grid + delta.
HWY_INLINE __m256i Iq1Codes(__m128i idx, __m256i delta) {
  __m256i g = Grid64(quant::kIq1sGrid, idx);
  g = _mm256_add_epi8(g, g);
  g = _mm256_add_epi8(g, g);
  g = _mm256_add_epi8(g, g);
  return _mm256_add_epi8(g, delta);
}

// Decoder of one super-block: d (with the type's constant factor) and group(j) for j = 0..7.
template <GgmlType kType>
struct Decoder;

template <>
struct Decoder<GgmlType::IQ2_XXS> {
  using Block = quant::block_iq2_xxs;
  const Block& b;
  float d;
  explicit Decoder(const Block& blk) : b(blk), d(0.125f * HalfToFloat(blk.d)) {}
  HWY_INLINE Group group(int j) const {
    const uint32_t aux1 = Load32(b.qs + 4 * j + 2);
    const __m128i idx = _mm_cvtepu8_epi32(Load4Bytes(b.qs + 4 * j));
    return {Grid64(quant::kIq2xxsGrid, idx), MakeSigns(EvenSigns(aux1 & 0x0fffffffu)),
            OneScale(2 * static_cast<int>(aux1 >> 28) + 1)};
  }
};

template <>
struct Decoder<GgmlType::IQ2_XS> {
  using Block = quant::block_iq2_xs;
  const Block& b;
  float d;
  __m128i scales;
  explicit Decoder(const Block& blk) : b(blk), d(0.125f * HalfToFloat(blk.d)), scales(NibbleScales(blk.scales)) {}
  HWY_INLINE Group group(int j) const {
    const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 4 * j));
    const __m128i idx = _mm_and_si128(_mm_cvtepu16_epi32(q), _mm_set1_epi32(511));
    uint64_t v;
    std::memcpy(&v, b.qs + 4 * j, 8);
#if HWY_TARGET <= HWY_AVX3
    const auto s28 = static_cast<uint32_t>(_pext_u64(v, 0xfe00fe00fe00fe00ull));
#else
    const auto s28 = static_cast<uint32_t>(((v >> 9) & 0x7f) | ((v >> 18) & 0x3f80) | ((v >> 27) & 0x1fc000) |
                                           ((v >> 36) & 0xfe00000));
#endif
    return {Grid64(quant::kIq2xsGrid, idx), MakeSigns(EvenSigns(s28)), PairScale(scales, j)};
  }
};

template <>
struct Decoder<GgmlType::IQ2_S> {
  using Block = quant::block_iq2_s;
  const Block& b;
  float d;
  __m128i scales;
  explicit Decoder(const Block& blk) : b(blk), d(0.125f * HalfToFloat(blk.d)), scales(NibbleScales(blk.scales)) {}
  HWY_INLINE Group group(int j) const {
    // index l = qs[4j+l] | bits 2l..2l+1 of qh[j] as bits 8..9
    const __m128i hi = _mm_and_si128(_mm_sllv_epi32(_mm_set1_epi32(b.qh[j]), _mm_setr_epi32(8, 6, 4, 2)),
                                     _mm_set1_epi32(0x300));
    const __m128i idx = _mm_or_si128(_mm_cvtepu8_epi32(Load4Bytes(b.qs + 4 * j)), hi);
    return {Grid64(quant::kIq2sGrid, idx), MakeSigns(Load32(b.qs + quant::QK_K / 8 + 4 * j)), PairScale(scales, j)};
  }
};

template <>
struct Decoder<GgmlType::IQ3_XXS> {
  using Block = quant::block_iq3_xxs;
  const Block& b;
  float d;
  explicit Decoder(const Block& blk) : b(blk), d(0.25f * HalfToFloat(blk.d)) {}
  HWY_INLINE Group group(int j) const {
    const uint32_t aux = Load32(b.qs + quant::QK_K / 4 + 4 * j);
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * j)));
    return {Grid32(quant::kIq3xxsGrid, idx), MakeSigns(EvenSigns(aux & 0x0fffffffu)),
            OneScale(2 * static_cast<int>(aux >> 28) + 1)};
  }
};

template <>
struct Decoder<GgmlType::IQ3_S> {
  using Block = quant::block_iq3_s;
  const Block& b;
  float d;
  explicit Decoder(const Block& blk) : b(blk), d(HalfToFloat(blk.d)) {}
  HWY_INLINE Group group(int j) const {
    // index k = qs[8j+k] | bit k of qh[j] as bit 8
    const __m256i hi = _mm256_and_si256(_mm256_sllv_epi32(_mm256_set1_epi32(b.qh[j]), _mm256_setr_epi32(8, 7, 6, 5, 4, 3, 2, 1)),
                                        _mm256_set1_epi32(256));
    const __m256i idx =
        _mm256_or_si256(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * j))), hi);
    const int sc = (b.scales[j / 2] >> (4 * (j & 1))) & 0xf;
    return {Grid32(quant::kIq3sGrid, idx), MakeSigns(Load32(b.signs + 4 * j)), OneScale(2 * sc + 1)};
  }
};

template <>
struct Decoder<GgmlType::IQ1_S> {
  using Block = quant::block_iq1_s;
  const Block& b;
  float d;
  explicit Decoder(const Block& blk) : b(blk), d(0.125f * HalfToFloat(blk.d)) {}
  HWY_INLINE Group group(int j) const {
    const int qh = b.qh[j];
    // index l = qs[4j+l] | bits 3l..3l+2 of qh as bits 8..10
    const __m128i hi = _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(qh << 8), _mm_setr_epi32(0, 3, 6, 9)),
                                     _mm_set1_epi32(0x700));
    const __m128i idx = _mm_or_si128(_mm_cvtepu8_epi32(Load4Bytes(b.qs + 4 * j)), hi);
    const __m256i delta = _mm256_set1_epi8(qh & 0x8000 ? -1 : 1);
    return SignedGroup(Iq1Codes(idx, delta), OneScale(2 * ((qh >> 12) & 7) + 1));
  }
};

template <>
struct Decoder<GgmlType::IQ1_M> {
  using Block = quant::block_iq1_m;
  const Block& b;
  float d;
  uint16_t sc[4];
  explicit Decoder(const Block& blk) : b(blk) {
    std::memcpy(sc, blk.scales, sizeof(sc));
    const auto bits =
        static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    d = 0.125f * HalfToFloat(bits);
  }
  HWY_INLINE Group group(int j) const {
    // qh[2j], qh[2j+1]: per 8 values, 3 index bits (8..10) and the delta's sign (bit 3), low nibble first
    const int h = b.qh[2 * j] | (b.qh[2 * j + 1] << 8);
    const __m128i nib = _mm_srlv_epi32(_mm_set1_epi32(h), _mm_setr_epi32(0, 4, 8, 12));
    const __m128i idx = _mm_or_si128(_mm_cvtepu8_epi32(Load4Bytes(b.qs + 4 * j)),
                                     _mm_and_si128(_mm_slli_epi32(nib, 8), _mm_set1_epi32(0x700)));
    // delta: -1 where the nibble's bit 3 is set, else +1, for each 8 bytes
    const __m256i neg = _mm256_cvtepi32_epi64(_mm_cmpeq_epi32(_mm_and_si128(nib, _mm_set1_epi32(8)), _mm_set1_epi32(8)));
    const __m256i delta = _mm256_or_si256(neg, _mm256_set1_epi8(1));
    const int s = sc[j / 2] >> (6 * (j % 2));
    const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(2 * ((s >> 3) & 7) + 1)),
                                           _mm_set1_epi16(static_cast<int16_t>(2 * (s & 7) + 1)));
    return SignedGroup(Iq1Codes(idx, delta), scale);
  }
};

HWY_INLINE __m256i GroupDot(const Group& g, const int8_t* q8) {
  const __m256i y = ApplySigns(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8)), g.sign);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(g.grid, y), g.scale);
}

template <GgmlType kType>
float Dot(const void* w, const void* xq, int64_t n) {
  using Block = typename Decoder<kType>::Block;
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const quant::block_q8_K*>(xq);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / quant::QK_K; ++i) {
    const Decoder<kType> dec(x[i]);
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    for (int j = 0; j < 8; j += 2) {
      s0 = _mm256_add_epi32(s0, GroupDot(dec.group(j), y[i].qs + 32 * j));
      s1 = _mm256_add_epi32(s1, GroupDot(dec.group(j + 1), y[i].qs + 32 * j + 32));
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_set1_ps(y[i].d * dec.d), acc);
  }
  return ReduceF(VF{acc});
}

#if HWY_TARGET == HWY_AVX3_DL
// Prefill on AVX-512 VNNI: the driver decodes each row block once (RowTileSet::decode) into pairs of groups as
// 512-bit vectors; each token then costs one load, one masked negate, one maddubs and one vpdpwssd (scale
// multiply and accumulate) per 64 weights.
// Decoded super-block (the prefill driver decodes a row block once, RowTileSet::decode): the four group pairs'
// grid bytes, int16 scales and 64 sign bits, and d.
struct DecodedBlock {
  __m512i grid[4];
  __m512i scale[4];
  uint64_t sign[4];
  float d;
  float pad[7];
};
static_assert(sizeof(DecodedBlock) == 576);

HWY_INLINE size_t DecodedRowBytes(int64_t cols) { return sizeof(DecodedBlock) * static_cast<size_t>(cols / quant::QK_K); }

template <GgmlType kType>
void DecodeRows(const void* w, size_t w_row_bytes, int64_t rows, int64_t cols, void* out) {
  using Block = typename Decoder<kType>::Block;
  auto* o = static_cast<uint8_t*>(out);
  const int64_t nb = cols / quant::QK_K;
  for (int64_t r = 0; r < rows; ++r) {
    const auto* x = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + r * w_row_bytes);
    for (int64_t i = 0; i < nb; ++i) {
      const Decoder<kType> dec(x[i]);
      DecodedBlock db;
      for (int k = 0; k < 4; ++k) {
        const Group g0 = dec.group(2 * k), g1 = dec.group(2 * k + 1);
        db.grid[k] = _mm512_inserti64x4(_mm512_castsi256_si512(g0.grid), g1.grid, 1);
        db.scale[k] = _mm512_inserti64x4(_mm512_castsi256_si512(g0.scale), g1.scale, 1);
        db.sign[k] = _cvtmask32_u32(g0.sign) | (static_cast<uint64_t>(_cvtmask32_u32(g1.sign)) << 32);
      }
      db.d = dec.d;
      std::memcpy(o + (r * nb + i) * sizeof(DecodedBlock), &db, sizeof(DecodedBlock));
    }
  }
}

// One decoded row (DecodeRows) against T tokens.
template <int T>
void TileDecoded(const void* w, const TileArgs& a, int64_t cols, float* out, int64_t y_stride) {
  const auto* base = static_cast<const uint8_t*>(w);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < cols / quant::QK_K; ++i) {
    const uint8_t* db = base + i * sizeof(DecodedBlock);
    const quant::block_q8_K* yb[T];
    __m512i sumi[T];
    for (int t = 0; t < T; ++t) {
      yb[t] = reinterpret_cast<const quant::block_q8_K*>(a.x + t * a.x_stride) + i;
      sumi[t] = _mm512_setzero_si512();
    }
    for (int k = 0; k < 4; ++k) {
      const __m512i grid = _mm512_loadu_si512(db + offsetof(DecodedBlock, grid) + 64 * k);
      const __m512i scale = _mm512_loadu_si512(db + offsetof(DecodedBlock, scale) + 64 * k);
      uint64_t bits;
      std::memcpy(&bits, db + offsetof(DecodedBlock, sign) + 8 * k, 8);
      const __mmask64 sign = _cvtu64_mask64(bits);
      for (int t = 0; t < T; ++t) {
        const __m512i q8 = _mm512_loadu_si512(yb[t]->qs + 64 * k);
        const __m512i ys = _mm512_mask_sub_epi8(q8, sign, _mm512_setzero_si512(), q8);
        sumi[t] = _mm512_dpwssd_epi32(sumi[t], _mm512_maddubs_epi16(grid, ys), scale);
      }
    }
    float d;
    std::memcpy(&d, db + offsetof(DecodedBlock, d), 4);
    for (int t = 0; t < T; ++t) {
      const __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(sumi[t]), _mm512_extracti64x4_epi64(sumi[t], 1));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s8), _mm256_set1_ps(yb[t]->d * d), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t * y_stride] = ReduceF(VF{acc[t]});
}
#else
// One weight row against T tokens: each group is decoded once and used for every token.
template <GgmlType kType, int T>
void Tile(const void* w, const TileArgs& a, int64_t cols, float* out, int64_t y_stride) {
  using Block = typename Decoder<kType>::Block;
  const auto* x = static_cast<const Block*>(w);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < cols / quant::QK_K; ++i) {
    const Decoder<kType> dec(x[i]);
    const quant::block_q8_K* yb[T];
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) {
      yb[t] = reinterpret_cast<const quant::block_q8_K*>(a.x + t * a.x_stride) + i;
      sumi[t] = _mm256_setzero_si256();
    }
    for (int j = 0; j < 8; ++j) {
      const Group g = dec.group(j);
      for (int t = 0; t < T; ++t) sumi[t] = _mm256_add_epi32(sumi[t], GroupDot(g, yb[t]->qs + 32 * j));
    }
    for (int t = 0; t < T; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_set1_ps(yb[t]->d * dec.d), acc[t]);
  }
  for (int t = 0; t < T; ++t) out[t * y_stride] = ReduceF(VF{acc[t]});
}
#endif

}  // namespace iqx

#endif  // AVX2 and up
}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
