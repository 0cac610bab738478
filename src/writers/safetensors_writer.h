// Streaming safetensors writers. Declare every tensor (name, dtype, shape) with add(), call begin()
// (writes the header), then write each tensor's bytes in declaration order with write_tensor_data()
// (one call or several chunks per tensor), then finish(). Only the caller's current buffer is ever in
// memory. Output goes to a temporary file renamed into place by finish() (core/atomic_file.h); a writer
// destroyed before finish() leaves nothing behind.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/safetensors.h"

namespace lp {
class AtomicFile;
}

namespace lp::writers {

using formats::StDtype;

class SafetensorsWriter {
 public:
  explicit SafetensorsWriter(std::filesystem::path path, std::map<std::string, std::string> metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(SafetensorsWriter&&) noexcept;
  SafetensorsWriter& operator=(SafetensorsWriter&&) noexcept;

  void add(const std::string& name, StDtype dtype, std::vector<int64_t> shape);  // throws on duplicates
  void begin();
  // `name` must be the current tensor (the first declared one not yet complete).
  void write_tensor_data(const std::string& name, const void* data, size_t size);
  void finish();  // throws if any tensor is incomplete

  uint64_t tensor_bytes(const std::string& name) const;
  uint64_t total_data_bytes() const;  // sum of all tensors' bytes
  size_t tensor_count() const;
  const std::filesystem::path& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits tensors across shards of at most `max_shard_bytes` data each (a tensor larger than that gets a
// shard of its own) in declaration order, like transformers' save_pretrained: `<stem>-00001-of-0000N.safetensors`
// plus `<stem>.safetensors.index.json` ({"metadata": {"total_size": N}, "weight_map": {name: file}}).
// With a single shard it writes plain `<stem>.safetensors` and no index unless `always_index` is set.
// Files are written as StagingDir-free atomic files directly in `dir` (created if absent).
class ShardedSafetensorsWriter {
 public:
  ShardedSafetensorsWriter(std::filesystem::path dir, uint64_t max_shard_bytes,
                           std::map<std::string, std::string> metadata = {}, std::string stem = "model",
                           bool always_index = false);
  ~ShardedSafetensorsWriter();

  void add(const std::string& name, StDtype dtype, std::vector<int64_t> shape);
  void begin();
  void write_tensor_data(const std::string& name, const void* data, size_t size);
  void finish();

  size_t shard_count() const;  // valid after begin()
  std::vector<std::filesystem::path> files() const;  // shard paths (+ index), valid after begin()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp::writers
