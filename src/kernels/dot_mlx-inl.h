// Per-target row tiles for MLX affine weights (w = scale·q + bias per group; tiles.h, MlxTileArgs)
// against int8 activations (one float scale per 32 elements): each 32-element block of the weight
// row is unpacked once into unsigned bytes and multiplied against every token of the tile with the
// integer dot of the GGUF kernels (vpdpbusd on AVX-512 VNNI, pmaddubsw + pmaddwd elsewhere); the
// int32 block sum is scaled by scale_g·d_x once per block, the bias by the float x sums once per group.
//
// Unpacking, per 32 codes (4·bits bytes):
//   8-bit: the bytes themselves. Without VNNI, pmaddubsw would saturate on codes > 127, so those
//          targets take q − 128 as signed bytes (|q−128|·sign) and add 128·scale·Σx̂ per group.
//   4-bit: low nibbles | high nibbles (activations in MlxXLayout::kNibblePairs order).
//   2-bit: the 8 bytes shifted by 0/2/4/6 per 64-bit lane (MlxXLayout::kCrumbs order).
//   3/5/6-bit: AVX-512 VBMI (AVX3_DL): vpermb + vpmultishiftqb + and. Elsewhere a byte shuffle gives
//          each 16-bit lane the two bytes holding its code, a multiply by a per-lane power of two moves
//          the code to the top and a shift brings it down (AVX2/AVX3: one load + vpermq for 32 codes).
//          Natural order either way.
#if defined(LP_KERNELS_DOT_MLX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LP_KERNELS_DOT_MLX_INL_H_
#undef LP_KERNELS_DOT_MLX_INL_H_
#else
#define LP_KERNELS_DOT_MLX_INL_H_
#endif

#include <cstring>

#include "hwy/highway.h"
#include "kernels/simd_ops-inl.h"
#include "kernels/tiles.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace lp::kernels::HWY_NAMESPACE {
#ifdef LP_KERNELS_X86_SIMD

constexpr int kMlxHalves = static_cast<int>(32 / kVecBytes);  // vectors per 32-element block: 1 or 2 (SSE4/SSSE3)
#if HWY_TARGET == HWY_AVX3_DL
constexpr bool kMlxDirect8 = true;  // vpdpbusd: unsigned codes up to 255, exact int32 sums
#else
constexpr bool kMlxDirect8 = false;
#endif
// AVX-512 targets have 32 vector registers: 8-token tiles; 16-register targets stop at 4.
#if HWY_TARGET <= HWY_AVX3
constexpr int kMlxMaxTokens = 8;
#else
constexpr int kMlxMaxTokens = 4;
#endif

HWY_INLINE V8u PackU16(V16 a, V16 b) {
#if HWY_TARGET <= HWY_AVX2
  return V8u{_mm256_packus_epi16(a.raw, b.raw)};
#else
  return V8u{_mm_packus_epi16(a.raw, b.raw)};
#endif
}

struct MlxStreamTables {
  uint8_t shuffle[16];  // 16-bit lane i <- bytes (s_i, s_i + 1), s_i = bits·i / 8
  int16_t mul[8];       // 2^(16 − bits − (bits·i mod 8)): the code's top bit to bit 15
};
template <int kBits>
constexpr MlxStreamTables MakeStreamTables() {
  MlxStreamTables t{};
  for (int i = 0; i < 8; ++i) {
    const int bit = kBits * i;
    t.shuffle[2 * i] = static_cast<uint8_t>(bit / 8);
    t.shuffle[2 * i + 1] = static_cast<uint8_t>(bit / 8 + 1);
    t.mul[i] = static_cast<int16_t>(1 << (16 - kBits - bit % 8));
  }
  return t;
}

struct MlxMultishiftTables {
  uint8_t perm[32];   // 64-bit lane m, byte k <- byte kBits·m + k of the block
  uint8_t shift[32];  // 64-bit lane m, byte k <- bits kBits·k .. kBits·k + 7 of the lane
};
template <int kBits>
constexpr MlxMultishiftTables MakeMultishiftTables() {
  MlxMultishiftTables t{};
  for (int m = 0; m < 4; ++m) {
    for (int k = 0; k < 8; ++k) {
      t.perm[8 * m + k] = static_cast<uint8_t>(kBits * m + k);
      t.shift[8 * m + k] = static_cast<uint8_t>(kBits * k);
    }
  }
  return t;
}

// 256-bit stream unpacking from one load: the upper lane sees the block's bytes from lane1_base
// (qwords 1,2; 3-bit blocks fit the first 16 bytes: qwords 0,1 again).
struct MlxStreamTables256 {
  uint8_t shuf_a[32];  // lane 0: elements 0..7, lane 1: elements 16..23 (as MlxStreamTables::shuffle)
  uint8_t shuf_c[32];  // lane 0: elements 8..15, lane 1: elements 24..31
  int16_t mul[16];
  int lane1_base;
};
template <int kBits>
constexpr MlxStreamTables256 MakeStreamTables256() {
  MlxStreamTables256 t{};
  t.lane1_base = kBits == 3 ? 0 : 8;
  const int starts[2][2] = {{0, 2 * kBits - t.lane1_base}, {kBits, 3 * kBits - t.lane1_base}};  // [a/c][lane]
  for (int v = 0; v < 2; ++v) {
    for (int lane = 0; lane < 2; ++lane) {
      for (int i = 0; i < 8; ++i) {
        const int bit = kBits * i, lo = starts[v][lane] + bit / 8;
        // A byte past the lane only ever holds bits the multiply shifts out (the code ends in byte lo).
        const int hi = lo + 1 <= 15 ? lo + 1 : 0x80;
        uint8_t* tab = v == 0 ? t.shuf_a : t.shuf_c;
        tab[16 * lane + 2 * i] = static_cast<uint8_t>(lo);
        tab[16 * lane + 2 * i + 1] = static_cast<uint8_t>(hi);
      }
    }
  }
  for (int i = 0; i < 16; ++i) t.mul[i] = static_cast<int16_t>(1 << (16 - kBits - kBits * (i % 8) % 8));
  return t;
}

// 128-bit targets: codes of 8 consecutive elements starting at the bytes lo as 16-bit lanes. Reads 16
// bytes at lo.
template <int kBits>
HWY_INLINE V16 StreamCodes16(const uint8_t* lo) {
  alignas(16) static constexpr MlxStreamTables kTab = MakeStreamTables<kBits>();
  const hn::Full128<uint8_t> d128;
  const V8u bytes = hn::LoadU(d128, lo);
  const V8u pairs = hn::TableLookupBytes(bytes, hn::LoadDup128(D8u(), kTab.shuffle));
  const V16 top = hn::Mul(hn::BitCast(D16(), pairs), hn::LoadDup128(D16(), kTab.mul));
  const hn::RebindToUnsigned<D16> du16;
  return hn::BitCast(D16(), hn::ShiftRight<16 - kBits>(hn::BitCast(du16, top)));
}

// The 32 codes of one block (4·kBits bytes at blk) as unsigned bytes, kMlxHalves vectors, in the
// layout MlxLayoutForBits names. 3/5/6 bits read past the block (up to 32 − 4·kBits bytes with
// VBMI, 16 − kBits without; the decode pairs up to 64 − 8·kBits): kMlxRowOverRead in tiles.h.
template <int kBits>
HWY_INLINE void UnpackMlxBlock(const uint8_t* blk, V8u* out) {
  if constexpr (kBits == 8) {
    for (int h = 0; h < kMlxHalves; ++h) out[h] = hn::LoadU(D8u(), blk + h * kVecBytes);
  } else if constexpr (kBits == 4) {
    const hn::Full128<uint8_t> d128;
    const auto q = hn::LoadU(d128, blk);
    const auto lo = hn::And(q, hn::Set(d128, 0x0F));
    const auto hi = hn::ShiftRight<4>(q);
#if HWY_TARGET <= HWY_AVX2
    out[0] = hn::Combine(D8u(), hi, lo);
#else
    out[0] = lo;
    out[1] = hi;
#endif
  } else if constexpr (kBits == 2) {
    const hn::Repartition<uint64_t, D8u> d64;
    alignas(32) static constexpr uint64_t kShifts[4] = {0, 2, 4, 6};
    uint64_t v;
    std::memcpy(&v, blk, 8);
    const auto vv = hn::Set(d64, v);
    for (int h = 0; h < kMlxHalves; ++h) {
      out[h] = hn::And(hn::BitCast(D8u(), vv >> hn::Load(d64, kShifts + h * hn::Lanes(d64))), hn::Set(D8u(), 3));
    }
  } else {
#if HWY_TARGET == HWY_AVX3_DL
    // VBMI: vpermb gathers each 8-code group's kBits bytes into a 64-bit lane, vpmultishiftqb moves
    // each code's bits to the bottom of its byte (natural order). Reads 32 bytes at blk.
    alignas(32) static constexpr MlxMultishiftTables kTab = MakeMultishiftTables<kBits>();
    const __m256i src = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk));
    const __m256i grouped = _mm256_permutexvar_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(kTab.perm)), src);
    const __m256i shifted = _mm256_multishift_epi64_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(kTab.shift)), grouped);
    out[0] = hn::And(V8u{shifted}, hn::Set(D8u(), static_cast<uint8_t>((1 << kBits) - 1)));
#elif HWY_TARGET <= HWY_AVX2
    // One 32-byte load; vpermq gives the upper 128-bit lane the block's bytes from lane1_base on. a holds
    // the codes of elements 0..7 (lower lane) and 16..23 (upper), c 8..15 and 24..31; packus interleaves
    // 64-bit halves per lane: [a.lo, c.lo | a.hi, c.hi] = elements 0..15 | 16..31. Reads 32 bytes at blk.
    alignas(32) static constexpr MlxStreamTables256 kTab = MakeStreamTables256<kBits>();
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk));
    const __m256i bytes = _mm256_permute4x64_epi64(raw, kTab.lane1_base == 0 ? 0x44 : 0x94);
    const __m256i mul = _mm256_load_si256(reinterpret_cast<const __m256i*>(kTab.mul));
    const __m256i a = _mm256_srli_epi16(
        _mm256_mullo_epi16(_mm256_shuffle_epi8(bytes, _mm256_load_si256(reinterpret_cast<const __m256i*>(kTab.shuf_a))), mul), 16 - kBits);
    const __m256i c = _mm256_srli_epi16(
        _mm256_mullo_epi16(_mm256_shuffle_epi8(bytes, _mm256_load_si256(reinterpret_cast<const __m256i*>(kTab.shuf_c))), mul), 16 - kBits);
    out[0] = V8u{_mm256_packus_epi16(a, c)};
#else
    for (int h = 0; h < 2; ++h) {
      const uint8_t* p = blk + 2 * h * kBits;
      out[h] = PackU16(StreamCodes16<kBits>(p), StreamCodes16<kBits>(p + kBits));
    }
#endif
  }
}

template <int kBits, int T>
void MlxTile(const uint8_t* row, const float* scales, const float* biases, const MlxTileArgs& a, int64_t cols, float* y,
             int64_t y_stride) {
  constexpr bool kSigned = kBits == 8 && !kMlxDirect8;
  constexpr int kBlockBytes = 4 * kBits;
  const int64_t nb = cols / 32;
  const int bpg = a.group_size / 32;
  // Per token: the group's blocks accumulate d_x-scaled into accg, which joins one of two chains (even /
  // odd groups) scaled by the group's scale: few tokens would otherwise wait on one FMA chain.
  VF acc0[T], acc1[T], accg[T];
  float bsum[T];
  for (int t = 0; t < T; ++t) {
    acc0[t] = acc1[t] = hn::Zero(DF());
    bsum[t] = 0;
  }
  auto block = [&](int64_t i, const uint8_t* src) HWY_ATTR {
    V8u w[kMlxHalves];
    UnpackMlxBlock<kBits>(src, w);
    if constexpr (kSigned) {
      V8u aw[kMlxHalves];
      V8i sg[kMlxHalves];
      for (int h = 0; h < kMlxHalves; ++h) {
        sg[h] = hn::BitCast(D8i(), hn::Xor(w[h], hn::Set(D8u(), 0x80)));
        aw[h] = hn::BitCast(D8u(), hn::Abs(sg[h]));
      }
      for (int t = 0; t < T; ++t) {
        const int8_t* xq = a.xq + t * a.xq_stride + 32 * i;
        V32 is = hn::Zero(D32());
        for (int h = 0; h < kMlxHalves; ++h) is = DotAcc(is, aw[h], SignI8(hn::LoadU(D8i(), xq + h * kVecBytes), sg[h]));
        accg[t] = hn::MulAdd(hn::ConvertTo(DF(), is), hn::Set(DF(), a.xd[t * a.xd_stride + i]), accg[t]);
      }
    } else {
      for (int t = 0; t < T; ++t) {
        const int8_t* xq = a.xq + t * a.xq_stride + 32 * i;
        V32 is = hn::Zero(D32());
        for (int h = 0; h < kMlxHalves; ++h) is = DotAcc(is, w[h], hn::LoadU(D8i(), xq + h * kVecBytes));
        accg[t] = hn::MulAdd(hn::ConvertTo(DF(), is), hn::Set(DF(), a.xd[t * a.xd_stride + i]), accg[t]);
      }
    }
  };
  const int64_t groups = cols / a.group_size;
  for (int64_t g = 0; g < groups; ++g) {
    const float s = scales[g], b = biases[g];
    for (int t = 0; t < T; ++t) {
      accg[t] = hn::Zero(DF());
      bsum[t] += b * a.xsum[t * a.xsum_stride + g];
      if constexpr (kSigned) bsum[t] += 128.0f * s * a.xhat_sum[t * a.xsum_stride + g];
    }
    for (int j = 0; j < bpg; ++j) {
      const int64_t i = g * bpg + j;
      block(i, row + kBlockBytes * i);
    }
    const VF vs = hn::Set(DF(), s);
    if (g & 1) {
      for (int t = 0; t < T; ++t) acc1[t] = hn::MulAdd(accg[t], vs, acc1[t]);
    } else {
      for (int t = 0; t < T; ++t) acc0[t] = hn::MulAdd(accg[t], vs, acc0[t]);
    }
  }
  for (int t = 0; t < T; ++t) y[t * y_stride] = ReduceF(hn::Add(acc0[t], acc1[t])) + bsum[t];
}

#if HWY_TARGET == HWY_AVX3_DL
// 16 tokens in the int32 lanes of a 512-bit vector: per 4 codes of the row, one broadcast and one
// vpdpbusd against the 16 tokens' 4 activation bytes; the block scales d of the 16 tokens are one
// vector, so per 32-block and 16 tokens: 8 broadcasts, 8 dpbusd, 1 convert, 1 FMA (the GGUF tiles
// spend about that per token). The row's scale multiplies once per group, the bias term is one FMA.
template <int kBits>
void MlxLaneTile(const uint8_t* row, const float* scales, const float* biases, const MlxTileArgs& a, int64_t cols,
                 float* y, int64_t y_stride) {
  constexpr int kBlockBytes = 4 * kBits;
  static_assert(kMlxHalves == 1 && kMlxDirect8);
  const int64_t nb = cols / 32, groups = cols / a.group_size;
  const int bpg = a.group_size / 32;
  __m512 acc = _mm512_setzero_ps(), bacc = _mm512_setzero_ps();
  alignas(32) uint8_t codes[32];
  for (int64_t g = 0; g < groups; ++g) {
    __m512 accg = _mm512_setzero_ps();
    for (int j = 0; j < bpg; ++j) {
      const int64_t i = g * bpg + j;
      V8u w[1];
      UnpackMlxBlock<kBits>(row + kBlockBytes * i, w);
      hn::Store(w[0], D8u(), codes);
      const int8_t* xb = a.xq + 512 * i;  // 32 positions × 16 tokens
      __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
      for (int k = 0; k < 8; k += 2) {
        int32_t c0, c1;
        std::memcpy(&c0, codes + 4 * k, 4);
        std::memcpy(&c1, codes + 4 * k + 4, 4);
        s0 = _mm512_dpbusd_epi32(s0, _mm512_set1_epi32(c0), _mm512_loadu_si512(xb + 64 * k));
        s1 = _mm512_dpbusd_epi32(s1, _mm512_set1_epi32(c1), _mm512_loadu_si512(xb + 64 * k + 64));
      }
      accg = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), _mm512_loadu_ps(a.xd + 16 * i), accg);
    }
    acc = _mm512_fmadd_ps(accg, _mm512_set1_ps(scales[g]), acc);
    bacc = _mm512_fmadd_ps(_mm512_set1_ps(biases[g]), _mm512_loadu_ps(a.xsum + 16 * g), bacc);
  }
  alignas(64) float out[16];
  _mm512_store_ps(out, _mm512_add_ps(acc, bacc));
  for (int t = 0; t < 16; ++t) y[t * y_stride] = out[t];
}

// One token (decode), two 32-blocks per 512-bit vector. a.xd holds each block's d 8 times (expanded,
// so one load gives lanes 0-7 block i's and lanes 8-15 block i+1's); needs cols/32 even.
struct MlxMultishiftPairTables {
  uint8_t perm[64];   // 64-bit lane m (8 codes), byte k <- byte kBits·m + k of the pair
  uint8_t shift[64];  // byte k of each lane <- bits kBits·k .. kBits·k + 7 of the lane
};
template <int kBits>
constexpr MlxMultishiftPairTables MakeMultishiftPairTables() {
  MlxMultishiftPairTables t{};
  for (int m = 0; m < 8; ++m) {
    for (int k = 0; k < 8; ++k) {
      t.perm[8 * m + k] = static_cast<uint8_t>(kBits * m + k);
      t.shift[8 * m + k] = static_cast<uint8_t>(kBits * k);
    }
  }
  return t;
}

template <int kBits>
HWY_INLINE __m512i UnpackMlxPair(const uint8_t* p) {
  if constexpr (kBits == 8) {
    return _mm512_loadu_si512(p);
  } else if constexpr (kBits == 4) {
    // units [b0, b0, b1, b1] (16 bytes each), even units keep the low nibbles, odd the high ones
    const __m512i v = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    const __m512i dup = _mm512_shuffle_i64x2(v, v, 0x50);
    const __m512i sh = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    return _mm512_and_si512(_mm512_srlv_epi64(dup, sh), _mm512_set1_epi8(0x0F));
  } else if constexpr (kBits == 2) {
    const __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m512i dup = _mm512_permutexvar_epi64(_mm512_set_epi64(1, 1, 1, 1, 0, 0, 0, 0), v);
    const __m512i sh = _mm512_set_epi64(6, 4, 2, 0, 6, 4, 2, 0);
    return _mm512_and_si512(_mm512_srlv_epi64(dup, sh), _mm512_set1_epi8(3));
  } else {
    alignas(64) static constexpr MlxMultishiftPairTables kTab = MakeMultishiftPairTables<kBits>();
    const __m512i src = _mm512_loadu_si512(p);
    const __m512i grouped = _mm512_permutexvar_epi8(_mm512_load_si512(kTab.perm), src);
    const __m512i shift = _mm512_load_si512(kTab.shift);
    return _mm512_and_si512(_mm512_multishift_epi64_epi8(shift, grouped), _mm512_set1_epi8((1 << kBits) - 1));
  }
}

template <int kBits>
void MlxDecode(const uint8_t* row, const float* scales, const float* biases, const MlxTileArgs& a, int64_t cols, float* y,
               int64_t) {
  constexpr int kPairBytes = 8 * kBits;
  const int64_t pairs = cols / 64, groups = cols / a.group_size;
  const int bpg = a.group_size / 32, bpg_shift = bpg == 4 ? 2 : bpg == 2 ? 1 : 0;
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  auto pair = [&](int64_t p, __m512& acc) HWY_ATTR {
    const __m512i codes = UnpackMlxPair<kBits>(row + kPairBytes * p);
    const __m512i is = _mm512_dpbusd_epi32(_mm512_setzero_si512(), codes, _mm512_loadu_si512(a.xq + 64 * p));
    // group 32: the pair spans two groups; 64 / 128: one
    const __m512 sv = bpg == 1 ? _mm512_insertf32x8(_mm512_set1_ps(scales[2 * p]), _mm256_set1_ps(scales[2 * p + 1]), 1)
                               : _mm512_set1_ps(scales[(2 * p) >> bpg_shift]);
    acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(is), _mm512_loadu_ps(a.xd + 16 * p)), sv, acc);
  };
  int64_t p = 0;
  for (; p + 2 <= pairs; p += 2) {
    pair(p, acc0);
    pair(p + 1, acc1);
  }
  if (p < pairs) pair(p, acc0);
  float bsum = 0;
  for (int64_t g = 0; g < groups; ++g) bsum += biases[g] * a.xsum[g];
  y[0] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + bsum;
}
#endif

#if HWY_TARGET <= HWY_AVX2 && HWY_TARGET != HWY_AVX3_DL
// AVX2 / AVX3 without VNNI: 8 tokens in the int32 lanes of a 256-bit vector. Per 4 codes one broadcast
// and one pmaddubsw against the 8 tokens' 4 bytes; two of those add in int16 (codes <= 63: each pair sum
// <= 2·63·127, two <= 32,004) before one pmaddwd to int32. Lane layout as MlxLaneTile with 8 tokens.
template <int kBits>
void MlxLaneTile8(const uint8_t* row, const float* scales, const float* biases, const MlxTileArgs& a, int64_t cols,
                  float* y, int64_t y_stride) {
  static_assert(kBits <= 6 && kMlxHalves == 1);
  constexpr int kBlockBytes = 4 * kBits;
  const int64_t groups = cols / a.group_size;
  const int bpg = a.group_size / 32;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps(), bacc = _mm256_setzero_ps();
  alignas(32) uint8_t codes[32];
  for (int64_t g = 0; g < groups; ++g) {
    __m256 accg = _mm256_setzero_ps();
    for (int j = 0; j < bpg; ++j) {
      const int64_t i = g * bpg + j;
      V8u w[1];
      UnpackMlxBlock<kBits>(row + kBlockBytes * i, w);
      hn::Store(w[0], D8u(), codes);
      const int8_t* xb = a.xq + 256 * i;
      __m256i s = _mm256_setzero_si256();
      for (int k = 0; k < 8; k += 2) {
        int32_t c0, c1;
        std::memcpy(&c0, codes + 4 * k, 4);
        std::memcpy(&c1, codes + 4 * k + 4, 4);
        const __m256i p0 = _mm256_maddubs_epi16(_mm256_set1_epi32(c0), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 32 * k)));
        const __m256i p1 = _mm256_maddubs_epi16(_mm256_set1_epi32(c1), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 32 * k + 32)));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_add_epi16(p0, p1), ones));
      }
      accg = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_loadu_ps(a.xd + 8 * i), accg);
    }
    acc = _mm256_fmadd_ps(accg, _mm256_set1_ps(scales[g]), acc);
    bacc = _mm256_fmadd_ps(_mm256_set1_ps(biases[g]), _mm256_loadu_ps(a.xsum + 8 * g), bacc);
  }
  alignas(32) float out[8];
  _mm256_store_ps(out, _mm256_add_ps(acc, bacc));
  for (int t = 0; t < 8; ++t) y[t * y_stride] = out[t];
}
#endif

HWY_INLINE constexpr MlxXLayout MlxLayoutForBits(int bits) {
  return bits == 4 ? MlxXLayout::kNibblePairs : bits == 2 ? MlxXLayout::kCrumbs : MlxXLayout::kNatural;
}

template <int kBits>
HWY_INLINE void FillMlxTileSet(MlxTileSet* out) {
  out->by_tokens[1] = MlxTile<kBits, 1>;
  out->by_tokens[2] = MlxTile<kBits, 2>;
  out->by_tokens[3] = MlxTile<kBits, 3>;
  out->by_tokens[4] = MlxTile<kBits, 4>;
  if constexpr (kMlxMaxTokens == 8) {
    out->by_tokens[5] = MlxTile<kBits, 5>;
    out->by_tokens[6] = MlxTile<kBits, 6>;
    out->by_tokens[7] = MlxTile<kBits, 7>;
    out->by_tokens[8] = MlxTile<kBits, 8>;
  }
  out->max_tokens = kMlxMaxTokens;
#if HWY_TARGET == HWY_AVX3_DL
  out->lanes = MlxLaneTile<kBits>;
  out->lane_tokens = 16;
  out->decode = MlxDecode<kBits>;
#elif HWY_TARGET <= HWY_AVX2
  if constexpr (kBits <= 6) {
    out->lanes = MlxLaneTile8<kBits>;
    out->lane_tokens = 8;
  }
#endif
  out->layout = MlxLayoutForBits(kBits);
}

HWY_INLINE bool FillMlxTiles(int bits, MlxTileSet* out) {
  MlxTileSet set;
  switch (bits) {
    case 2: FillMlxTileSet<2>(&set); break;
    case 3: FillMlxTileSet<3>(&set); break;
    case 4: FillMlxTileSet<4>(&set); break;
    case 5: FillMlxTileSet<5>(&set); break;
    case 6: FillMlxTileSet<6>(&set); break;
    case 8: FillMlxTileSet<8>(&set); break;
    default: return false;
  }
  *out = set;
  return true;
}

#endif  // LP_KERNELS_X86_SIMD
}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
