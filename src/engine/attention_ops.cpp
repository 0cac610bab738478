#include "engine/attention_ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "quant/blocks.h"

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

// Four keys per pass over Q queries (GQA heads sharing the K rows convert each F16 row once): the same
// per-(query, key) accumulation (a0/a1 split, 32-wide then 16-wide steps, reduce) as dot_avx512, so
// scores are bit-identical; n must be a multiple of 16 (no scalar tail). out[qi * out_stride + r].
template <int Q>
__attribute__((target("avx512f"))) void dot4_avx512(const float* const* q, const uint16_t* const* k, int n,
                                                   float* out, size_t out_stride) {
  __m512 a0[Q][4], a1[Q][4];
  for (int p = 0; p < Q; ++p)
    for (int r = 0; r < 4; ++r) a0[p][r] = a1[p][r] = _mm512_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int r = 0; r < 4; ++r) {
      const __m512 k0 = half16(k[r] + i), k1 = half16(k[r] + i + 16);
      for (int p = 0; p < Q; ++p) {
        a0[p][r] = _mm512_fmadd_ps(_mm512_loadu_ps(q[p] + i), k0, a0[p][r]);
        a1[p][r] = _mm512_fmadd_ps(_mm512_loadu_ps(q[p] + i + 16), k1, a1[p][r]);
      }
    }
  }
  for (; i + 16 <= n; i += 16) {
    for (int r = 0; r < 4; ++r) {
      const __m512 k0 = half16(k[r] + i);
      for (int p = 0; p < Q; ++p) a0[p][r] = _mm512_fmadd_ps(_mm512_loadu_ps(q[p] + i), k0, a0[p][r]);
    }
  }
  for (int p = 0; p < Q; ++p)
    for (int r = 0; r < 4; ++r) out[p * out_stride + r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[p][r], a1[p][r]));
}

// out_p[c..c+16*R) = sum_j w_p[j] * v_j, fused multiply-adds in key order from zero: the same values
// axpy_avx512 produces key by key, without a load/store of the accumulator per key.
template <int Q, int R>
__attribute__((target("avx512f"))) void weighted_sum_avx512(const float* w, size_t w_stride, F16Rows v, int first,
                                                           int last, int c, float* const* out) {
  __m512 acc[Q][R];
  for (int p = 0; p < Q; ++p)
    for (int r = 0; r < R; ++r) acc[p][r] = _mm512_setzero_ps();
  for (int j = first; j <= last; ++j) {
    const uint16_t* row = v.row(j) + c;
    __m512 vr[R];
    for (int r = 0; r < R; ++r) vr[r] = half16(row + 16 * r);
    for (int p = 0; p < Q; ++p) {
      const __m512 wv = _mm512_set1_ps(w[p * w_stride + (j - first)]);
      for (int r = 0; r < R; ++r) acc[p][r] = _mm512_fmadd_ps(wv, vr[r], acc[p][r]);
    }
  }
  for (int p = 0; p < Q; ++p)
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(out[p] + c + 16 * r, acc[p][r]);
}

template <int Q>
__attribute__((target("avx512f"))) void scores_avx512(const float* const* q, F16Rows k, int first, int last, int n,
                                                     float* scores, size_t stride) {
  int j = first;
  for (; j + 4 <= last + 1; j += 4) {
    const uint16_t* rows[4] = {k.row(j), k.row(j + 1), k.row(j + 2), k.row(j + 3)};
    dot4_avx512<Q>(q, rows, n, scores + (j - first), stride);
  }
  for (; j <= last; ++j)
    for (int p = 0; p < Q; ++p) scores[p * stride + (j - first)] = dot_avx512(q[p], k.row(j), n);
}

template <int Q>
__attribute__((target("avx512f"))) void weighted_avx512(const float* w, size_t w_stride, F16Rows v, int first,
                                                       int last, int n, float* const* out) {
  int c = 0;
  for (; c + 64 <= n; c += 64) weighted_sum_avx512<Q, 4>(w, w_stride, v, first, last, c, out);
  for (; c + 16 <= n; c += 16) weighted_sum_avx512<Q, 1>(w, w_stride, v, first, last, c, out);
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

namespace {

// Softmax in place over count scores: scale, max (with the sink), exp, sum in double, normalize.
void softmax_scores(float* scores, int count, float scale, const float* sink) {
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
}

template <int Q>
void attend_avx512(const float* const* q, F16Rows k, F16Rows v, int first, int last, int n, float scale,
                   const float* sinks, float* scores, float* const* out) {
  const size_t stride = size_t(last - first + 1);
  scores_avx512<Q>(q, k, first, last, n, scores, stride);
  for (int p = 0; p < Q; ++p) softmax_scores(scores + p * stride, int(stride), scale, sinks ? sinks + p : nullptr);
  weighted_avx512<Q>(scores, stride, v, first, last, n, out);
}

}  // namespace

void attend_f16(const float* q, F16Rows k, F16Rows v, int first, int last, int n, float scale,
                const float* sink, float* scores, float* out) {
  if (isa() == Isa::kAvx512 && n % 16 == 0) return attend_avx512<1>(&q, k, v, first, last, n, scale, sink, scores, &out);
  for (int j = first; j <= last; ++j) scores[j - first] = dot_f32_f16(q, k.row(j), n);
  softmax_scores(scores, last - first + 1, scale, sink);
  std::fill(out, out + n, 0.0f);
  for (int j = first; j <= last; ++j) axpy_f16(scores[j - first], v.row(j), out, n);
}

void attend_f16_heads(const float* q, int n_heads, F16Rows k, F16Rows v, int first, int last, int n, float scale,
                      const float* sinks, float* scores, float* out) {
  int h = 0;
  if (isa() == Isa::kAvx512 && n % 16 == 0) {
    for (; h + 2 <= n_heads; h += 2) {
      const float* qs[2] = {q + size_t(h) * n, q + size_t(h + 1) * n};
      float* outs[2] = {out + size_t(h) * n, out + size_t(h + 1) * n};
      attend_avx512<2>(qs, k, v, first, last, n, scale, sinks ? sinks + h : nullptr, scores, outs);
    }
  }
  for (; h < n_heads; ++h)
    attend_f16(q + size_t(h) * n, k, v, first, last, n, scale, sinks ? sinks + h : nullptr, scores, out + size_t(h) * n);
}

namespace {

// ---- attend_rows: any cache type, decoded to float tiles ----

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

__attribute__((target("avx512f"))) float dot_f32_avx512(const float* a, const float* b, int n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), a1);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), a0);
  float r = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

__attribute__((target("avx512f"))) void axpy_f32_avx512(float w, const float* v, float* acc, int n) {
  const __m512 wv = _mm512_set1_ps(w);
  int i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(acc + i, _mm512_fmadd_ps(wv, _mm512_loadu_ps(v + i), _mm512_loadu_ps(acc + i)));
  for (; i < n; ++i) acc[i] += w * v[i];
}

// One row's [offset, offset + n) into floats; offset and n are multiples of 32 (whole blocks).
__attribute__((target("avx512f,avx512bw"))) void decode_avx512(CacheType t, const uint8_t* row, int offset, int n, float* dst) {
  switch (t) {
    case CacheType::F16: {
      const auto* s = reinterpret_cast<const uint16_t*>(row) + offset;
      for (int i = 0; i < n; i += 16) _mm512_storeu_ps(dst + i, half16(s + i));
      return;
    }
    case CacheType::BF16: {
      const auto* s = reinterpret_cast<const uint16_t*>(row) + offset;
      for (int i = 0; i < n; i += 16) {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
      }
      return;
    }
    case CacheType::Q8_0: {
      const auto* b = reinterpret_cast<const lp::quant::block_q8_0*>(row) + offset / 32;
      for (int i = 0; i < n / 32; ++i) {
        const __m512 d = _mm512_set1_ps(f16_to_f32(b[i].d));
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs + 16));
        _mm512_storeu_ps(dst + 32 * i, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo))));
        _mm512_storeu_ps(dst + 32 * i + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi))));
      }
      return;
    }
    case CacheType::Q4_0: {
      const auto* b = reinterpret_cast<const lp::quant::block_q4_0*>(row) + offset / 32;
      const __m128i mask = _mm_set1_epi8(0x0F);
      const __m512i eight = _mm512_set1_epi32(8);
      for (int i = 0; i < n / 32; ++i) {
        const __m512 d = _mm512_set1_ps(f16_to_f32(b[i].d));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
        const __m128i lo = _mm_and_si128(q, mask), hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
        _mm512_storeu_ps(dst + 32 * i, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(lo), eight))));
        _mm512_storeu_ps(dst + 32 * i + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(hi), eight))));
      }
      return;
    }
    case CacheType::F32: std::copy_n(reinterpret_cast<const float*>(row) + offset, n, dst); return;
  }
}

#pragma GCC diagnostic pop

bool avx512_ok() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return ok;
}

float dot_f32(const float* a, const float* b, int n) {
  if (avx512_ok()) return dot_f32_avx512(a, b, n);
  float r = 0;
  for (int i = 0; i < n; ++i) r += a[i] * b[i];
  return r;
}

void axpy_f32(float w, const float* v, float* acc, int n) {
  if (avx512_ok()) return axpy_f32_avx512(w, v, acc, n);
  for (int i = 0; i < n; ++i) acc[i] += w * v[i];
}

// Rows j0 .. j0 + count - 1 of r into tile (n floats each).
void decode_rows(const CacheRows& r, int j0, int count, int n, float* tile) {
  const bool fast = avx512_ok() && r.offset % 32 == 0 && n % 32 == 0;
  for (int j = 0; j < count; ++j) {
    if (fast)
      decode_avx512(r.type, r.row(j0 + j), r.offset, n, tile + size_t(j) * n);
    else
      cache_decode(r.type, r.row(j0 + j), r.offset, n, tile + size_t(j) * n);
  }
}

}  // namespace

void attend_rows(const float* q, int n_heads, CacheRows k, CacheRows v, int first, int last, int n, float scale,
                 const float* sinks, float* scores, float* tile, float* out) {
  const int count = last - first + 1;
  for (int j0 = first; j0 <= last; j0 += kAttendTile) {
    const int c = std::min(kAttendTile, last + 1 - j0);
    decode_rows(k, j0, c, n, tile);
    for (int h = 0; h < n_heads; ++h)
      for (int j = 0; j < c; ++j) scores[size_t(h) * count + (j0 - first) + j] = dot_f32(q + size_t(h) * n, tile + size_t(j) * n, n);
  }
  for (int h = 0; h < n_heads; ++h) softmax_scores(scores + size_t(h) * count, count, scale, sinks ? sinks + h : nullptr);
  std::fill(out, out + size_t(n_heads) * n, 0.0f);
  for (int j0 = first; j0 <= last; j0 += kAttendTile) {
    const int c = std::min(kAttendTile, last + 1 - j0);
    decode_rows(v, j0, c, n, tile);
    for (int h = 0; h < n_heads; ++h)
      for (int j = 0; j < c; ++j) axpy_f32(scores[size_t(h) * count + (j0 - first) + j], tile + size_t(j) * n, out + size_t(h) * n, n);
  }
}

}  // namespace lp::engine
