// Inner loops of attention over an F16 KV cache: q.k dot and acc += w * v, F16C/AVX2 when available.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/kv_cache.h"

namespace lp::engine {

float dot_f32_f16(const float* q, const uint16_t* k, int n);
void axpy_f16(float w, const uint16_t* v, float* acc, int n);

// Rows of one KV head in an F16 cache: row j starts at base + j * stride.
struct F16Rows {
  const uint16_t* base;
  size_t stride;
  const uint16_t* row(int j) const { return base + static_cast<size_t>(j) * stride; }
};

// Softmax attention of one query (n floats) over keys first..last: two passes (max, then exp/sum in
// double), an optional sink logit that joins the denominator only (gpt-oss), out = sum_j w_j * v_j.
// scores needs last - first + 1 floats. Several keys per dot pass and the output held in registers;
// results are bit-identical to calling dot_f32_f16 / axpy_f16 key by key.
void attend_f16(const float* q, F16Rows k, F16Rows v, int first, int last, int n, float scale,
                const float* sink, float* scores, float* out);

// attend_f16 for n_heads consecutive query heads (q and out: n floats per head, contiguous) that share
// one KV head (GQA): pairs of heads convert each F16 K/V row once. sinks: one per head or null;
// scores needs 2 * (last - first + 1) floats. Same bits as attend_f16 head by head.
void attend_f16_heads(const float* q, int n_heads, F16Rows k, F16Rows v, int first, int last, int n, float scale,
                      const float* sinks, float* scores, float* out);

// Rows of one KV head in a cache of any type (engine/kv_cache.h): row j's stored bytes start at
// base + j * stride, and this head's n values at element `offset` of the row.
struct CacheRows {
  const uint8_t* base;
  size_t stride;
  CacheType type;
  int offset;
  const uint8_t* row(int j) const { return base + static_cast<size_t>(j) * stride; }
};
constexpr int kAttendTile = 32;  // keys decoded to floats at a time by attend_rows

// attend_f16_heads for K and V of any cache type (quantized, BF16, F32, mixed): kAttendTile rows at a time are
// decoded to floats (tile: kAttendTile * n floats), once for all n_heads query heads sharing the KV head, then
// the same float math (scores, softmax with the optional sinks, weighted sum of V). scores needs
// n_heads * (last - first + 1) floats. No restriction on quantized V: V rows are decoded like K rows.
void attend_rows(const float* q, int n_heads, CacheRows k, CacheRows v, int first, int last, int n, float scale,
                 const float* sinks, float* scores, float* tile, float* out);

}  // namespace lp::engine
