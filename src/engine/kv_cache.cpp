#include "engine/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/blocks.h"

namespace lp::engine {
using lp::quant::block_q8_0;
using lp::quant::QK8_0;

CacheType cache_type_from_name(const std::string& name) {
  if (name == "f16") return CacheType::F16;
  if (name == "q8_0") return CacheType::Q8_0;
  if (name == "f32") return CacheType::F32;
  fail("--cache-type: unknown KV cache type '{}' (f16, q8_0, f32)", name);
}

const char* cache_type_name(CacheType t) {
  switch (t) {
    case CacheType::F16: return "f16";
    case CacheType::Q8_0: return "q8_0";
    case CacheType::F32: return "f32";
  }
  return "?";
}

KvCache::KvCache(CacheType type, int n_layer, int n_ctx, int row_len) : type_(type), n_layer_(n_layer), n_ctx_(n_ctx), row_len_(row_len) {
  switch (type) {
    case CacheType::F16: row_bytes_ = row_len * 2u; break;
    case CacheType::F32: row_bytes_ = row_len * 4u; break;
    case CacheType::Q8_0:
      if (row_len % QK8_0 != 0) fail("--cache-type q8_0 needs a KV row length that is a multiple of 32 (got {})", row_len);
      row_bytes_ = row_len / QK8_0 * sizeof(block_q8_0);
      break;
  }
  const size_t total = static_cast<size_t>(n_layer) * n_ctx * row_bytes_;
  k_.assign(total, 0);
  v_.assign(total, 0);
}

void KvCache::copy_cells(int src, int dst, int n) {
  if (n <= 0 || src == dst) return;
  if (src < 0 || dst < 0 || src + n > n_ctx_ || dst + n > n_ctx_) fail("KV cells [{}, {}) -> [{}, {}) outside the cache of {}", src, src + n, dst, dst + n, n_ctx_);
  for (int l = 0; l < n_layer_; ++l) {
    std::memmove(k_.data() + row_offset(l, dst), k_.data() + row_offset(l, src), size_t(n) * row_bytes_);
    std::memmove(v_.data() + row_offset(l, dst), v_.data() + row_offset(l, src), size_t(n) * row_bytes_);
  }
}

void KvCache::store(std::vector<uint8_t>& buf, int layer, int pos, const float* row) {
  uint8_t* dst = buf.data() + row_offset(layer, pos);
  switch (type_) {
    case CacheType::F32: std::memcpy(dst, row, row_len_ * sizeof(float)); return;
    case CacheType::F16: {
      auto* d = reinterpret_cast<uint16_t*>(dst);
      for (int i = 0; i < row_len_; ++i) d[i] = f32_to_f16(row[i]);
      return;
    }
    case CacheType::Q8_0: {
      auto* b = reinterpret_cast<block_q8_0*>(dst);
      for (int i = 0; i < row_len_ / QK8_0; ++i) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(row[i * QK8_0 + j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < QK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(std::nearbyint(row[i * QK8_0 + j] * id));
      }
      return;
    }
  }
}

void KvCache::load(const std::vector<uint8_t>& buf, int layer, int pos, int offset, int n, float* dst) const {
  const uint8_t* src = buf.data() + row_offset(layer, pos);
  switch (type_) {
    case CacheType::F32: std::memcpy(dst, reinterpret_cast<const float*>(src) + offset, n * sizeof(float)); return;
    case CacheType::F16: {
      const auto* s = reinterpret_cast<const uint16_t*>(src) + offset;
      for (int i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
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
  }
}

}  // namespace lp::engine
