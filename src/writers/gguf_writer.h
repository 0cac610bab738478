// Streaming GGUF v3 writer, byte-compatible with ggml/src/gguf.cpp: metadata in insertion order,
// tensor infos in declaration order, data section at the header end padded to the alignment, every
// tensor's data padded to the alignment (offsets are what llama.cpp expects: each one equals the
// previous offset + padded size). Use: set()/add_tensor() ..., begin(), write_tensor_data() for every
// tensor in declaration order (whole or in chunks), finish(). Atomic: temp file renamed on finish().
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/ggml_type.h"
#include "formats/gguf_value.h"

namespace lp::writers {

using formats::GgufType;
using formats::GgufValue;

class GgufWriter {
 public:
  // alignment must be a power of two; when != 32, general.alignment (uint32) is written at begin().
  explicit GgufWriter(std::filesystem::path path, uint32_t alignment = 32);
  ~GgufWriter();
  GgufWriter(GgufWriter&&) noexcept;
  GgufWriter& operator=(GgufWriter&&) noexcept;

  // Sets a metadata key; a key set again keeps its first position with the new value.
  void set(const std::string& key, GgufValue value);
  bool has(std::string_view key) const;

  // ne in ggml order (ne[0] = row length, must be a multiple of the type's block size); 1..4 dims.
  // Names longer than 63 bytes are rejected (llama.cpp's GGML_MAX_NAME).
  void add_tensor(const std::string& name, lp::GgmlType type, std::vector<int64_t> ne);
  uint64_t tensor_bytes(const std::string& name) const;

  // Bytes before the data section as begin() will write them (magic, metadata, tensor infos, padding to the
  // alignment); with the declared metadata and tensors. The file is header_bytes() + each tensor padded.
  uint64_t header_bytes() const;
  size_t tensor_count() const;
  uint32_t alignment() const;

  void begin();
  // `name` must be the current tensor (the first declared one not yet complete).
  void write_tensor_data(const std::string& name, const void* data, size_t size);
  void finish();

  const std::filesystem::path& path() const;
  uint64_t bytes_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Serialises one metadata value exactly as it appears in a GGUF file (without the key and type tag
// for the top-level value: [type tag is written by the caller]). Exposed for tests and fuzz seeds.
void append_gguf_value(std::string& out, const GgufValue& v);

}  // namespace lp::writers
