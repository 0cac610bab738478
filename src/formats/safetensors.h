// safetensors reader (spec: huggingface/safetensors README): u64 little-endian header length N,
// N bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, then the data buffer (offsets are relative to its start).
// open() memory-maps and validates: header length vs file, JSON, known dtypes, offsets inside the
// buffer, sizes == dtype size * prod(shape), no overlaps. Errors: lp::Error "path: tensor 'x': ...".
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"

namespace lp::formats {

enum class StDtype {
  F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2, F8_E8M0,
};

const char* st_dtype_name(StDtype d);  // the spec's spelling: "F32", "BF16", "F8_E4M3", ...
std::optional<StDtype> st_dtype_from_name(std::string_view name);
uint32_t st_dtype_size(StDtype d);  // bytes per element
bool st_dtype_is_float(StDtype d);  // F64/F32/F16/BF16/F8_*

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;  // row-major as stored (PyTorch order: shape.back() is contiguous)
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  std::string file;  // the .safetensors file this tensor lives in

  uint64_t n_elements() const;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  // Parses caller-owned bytes (fuzzing, tests); `name` is used in error messages.
  static SafetensorsFile parse(std::span<const uint8_t> bytes, std::string name = "<memory>");

  const std::string& path() const { return path_; }
  const std::vector<StTensor>& tensors() const { return tensors_; }  // in data-offset order
  const StTensor* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"
  uint64_t data_offset() const { return data_offset_; }  // 8 + header length

  // Advise the kernel that a tensor's pages are no longer needed (streaming conversion).
  void release(const StTensor& t) const;
  // Drops [offset, offset+length) bytes of t's data from this process's resident pages (streaming readers).
  void release(const StTensor& t, uint64_t offset, uint64_t length) const;

 private:
  std::shared_ptr<const MappedFile> map_;  // null for parse()
  std::string path_;
  std::vector<StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, size_t, std::less<>> by_name_;  // index into tensors_
  uint64_t data_offset_ = 0;
  const uint8_t* base_ = nullptr;
};

}  // namespace lp::formats
