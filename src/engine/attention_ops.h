// Inner loops of attention over an F16 KV cache: q.k dot and acc += w * v, F16C/AVX2 when available.
#pragma once
#include <cstdint>

namespace lp::engine {

float dot_f32_f16(const float* q, const uint16_t* k, int n);
void axpy_f16(float w, const uint16_t* v, float* acc, int n);

}  // namespace lp::engine
