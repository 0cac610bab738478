// GGUF v2/v3 reader (spec: ggml docs/gguf.md; behaviour matches ggml/src/gguf.cpp).
// Layout: magic "GGUF", u32 version, u64 n_tensors, u64 n_kv, kv pairs, tensor infos, padding to
// `general.alignment` (default 32), data section. Strings are u64 length + bytes.
// open() memory-maps the file and validates everything up front (bounds, counts vs file size, shape
// overflow, row length vs block size, known type ids, offsets aligned and inside the data section,
// duplicate names), so callers can trust tensor pointers. Errors are lp::Error "path: field: ...".
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ggml_type.h"
#include "core/mapped_file.h"
#include "formats/gguf_value.h"

namespace lp::formats {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kGgufDefaultAlignment = 32;

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous row length
  uint64_t offset = 0;      // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping (or the parsed span)

  uint64_t n_elements() const;
  int64_t rows() const;  // product of ne[1..]
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path);
  // Parses bytes owned by the caller (fuzzing, tests); `name` is used in error messages.
  static GgufFile parse(std::span<const uint8_t> bytes, std::string name = "<memory>");

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute file offset of the data section
  uint64_t file_size() const { return size_; }

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const GgufValue& get(std::string_view key) const;  // throws "path: missing metadata key 'k'"

  // Typed getters; errors name the file and the key (missing key or wrong type).
  uint32_t get_u32(std::string_view key) const;
  int32_t get_i32(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  float get_f32(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  std::vector<std::string> get_strings(std::string_view key) const;  // array of string
  std::vector<float> get_f32_array(std::string_view key) const;
  std::vector<int32_t> get_i32_array(std::string_view key) const;
  uint32_t get_u32_or(std::string_view key, uint32_t def) const;
  int32_t get_i32_or(std::string_view key, int32_t def) const;
  uint64_t get_u64_or(std::string_view key, uint64_t def) const;
  float get_f32_or(std::string_view key, float def) const;
  bool get_bool_or(std::string_view key, bool def) const;
  std::string get_string_or(std::string_view key, std::string def) const;

  std::string architecture() const;  // general.architecture (throws when missing)

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* tensor(std::string_view name) const;  // nullptr when absent
  const GgufTensorInfo& require_tensor(std::string_view name) const;  // throws naming file and tensor

 private:
  std::shared_ptr<const MappedFile> map_;  // keeps tensor pointers alive; null for parse()
  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  uint64_t size_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;  // index into tensors_
  friend class GgufParser;
};

}  // namespace lp::formats
