#include "engine/attention_ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

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

// Four keys per pass over q: same per-key accumulation (a0/a1 split, 32-wide then 16-wide steps,
// reduce) as dot_avx512, so scores are bit-identical; n must be a multiple of 16 (no scalar tail).
__attribute__((target("avx512f"))) void dot4_avx512(const float* q, const uint16_t* const* k, int n, float* out) {
  __m512 a0[4], a1[4];
  for (int r = 0; r < 4; ++r) a0[r] = a1[r] = _mm512_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 q0 = _mm512_loadu_ps(q + i), q1 = _mm512_loadu_ps(q + i + 16);
    for (int r = 0; r < 4; ++r) {
      a0[r] = _mm512_fmadd_ps(q0, half16(k[r] + i), a0[r]);
      a1[r] = _mm512_fmadd_ps(q1, half16(k[r] + i + 16), a1[r]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 q0 = _mm512_loadu_ps(q + i);
    for (int r = 0; r < 4; ++r) a0[r] = _mm512_fmadd_ps(q0, half16(k[r] + i), a0[r]);
  }
  for (int r = 0; r < 4; ++r) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r]));
}

// out[c..c+16*R) = sum_j w[j] * v_j, fused multiply-adds in key order from zero: the same values
// axpy_avx512 produces key by key, without a load/store of the accumulator per key.
template <int R>
__attribute__((target("avx512f"))) void weighted_sum_avx512(const float* w, F16Rows v, int first, int last, int c,
                                                           float* out) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int j = first; j <= last; ++j) {
    const __m512 wv = _mm512_set1_ps(w[j - first]);
    const uint16_t* row = v.row(j) + c;
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(wv, half16(row + 16 * r), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + c + 16 * r, acc[r]);
}

__attribute__((target("avx512f"))) void scores_avx512(const float* q, F16Rows k, int first, int last, int n,
                                                     float* scores) {
  int j = first;
  for (; j + 4 <= last + 1; j += 4) {
    const uint16_t* rows[4] = {k.row(j), k.row(j + 1), k.row(j + 2), k.row(j + 3)};
    dot4_avx512(q, rows, n, scores + (j - first));
  }
  for (; j <= last; ++j) scores[j - first] = dot_avx512(q, k.row(j), n);
}

__attribute__((target("avx512f"))) void weighted_avx512(const float* w, F16Rows v, int first, int last, int n,
                                                       float* out) {
  int c = 0;
  for (; c + 64 <= n; c += 64) weighted_sum_avx512<4>(w, v, first, last, c, out);
  for (; c + 16 <= n; c += 16) weighted_sum_avx512<1>(w, v, first, last, c, out);
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

void attend_f16(const float* q, F16Rows k, F16Rows v, int first, int last, int n, float scale,
                const float* sink, float* scores, float* out) {
  const bool wide = isa() == Isa::kAvx512 && n % 16 == 0;
  if (wide) {
    scores_avx512(q, k, first, last, n, scores);
  } else {
    for (int j = first; j <= last; ++j) scores[j - first] = dot_f32_f16(q, k.row(j), n);
  }
  const int count = last - first + 1;
  float mx = -INFINITY;
  for (int i = 0; i < count; ++i) {
    scores[i] *= scale;
    mx = std::max(mx, scores[i]);
  }
  if (sink) mx = std::max(mx, *sink);
  double sum = sink ? std::exp(*sink - mx) : 0.0;
  for (int i = 0; i < count; ++i) {
    scores[i] = std::exp(scores[i] - mx);
    sum += scores[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int i = 0; i < count; ++i) scores[i] *= inv;
  if (wide) {
    weighted_avx512(scores, v, first, last, n, out);
  } else {
    std::fill(out, out + n, 0.0f);
    for (int j = first; j <= last; ++j) axpy_f16(scores[j - first], v.row(j), out, n);
  }
}

}  // namespace lp::engine
