#include "engine/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/blocks.h"

namespace lp::engine {
using lp::quant::block_q4_0;
using lp::quant::block_q8_0;
using lp::quant::QK4_0;
using lp::quant::QK8_0;

CacheType cache_type_from_name(const std::string& name, const char* flag) {
  if (name == "f16") return CacheType::F16;
  if (name == "q8_0") return CacheType::Q8_0;
  if (name == "f32") return CacheType::F32;
  if (name == "bf16") return CacheType::BF16;
  if (name == "q4_0") return CacheType::Q4_0;
  fail("{}: unknown KV cache type '{}' (f32, f16, bf16, q8_0, q4_0)", flag, name);
}

const char* cache_type_name(CacheType t) {
  switch (t) {
    case CacheType::F16: return "f16";
    case CacheType::Q8_0: return "q8_0";
    case CacheType::F32: return "f32";
    case CacheType::BF16: return "bf16";
    case CacheType::Q4_0: return "q4_0";
  }
  return "?";
}

size_t cache_row_bytes(CacheType t, int row_len) {
  switch (t) {
    case CacheType::F16:
    case CacheType::BF16: return row_len * 2u;
    case CacheType::F32: return row_len * 4u;
    case CacheType::Q8_0:
    case CacheType::Q4_0:
      if (row_len % 32 != 0)
        fail("KV cache type {} needs a KV row length (KV heads x head size) that is a multiple of 32 (got {})", cache_type_name(t), row_len);
      return row_len / 32 * (t == CacheType::Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0));
  }
  return 0;
}

// ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref, so that our cache holds what llama.cpp's would.
void cache_encode(CacheType t, const float* row, int n, uint8_t* dst) {
  switch (t) {
    case CacheType::F32: std::memcpy(dst, row, n * sizeof(float)); return;
    case CacheType::F16: {
      auto* d = reinterpret_cast<uint16_t*>(dst);
      for (int i = 0; i < n; ++i) d[i] = f32_to_f16(row[i]);
      return;
    }
    case CacheType::BF16: {
      auto* d = reinterpret_cast<uint16_t*>(dst);
      for (int i = 0; i < n; ++i) d[i] = f32_to_bf16(row[i]);
      return;
    }
    case CacheType::Q8_0: {
      auto* b = reinterpret_cast<block_q8_0*>(dst);
      for (int i = 0; i < n / QK8_0; ++i) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(row[i * QK8_0 + j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < QK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(std::nearbyint(row[i * QK8_0 + j] * id));
      }
      return;
    }
    case CacheType::Q4_0: {
      auto* b = reinterpret_cast<block_q4_0*>(dst);
      for (int i = 0; i < n / QK4_0; ++i) {
        const float* x = row + i * QK4_0;
        float amax = 0.0f, max = 0.0f;  // the value of largest magnitude, with its sign
        for (int j = 0; j < QK4_0; ++j)
          if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
          }
        const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
          const int x0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
          const int x1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[QK4_0 / 2 + j] * id + 8.5f)));
          b[i].qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
        }
      }
      return;
    }
  }
}

void cache_decode(CacheType t, const uint8_t* src, int offset, int n, float* dst) {
  switch (t) {
    case CacheType::F32: std::memcpy(dst, reinterpret_cast<const float*>(src) + offset, n * sizeof(float)); return;
    case CacheType::F16: {
      const auto* s = reinterpret_cast<const uint16_t*>(src) + offset;
      for (int i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    case CacheType::BF16: {
      const auto* s = reinterpret_cast<const uint16_t*>(src) + offset;
      for (int i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case CacheType::Q8_0: {
      const auto* b = reinterpret_cast<const block_q8_0*>(src);
      for (int i = 0; i < n; ++i) {
        const int e = offset + i;
        dst[i] = f16_to_f32(b[e / QK8_0].d) * b[e / QK8_0].qs[e % QK8_0];
      }
      return;
    }
    case CacheType::Q4_0: {
      const auto* b = reinterpret_cast<const block_q4_0*>(src);
      for (int i = 0; i < n; ++i) {
        const int e = offset + i, j = e % QK4_0;
        const uint8_t q = b[e / QK4_0].qs[j % (QK4_0 / 2)];
        dst[i] = f16_to_f32(b[e / QK4_0].d) * ((j < QK4_0 / 2 ? q & 0x0F : q >> 4) - 8);
      }
      return;
    }
  }
}

KvCache::KvCache(CacheType k_type, CacheType v_type, int n_layer, int n_ctx, int row_len)
    : k_type_(k_type), v_type_(v_type), n_layer_(n_layer), n_ctx_(n_ctx), row_len_(row_len),
      k_row_bytes_(cache_row_bytes(k_type, row_len)), v_row_bytes_(cache_row_bytes(v_type, row_len)) {
  k_.assign(static_cast<size_t>(n_layer) * n_ctx * k_row_bytes_, 0);
  v_.assign(static_cast<size_t>(n_layer) * n_ctx * v_row_bytes_, 0);
}

void KvCache::copy_cells(int src, int dst, int n) {
  if (n <= 0 || src == dst) return;
  if (src < 0 || dst < 0 || src + n > n_ctx_ || dst + n > n_ctx_) fail("KV cells [{}, {}) -> [{}, {}) outside the cache of {}", src, src + n, dst, dst + n, n_ctx_);
  for (int l = 0; l < n_layer_; ++l) {
    std::memmove(k_.data() + k_offset(l, dst), k_.data() + k_offset(l, src), size_t(n) * k_row_bytes_);
    std::memmove(v_.data() + v_offset(l, dst), v_.data() + v_offset(l, src), size_t(n) * v_row_bytes_);
  }
}

}  // namespace lp::engine
