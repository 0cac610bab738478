// Per-layer key/value cache, rows of n_head_kv*head_dim values per position. K and V each have their own type
// (llama.cpp's --cache-type-k / --cache-type-v): F16 (default), BF16, F32, or the ggml blocks Q8_0 (34 bytes per
// 32 values) and Q4_0 (18 bytes per 32 values), encoded exactly like ggml's reference quantizers; the block types
// need a row length that is a multiple of 32. docs/MEMORY.md ("KV-cache types") has the memory, quality and speed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lp::engine {

enum class CacheType { F32, F16, BF16, Q8_0, Q4_0 };
// "f32", "f16", "bf16", "q8_0", "q4_0"; throws naming `flag` otherwise.
CacheType cache_type_from_name(const std::string& name, const char* flag = "--cache-type");
const char* cache_type_name(CacheType t);
// Bytes of one stored row of row_len values; throws when a block type's row length is not a multiple of 32.
size_t cache_row_bytes(CacheType t, int row_len);
// One row of row_len values into its stored form (dst: cache_row_bytes bytes), and back: values
// [offset, offset+n) of a stored row into dst.
void cache_encode(CacheType t, const float* src, int row_len, uint8_t* dst);
void cache_decode(CacheType t, const uint8_t* row, int offset, int n, float* dst);

class KvCache {
 public:
  KvCache(CacheType k_type, CacheType v_type, int n_layer, int n_ctx, int row_len);  // n_ctx: cells of all sequences
  KvCache(CacheType type, int n_layer, int n_ctx, int row_len) : KvCache(type, type, n_layer, n_ctx, row_len) {}
  void store_k(int layer, int pos, const float* row) { cache_encode(k_type_, row, row_len_, k_.data() + k_offset(layer, pos)); }
  void store_v(int layer, int pos, const float* row) { cache_encode(v_type_, row, row_len_, v_.data() + v_offset(layer, pos)); }
  // Decodes the [offset, offset+n) slice of a stored row into dst.
  void load_k(int layer, int pos, int offset, int n, float* dst) const { cache_decode(k_type_, k_row(layer, pos), offset, n, dst); }
  void load_v(int layer, int pos, int offset, int n, float* dst) const { cache_decode(v_type_, v_row(layer, pos), offset, n, dst); }
  // Stored rows (row pos of a layer; the next position's row follows k_row_bytes() later).
  const uint8_t* k_row(int layer, int pos) const { return k_.data() + k_offset(layer, pos); }
  const uint8_t* v_row(int layer, int pos) const { return v_.data() + v_offset(layer, pos); }
  size_t k_row_bytes() const { return k_row_bytes_; }
  size_t v_row_bytes() const { return v_row_bytes_; }
  // Raw F16 rows (F16 K / V only): the attention fast path reads them without a copy.
  const uint16_t* k_f16(int layer, int pos) const { return reinterpret_cast<const uint16_t*>(k_row(layer, pos)); }
  const uint16_t* v_f16(int layer, int pos) const { return reinterpret_cast<const uint16_t*>(v_row(layer, pos)); }
  // Copies cells [src, src+n) to [dst, dst+n) in every layer (K and V), as stored (no re-encoding).
  void copy_cells(int src, int dst, int n);
  int n_ctx() const { return n_ctx_; }
  uint64_t bytes() const { return k_.size() + v_.size(); }
  CacheType k_type() const { return k_type_; }
  CacheType v_type() const { return v_type_; }

 private:
  size_t k_offset(int layer, int pos) const { return (static_cast<size_t>(layer) * n_ctx_ + pos) * k_row_bytes_; }
  size_t v_offset(int layer, int pos) const { return (static_cast<size_t>(layer) * n_ctx_ + pos) * v_row_bytes_; }
  CacheType k_type_, v_type_;
  int n_layer_, n_ctx_, row_len_;
  size_t k_row_bytes_, v_row_bytes_;
  std::vector<uint8_t> k_, v_;
};

}  // namespace lp::engine
