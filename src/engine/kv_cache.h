// Per-layer key/value cache, rows of n_head_kv*head_dim values per position, stored as F16 (default),
// Q8_0 (half the memory, head_dim must be a multiple of 32) or F32.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lp::engine {

enum class CacheType { F16, Q8_0, F32 };
CacheType cache_type_from_name(const std::string& name);  // "f16", "q8_0", "f32"; throws otherwise
const char* cache_type_name(CacheType t);

class KvCache {
 public:
  KvCache(CacheType type, int n_layer, int n_ctx, int row_len);  // n_ctx: cells (positions of all sequences)
  void store_k(int layer, int pos, const float* row) { store(k_, layer, pos, row); }
  void store_v(int layer, int pos, const float* row) { store(v_, layer, pos, row); }
  // Decodes the [offset, offset+n) slice of a stored row into dst.
  void load_k(int layer, int pos, int offset, int n, float* dst) const { load(k_, layer, pos, offset, n, dst); }
  void load_v(int layer, int pos, int offset, int n, float* dst) const { load(v_, layer, pos, offset, n, dst); }
  // Raw F16 rows (F16 caches only): the attention fast path reads them without a copy.
  const uint16_t* k_f16(int layer, int pos) const { return reinterpret_cast<const uint16_t*>(k_.data() + row_offset(layer, pos)); }
  const uint16_t* v_f16(int layer, int pos) const { return reinterpret_cast<const uint16_t*>(v_.data() + row_offset(layer, pos)); }
  // Copies cells [src, src+n) to [dst, dst+n) in every layer (K and V), as stored (no re-encoding).
  void copy_cells(int src, int dst, int n);
  int n_ctx() const { return n_ctx_; }
  uint64_t bytes() const { return k_.size() + v_.size(); }
  CacheType type() const { return type_; }

 private:
  void store(std::vector<uint8_t>& buf, int layer, int pos, const float* row);
  void load(const std::vector<uint8_t>& buf, int layer, int pos, int offset, int n, float* dst) const;
  size_t row_offset(int layer, int pos) const { return (static_cast<size_t>(layer) * n_ctx_ + pos) * row_bytes_; }
  CacheType type_;
  int n_layer_, n_ctx_, row_len_;
  size_t row_bytes_;
  std::vector<uint8_t> k_, v_;
};

}  // namespace lp::engine
