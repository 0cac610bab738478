#include "engine/attention_ops.h"

#include <immintrin.h>

#include "core/fp16.h"

namespace lp::engine {
namespace {

// These run once per (query, head, key) during attention, so a head-dim dot (64..256 elements) must
// not be one long FMA dependency chain: independent accumulators, and 512-bit vectors where present.
enum class Isa { kScalar, kAvx2, kAvx512 };

Isa isa() {
  static const Isa level = [] {
    if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return Isa::kAvx2;
    return Isa::kScalar;
  }();
  return level;
}

// GCC 12's AVX-512 headers build results from deliberately uninitialized "undefined" vectors
// (_mm512_cvtph_ps, _mm512_reduce_add_ps), which -Wuninitialized reports once inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

__attribute__((target("avx512f"))) inline __m512 half16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

__attribute__((target("avx512f"))) float dot_avx512(const float* q, const uint16_t* k, int n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), half16(k + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16),
                         half16(k + i + 16), a1);
  }
  for (; i + 16 <= n; i += 16)
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), half16(k + i), a0);
  float r = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; i < n; ++i) r += q[i] * f16_to_f32(k[i]);
  return r;
}

__attribute__((target("avx512f"))) void axpy_avx512(float w, const uint16_t* v, float* acc, int n) {
  const __m512 wv = _mm512_set1_ps(w);
  int i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(acc + i, _mm512_fmadd_ps(wv, half16(v + i),
                                              _mm512_loadu_ps(acc + i)));
  for (; i < n; ++i) acc[i] += w * f16_to_f32(v[i]);
}

#pragma GCC diagnostic pop

__attribute__((target("avx2,fma,f16c"))) float dot_avx2(const float* q, const uint16_t* k, int n) {
  __m256 acc = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i))), acc);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8),
                           _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i + 8))), acc1);
  }
  for (; i + 8 <= n; i += 8)
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i))), acc);
  acc = _mm256_add_ps(acc, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float r = _mm_cvtss_f32(s);
  for (; i < n; ++i) r += q[i] * f16_to_f32(k[i]);
  return r;
}

__attribute__((target("avx2,fma,f16c"))) void axpy_avx2(float w, const uint16_t* v, float* acc, int n) {
  const __m256 wv = _mm256_set1_ps(w);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wv, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i))), _mm256_loadu_ps(acc + i)));
  for (; i < n; ++i) acc[i] += w * f16_to_f32(v[i]);
}

}  // namespace

float dot_f32_f16(const float* q, const uint16_t* k, int n) {
  const Isa level = isa();
  if (level == Isa::kAvx512) return dot_avx512(q, k, n);
  if (level == Isa::kAvx2) return dot_avx2(q, k, n);
  float s = 0;
  for (int i = 0; i < n; ++i) s += q[i] * f16_to_f32(k[i]);
  return s;
}

void axpy_f16(float w, const uint16_t* v, float* acc, int n) {
  const Isa level = isa();
  if (level == Isa::kAvx512) return axpy_avx512(w, v, acc, n);
  if (level == Isa::kAvx2) return axpy_avx2(w, v, acc, n);
  for (int i = 0; i < n; ++i) acc[i] += w * f16_to_f32(v[i]);
}

}  // namespace lp::engine
