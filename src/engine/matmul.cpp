// Row-parallel matmul over ggml blocks. Each weight type pairs with an activation format (ggml's
// vec_dot_type); activations are converted once per call, then each thread walks a slice of rows and
// reuses each weight row for every token (prefill batches read the weights once).
#include "engine/matmul.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/blocks.h"
#ifdef LP_ENGINE_HAS_KERNELS
#include <cstdlib>

#include "kernels/matmul.h"
#endif

namespace lp::engine {
using namespace lp::quant;

namespace {

bool cpu_has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return ok;
}

enum class ActKind { F32, F16, BF16, Q8_0, Q8_K };

ActKind act_kind_for(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return ActKind::F32;
    case GgmlType::F16: return ActKind::F16;
    case GgmlType::BF16: return ActKind::BF16;
    case GgmlType::Q8_0: case GgmlType::Q4_0: return ActKind::Q8_0;
    default: return ActKind::Q8_K;
  }
}

size_t act_row_bytes(ActKind k, int64_t n) {
  switch (k) {
    case ActKind::F32: return n * 4;
    case ActKind::F16: case ActKind::BF16: return n * 2;
    case ActKind::Q8_0: return n / QK8_0 * sizeof(block_q8_0);
    case ActKind::Q8_K: return n / QK_K * sizeof(block_q8_K);
  }
  return 0;
}

// ---- activation conversion (ggml reference quantizers) ----

void quantize_q8_0(const float* x, block_q8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[i * QK8_0 + j]));
    // ggml's x86 quantizer: scale by 127/amax (not 1/d), round half to even.
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::nearbyint(x[i * QK8_0 + j] * id));
  }
}

void quantize_q8_K(const float* x, block_q8_K* y, int64_t n) {
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      y[i].d = 0.0f;
      std::fill(std::begin(y[i].qs), std::end(y[i].qs), 0);
      std::fill(std::begin(y[i].bsums), std::end(y[i].bsums), 0);
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(iscale * x[j]))));
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[j * 16 + l];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

void convert_activations(ActKind k, const float* x, uint8_t* dst, int64_t n) {
  switch (k) {
    case ActKind::F32: std::copy(x, x + n, reinterpret_cast<float*>(dst)); return;
    case ActKind::F16: {
      auto* d = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(x[i]);
      return;
    }
    case ActKind::BF16: {
      auto* d = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(x[i]);
      return;
    }
    case ActKind::Q8_0: quantize_q8_0(x, reinterpret_cast<block_q8_0*>(dst), n); return;
    case ActKind::Q8_K: quantize_q8_K(x, reinterpret_cast<block_q8_K*>(dst), n); return;
  }
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// ---- scalar dots ----

float dot_f32(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const float*>(w);
  const auto* b = reinterpret_cast<const float*>(x);
  double s = 0;  // ggml accumulates f32 in ggml_float (double) for the scalar path
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(s);
}

float dot_f16(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const uint16_t*>(w);
  const auto* b = reinterpret_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(f16_to_f32(a[i]) * f16_to_f32(b[i]));
  return static_cast<float>(s);
}

float dot_bf16(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const uint16_t*>(w);
  const auto* b = reinterpret_cast<const uint16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_f32(a[i]) * bf16_to_f32(b[i]));
  return static_cast<float>(s);
}

float dot_q8_0(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q8_0*>(w);
  const auto* b = reinterpret_cast<const block_q8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < QK8_0; ++j) sumi += a[i].qs[j] * b[i].qs[j];
    s += sumi * (f16_to_f32(a[i].d) * f16_to_f32(b[i].d));
  }
  return s;
}

float dot_q4_0(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q4_0*>(w);
  const auto* b = reinterpret_cast<const block_q8_0*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / QK4_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < QK4_0 / 2; ++j)
      sumi += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + QK4_0 / 2];
    s += sumi * (f16_to_f32(a[i].d) * f16_to_f32(b[i].d));
  }
  return s;
}

float dot_q4_K(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q4_K*>(w);
  const auto* b = reinterpret_cast<const block_q8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q = a[i].qs;
    const int8_t* q8 = b[i].qs;
    int sumi = 0, summ = 0;
    for (int j = 0; j < 4; ++j) {
      uint8_t sc1, m1, sc2, m2;
      get_scale_min_k4(2 * j, a[i].scales, &sc1, &m1);
      get_scale_min_k4(2 * j + 1, a[i].scales, &sc2, &m2);
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; ++l) {
        s1 += (q[l] & 0xF) * q8[l];
        s2 += (q[l] >> 4) * q8[l + 32];
      }
      sumi += sc1 * s1 + sc2 * s2;
      summ += m1 * (b[i].bsums[4 * j] + b[i].bsums[4 * j + 1]) + m2 * (b[i].bsums[4 * j + 2] + b[i].bsums[4 * j + 3]);
      q += 32;
      q8 += 64;
    }
    s += b[i].d * (f16_to_f32(a[i].d) * sumi - f16_to_f32(a[i].dmin) * summ);
  }
  return s;
}

float dot_q5_K(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q5_K*>(w);
  const auto* b = reinterpret_cast<const block_q8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* ql = a[i].qs;
    const uint8_t* qh = a[i].qh;
    const int8_t* q8 = b[i].qs;
    int sumi = 0, summ = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 4; ++j) {
      uint8_t sc1, m1, sc2, m2;
      get_scale_min_k4(2 * j, a[i].scales, &sc1, &m1);
      get_scale_min_k4(2 * j + 1, a[i].scales, &sc2, &m2);
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; ++l) {
        s1 += ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) * q8[l];
        s2 += ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) * q8[l + 32];
      }
      sumi += sc1 * s1 + sc2 * s2;
      summ += m1 * (b[i].bsums[4 * j] + b[i].bsums[4 * j + 1]) + m2 * (b[i].bsums[4 * j + 2] + b[i].bsums[4 * j + 3]);
      ql += 32;
      q8 += 64;
      u1 <<= 2;
      u2 <<= 2;
    }
    s += b[i].d * (f16_to_f32(a[i].d) * sumi - f16_to_f32(a[i].dmin) * summ);
  }
  return s;
}

float dot_q6_K(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q6_K*>(w);
  const auto* b = reinterpret_cast<const block_q8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* ql = a[i].ql;
    const uint8_t* qh = a[i].qh;
    const int8_t* sc = a[i].scales;
    const int8_t* q8 = b[i].qs;
    int sumi = 0;
    for (int half = 0; half < 2; ++half) {
      int g[8] = {};
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        g[is + 0] += (static_cast<int>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32) * q8[l];
        g[is + 2] += (static_cast<int>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32) * q8[l + 32];
        g[is + 4] += (static_cast<int>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * q8[l + 64];
        g[is + 6] += (static_cast<int>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * q8[l + 96];
      }
      for (int k = 0; k < 8; ++k) sumi += sc[k] * g[k];
      ql += 64;
      qh += 32;
      sc += 8;
      q8 += 128;
    }
    s += f16_to_f32(a[i].d) * b[i].d * sumi;
  }
  return s;
}

// ---- AVX2 dots ----

__attribute__((target("avx2,fma"))) inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline __m256i mul_s8_s8_pairs(__m256i a, __m256i b) {
  // maddubs needs one unsigned operand: |a| * (b with a's sign), then pairs summed to int16.
  const __m256i ax = _mm256_sign_epi8(a, a);
  const __m256i sy = _mm256_sign_epi8(b, a);
  return _mm256_maddubs_epi16(ax, sy);
}

__attribute__((target("avx2,fma"))) float dot_f32_avx2(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const float*>(w);
  const auto* b = reinterpret_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma,f16c"))) float dot_f16_avx2(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const uint16_t*>(w);
  const auto* b = reinterpret_cast<const uint16_t*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))),
                           _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i))), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 8))),
                           _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 8))), acc1);
  }
  float s = hsum_ps(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += f16_to_f32(a[i]) * f16_to_f32(b[i]);
  return s;
}

__attribute__((target("avx2,fma,f16c"))) float dot_q8_0_avx2(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q8_0*>(w);
  const auto* b = reinterpret_cast<const block_q8_0*>(x);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256i p = _mm256_madd_epi16(mul_s8_s8_pairs(qa, qb), ones);
    const __m256 d = _mm256_set1_ps(f16_to_f32(a[i].d) * f16_to_f32(b[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
  }
  return hsum_ps(acc);
}

__attribute__((target("avx2,fma,f16c"))) float dot_q4_0_avx2(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q4_0*>(w);
  const auto* b = reinterpret_cast<const block_q8_0*>(x);
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i low = _mm256_set1_epi8(0xF), eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK4_0; ++i) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].qs));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    const __m256i qa = _mm256_sub_epi8(_mm256_and_si256(both, low), eight);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256i p = _mm256_madd_epi16(mul_s8_s8_pairs(qa, qb), ones);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_to_f32(a[i].d) * f16_to_f32(b[i].d)), _mm256_cvtepi32_ps(p), acc);
  }
  return hsum_ps(acc);
}

__attribute__((target("avx2,fma,f16c"))) float dot_q4_K_avx2(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q4_K*>(w);
  const auto* b = reinterpret_cast<const block_q8_K*>(x);
  const __m256i low = _mm256_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps();
  float acc_m = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q = a[i].qs;
    const int8_t* q8 = b[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    int summ = 0;
    for (int j = 0; j < 4; ++j) {
      uint8_t sc1, m1, sc2, m2;
      get_scale_min_k4(2 * j, a[i].scales, &sc1, &m1);
      get_scale_min_k4(2 * j + 1, a[i].scales, &sc2, &m2);
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
      const __m256i lo = _mm256_and_si256(raw, low);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
      const __m256i p1 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8)));
      const __m256i p2 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc1)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p2, _mm256_set1_epi16(sc2)));
      summ += m1 * (b[i].bsums[4 * j] + b[i].bsums[4 * j + 1]) + m2 * (b[i].bsums[4 * j + 2] + b[i].bsums[4 * j + 3]);
      q += 32;
      q8 += 64;
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(b[i].d * f16_to_f32(a[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    acc_m += b[i].d * f16_to_f32(a[i].dmin) * summ;
  }
  return hsum_ps(acc) - acc_m;
}

__attribute__((target("avx2,fma,f16c"))) float dot_q6_K_avx2(const uint8_t* w, const uint8_t* x, int64_t n) {
  const auto* a = reinterpret_cast<const block_q6_K*>(w);
  const auto* b = reinterpret_cast<const block_q8_K*>(x);
  const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* ql = a[i].ql;
    const uint8_t* qh = a[i].qh;
    const int8_t* sc = a[i].scales;
    const int8_t* q8 = b[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4)),
      };
      for (int k = 0; k < 4; ++k) {
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32 * k));
        // (q - 32) * y = q*y - 32*y; q in [0, 63] is the unsigned maddubs operand.
        const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], y), _mm256_maddubs_epi16(_mm256_set1_epi8(32), y));
        const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
      }
      ql += 64;
      qh += 32;
      sc += 8;
      q8 += 128;
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_to_f32(a[i].d) * b[i].d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum_ps(acc);
}

using DotFn = float (*)(const uint8_t*, const uint8_t*, int64_t);

DotFn dot_for(GgmlType t) {
  const bool v = cpu_has_avx2();
  switch (t) {
    case GgmlType::F32: return v ? dot_f32_avx2 : dot_f32;
    case GgmlType::F16: return v ? dot_f16_avx2 : dot_f16;
    case GgmlType::BF16: return dot_bf16;
    case GgmlType::Q8_0: return v ? dot_q8_0_avx2 : dot_q8_0;
    case GgmlType::Q4_0: return v ? dot_q4_0_avx2 : dot_q4_0;
    case GgmlType::Q4_K: return v ? dot_q4_K_avx2 : dot_q4_K;
    case GgmlType::Q5_K: return dot_q5_K;
    case GgmlType::Q6_K: return v ? dot_q6_K_avx2 : dot_q6_K;
    default: fail("engine: no matmul for tensor type {}", ggml_type_name(t));
  }
}

}  // namespace

void matmul_rows(const Weight& W, int64_t row_begin, int64_t row_end, const float* x, int n_tokens, float* y, int threads) {
  const int64_t cols = W.cols(), rows = W.rows();
  const ActKind kind = act_kind_for(W.type());
  const DotFn dot = dot_for(W.type());
  const size_t xbytes = act_row_bytes(kind, cols);
  thread_local std::vector<uint8_t> act;
  act.resize(xbytes * n_tokens);
  for (int t = 0; t < n_tokens; ++t) convert_activations(kind, x + int64_t{t} * cols, act.data() + xbytes * t, cols);
  const uint8_t* xa = act.data();
  const size_t wrow = ggml_row_bytes(W.type(), cols);
  const uint8_t* w0 = W.t->data;
  const int64_t n = row_end - row_begin;
  // Small jobs are not worth waking the thread team.
  const int nt = (n * cols < 16384) ? 1 : threads;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* wr = w0 + r * wrow;
    for (int t = 0; t < n_tokens; ++t) y[int64_t{t} * rows + r] = dot(wr, xa + xbytes * t, cols);
  }
}

bool kernels_matmul_enabled(GgmlType t) {
#ifdef LP_ENGINE_HAS_KERNELS
  // LP_ENGINE_MATMUL=own forces the engine's own kernels (A/B comparisons, bisecting).
  static const bool own = [] {
    const char* v = std::getenv("LP_ENGINE_MATMUL");
    return v && std::string(v) == "own";
  }();
  return !own && kernels::matmul_supported(t);
#else
  (void)t;
  return false;
#endif
}

namespace {
ActivationObserver& activation_observer() {
  static ActivationObserver observer;
  return observer;
}
}  // namespace

void set_activation_observer(ActivationObserver observer) { activation_observer() = std::move(observer); }

void matmul(const Weight& W, const float* x, int n_tokens, float* y, int threads) {
  if (const auto& observe = activation_observer()) observe(W.t->name, x, n_tokens, W.cols());
#ifdef LP_ENGINE_HAS_KERNELS
  if (kernels_matmul_enabled(W.type())) {
    kernels::matmul(W.type(), W.t->data, W.rows(), W.cols(), x, n_tokens, y, threads);
    return;
  }
#endif
  matmul_rows(W, 0, W.rows(), x, n_tokens, y, threads);
}

}  // namespace lp::engine
