// Compiles the SIMD kernels once per Highway target (SSSE3, SSE4, AVX2, AVX3 = AVX-512,
// AVX3_DL = AVX-512 + VNNI, plus the SCALAR fallback) and exports per-target tables that
// HWY_DYNAMIC_DISPATCH picks from at run time.
#define HWY_WANT_AVX3_DL  // opt in to the VNNI target (Ice Lake / Zen 4 and newer)
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matmul_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <strings.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "hwy/highway.h"
#include "kernels/activations.h"
#include "kernels/dispatch.h"
#include "kernels/dot_blocks32-inl.h"
#include "kernels/dot_float-inl.h"
#include "kernels/dot_iquants-inl.h"
#include "kernels/dot_kquants-inl.h"
#include "kernels/dot_mlx-inl.h"
#include "kernels/gemm_tiles-inl.h"
#include "quant/blocks.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace lp::kernels::HWY_NAMESPACE {

RowDotFn RowDotForType(GgmlType wtype) {
  switch (wtype) {
    case GgmlType::F32: return DotF32;
    case GgmlType::F16: return DotF16;
    case GgmlType::BF16: return DotBF16;
    default: break;
  }
#ifdef LP_KERNELS_X86_SIMD
  switch (wtype) {
    case GgmlType::Q8_0: return DotQ8_0;
    case GgmlType::Q4_0: return DotQ4_0;
    case GgmlType::Q4_1: return DotQ4_1;
    case GgmlType::Q5_0: return DotQ5_0;
    case GgmlType::Q5_1: return DotQ5_1;
    case GgmlType::IQ4_NL: return DotIQ4_NL;
    case GgmlType::MXFP4: return DotMXFP4;
    case GgmlType::Q2_K: return DotQ2_K;
    case GgmlType::Q3_K: return DotQ3_K;
    case GgmlType::Q4_K: return DotQ4_K;
    case GgmlType::Q5_K: return DotQ5_K;
    case GgmlType::Q6_K: return DotQ6_K;
    case GgmlType::IQ4_XS: return DotIQ4_XS;
    default: return IqRowDot(wtype);
  }
#else
  return scalar_row_dot(wtype);
#endif
}

RowDot4Fn RowDot4ForType(GgmlType wtype) {
#ifdef LP_KERNELS_X86_SIMD
  switch (wtype) {
    case GgmlType::Q8_0: return DotQ8_0x4;
    case GgmlType::Q4_K: return DotQ4_Kx4;
    case GgmlType::Q6_K: return DotQ6_Kx4;
    default: return nullptr;
  }
#else
  (void)wtype;
  return nullptr;
#endif
}

// Single-token kernels taking float activation scales (RowDot4Fn signature, writes out[0]).
RowDot4Fn RowDot1XdForType(GgmlType wtype) {
#ifdef LP_KERNELS_X86_SIMD
  if (wtype == GgmlType::Q8_0) return DotQ8_0x1;
#else
  (void)wtype;
#endif
  return nullptr;
}

bool RowTilesForType(GgmlType wtype, RowTileSet* out) {
#ifdef LP_KERNELS_X86_SIMD
  return FillTiles(wtype, out) || FillIqTiles(wtype, out);
#else
  (void)wtype;
  (void)out;
  return false;
#endif
}

bool MlxTilesForBits(int bits, MlxTileSet* out) {
#ifdef LP_KERNELS_X86_SIMD
  return FillMlxTiles(bits, out);
#else
  (void)bits;
  (void)out;
  return false;
#endif
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

#ifdef LP_KERNELS_X86_SIMD
// Quantizes one block of `kBlock` floats with scale amax/127 (round half to even, as the scalar
// version does, so every target produces the same bytes). Returns the scale d.
template <int kBlock>
HWY_INLINE float QuantizeBlockSym(const float* x, int8_t* q) {
  const hn::CappedTag<float, 8> df;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const size_t N = hn::Lanes(df);
  auto vmax = hn::Zero(df);
  for (size_t j = 0; j < kBlock; j += N) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, x + j)));
  const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
  if (amax == 0) {
    std::memset(q, 0, kBlock);
    return 0.0f;
  }
  const float iscale = 127.0f / amax;  // ggml x86 uses 127/amax (not 1/d) for q8_0/q8_1 too
  const auto vs = hn::Set(df, iscale);
  for (size_t j = 0; j < kBlock; j += N) hn::StoreU(hn::DemoteTo(d8, hn::NearestInt(hn::Mul(hn::LoadU(df, x + j), vs))), d8, q + j);
  return kBlock == quant::QK_K ? 1.0f / iscale : amax / 127.0f;
}
#endif

void QuantizeActivationsImpl(GgmlType act, const float* x, void* dst, int64_t n) {
#ifdef LP_KERNELS_X86_SIMD
  if (act == GgmlType::Q8_0) {
    auto* y = static_cast<quant::block_q8_0*>(dst);
    for (int64_t i = 0; i < n / 32; ++i) y[i].d = lp::f32_to_f16(QuantizeBlockSym<32>(x + 32 * i, y[i].qs));
    return;
  }
  if (act == GgmlType::Q8_1) {
    auto* y = static_cast<quant::block_q8_1*>(dst);
    for (int64_t i = 0; i < n / 32; ++i) {
      const float d = QuantizeBlockSym<32>(x + 32 * i, y[i].qs);
      int sum = 0;
      for (int j = 0; j < 32; ++j) sum += y[i].qs[j];
      y[i].d = lp::f32_to_f16(d);
      y[i].s = lp::f32_to_f16(d * static_cast<float>(sum));
    }
    return;
  }
  if (act == GgmlType::Q8_K) {
    auto* y = static_cast<quant::block_q8_K*>(dst);
    for (int64_t i = 0; i < n / quant::QK_K; ++i) {
      y[i].d = QuantizeBlockSym<quant::QK_K>(x + quant::QK_K * i, y[i].qs);
      for (int g = 0; g < 16; ++g) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += y[i].qs[16 * g + j];
        y[i].bsums[g] = static_cast<int16_t>(sum);
      }
    }
    return;
  }
#endif
  switch (act) {
    case GgmlType::Q8_0: quantize_row_q8_0_scalar(x, dst, n); break;
    case GgmlType::Q8_1: quantize_row_q8_1_scalar(x, dst, n); break;
    case GgmlType::Q8_K: quantize_row_q8_K_scalar(x, dst, n); break;
    default: break;
  }
}

}  // namespace lp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lp::kernels {
HWY_EXPORT(RowDotForType);
HWY_EXPORT(TargetName);
HWY_EXPORT(RowDot4ForType);
HWY_EXPORT(RowDot1XdForType);
HWY_EXPORT(RowTilesForType);
HWY_EXPORT(QuantizeActivationsImpl);
HWY_EXPORT(MlxTilesForBits);

void quantize_activations(GgmlType act, const float* x, void* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(QuantizeActivationsImpl)(act, x, dst, n);
}

namespace detail {
bool mlx_tiles_for(int bits, MlxTileSet* out) { return HWY_DYNAMIC_DISPATCH(MlxTilesForBits)(bits, out); }
RowDotFn row_dot_for(GgmlType wtype) { return HWY_DYNAMIC_DISPATCH(RowDotForType)(wtype); }
RowDot4Fn row_dot4_for(GgmlType wtype) { return HWY_DYNAMIC_DISPATCH(RowDot4ForType)(wtype); }
RowDot4Fn row_dot1_xd_for(GgmlType wtype) { return HWY_DYNAMIC_DISPATCH(RowDot1XdForType)(wtype); }
bool row_tiles_for(GgmlType wtype, RowTileSet* out) { return HWY_DYNAMIC_DISPATCH(RowTilesForType)(wtype, out); }
const char* chosen_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

namespace {
// The targets compiled in that this CPU supports, read once before anything restricts dispatch.
const std::vector<int64_t>& detected_target_bits() {
  static const std::vector<int64_t> bits = [] {
    std::vector<int64_t> out;
    const int64_t supported = hwy::SupportedTargets();
    for (int64_t bit = 1; bit != 0 && bit <= HWY_TARGETS; bit <<= 1) {
      if ((bit & HWY_TARGETS) && (bit & supported)) out.push_back(bit);
    }
    return out;  // lower bit = better target in Highway's numbering
  }();
  return bits;
}

// LP_KERNELS_TARGET=NAME (e.g. AVX2, SSE4, EMU128; case-insensitive) restricts dispatch to that one
// target for the whole process: A/B measurements, and the test suite running the kernel and engine
// tests once per target. A name this CPU or build lacks is reported on stderr and ignored.
int64_t env_target_bit() {
  static const int64_t bit = [] {
    const char* want = std::getenv("LP_KERNELS_TARGET");
    if (want == nullptr || want[0] == '\0') return int64_t{0};
    std::string names;
    for (int64_t b : detected_target_bits()) {
      if (strcasecmp(hwy::TargetName(b), want) == 0) return b;
      names += names.empty() ? "" : " ";
      names += hwy::TargetName(b);
    }
    std::fprintf(stderr, "warning: LP_KERNELS_TARGET=%s is not a target of this CPU and build (available: %s); using %s\n",
                 want, names.c_str(), hwy::TargetName(detected_target_bits().front()));
    return int64_t{0};
  }();
  return bit;
}

// Applied when the library is loaded, before the first dispatch.
[[maybe_unused]] const bool kEnvTargetApplied = [] {
  if (const int64_t bit = env_target_bit()) hwy::SetSupportedTargetsForTest(bit);
  return true;
}();
}  // namespace

std::vector<int64_t> available_target_bits() {
  if (const int64_t bit = env_target_bit()) return {bit};
  return detected_target_bits();
}
const char* target_name(int64_t target_bit) { return hwy::TargetName(target_bit); }
void force_target(int64_t target_bit) { hwy::SetSupportedTargetsForTest(target_bit != 0 ? target_bit : env_target_bit()); }
int64_t env_forced_target() { return env_target_bit(); }
}  // namespace detail
}  // namespace lp::kernels
#endif  // HWY_ONCE
