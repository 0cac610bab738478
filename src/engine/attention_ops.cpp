#include "engine/attention_ops.h"

#include <immintrin.h>

#include "core/fp16.h"

namespace lp::engine {
namespace {

bool has_f16c_fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return ok;
}

__attribute__((target("avx2,fma,f16c"))) float dot_avx2(const float* q, const uint16_t* k, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i))), acc);
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
  if (has_f16c_fma()) return dot_avx2(q, k, n);
  float s = 0;
  for (int i = 0; i < n; ++i) s += q[i] * f16_to_f32(k[i]);
  return s;
}

void axpy_f16(float w, const uint16_t* v, float* acc, int n) {
  if (has_f16c_fma()) return axpy_avx2(w, v, acc, n);
  for (int i = 0; i < n; ++i) acc[i] += w * f16_to_f32(v[i]);
}

}  // namespace lp::engine
