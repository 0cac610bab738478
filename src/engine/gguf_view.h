// The engine's view of a GGUF file (parsed and validated by formats::GgufFile): metadata widened for simple
// lookups and tensor descriptors pointing into the memory map (zero copy).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "formats/gguf.h"
#include "kernels/matmul.h"

namespace lp::engine {

struct GgufTensor {
  std::string name;
  GgmlType type;
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is the row length
  int n_dims = 0;
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  // Set for MLX affine-quantized matrices (HF/MLX folders): `type` is then meaningless, `data` is the packed
  // words, and matmul/embedding lookups go through kernels::matmul_mlx / quant::mlx_dequantize.
  std::optional<kernels::MlxWeights> mlx;
};

// Metadata values are formats' one GGUF value type (the reader's, the writer's, arch's and text's).
using formats::GgufValue;

// A GGUF file, or a model folder (HF safetensors, MLX) presented with the metadata keys and tensor table the
// GGUF converter would have written (see engine/folder_loader.h), so Model binds both the same way.
class GgufView {
 public:
  explicit GgufView(const std::string& path);  // throws lp::Error naming the path and the bad field

  // In-memory view: tensors point into `keep_alive` (mapped checkpoint files) or into buffers it owns.
  GgufView(std::string path, uint64_t file_bytes, std::map<std::string, GgufValue> kv, std::vector<GgufTensor> tensors,
           std::shared_ptr<const void> keep_alive);

  const std::string& path() const { return path_; }
  uint64_t file_bytes() const { return file_bytes_; }

  bool has(const std::string& key) const { return kv_.count(key) != 0; }
  // Every metadata key, for building an in-memory variant of this view (allocate: one tensor replaced).
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const GgufValue* find(const std::string& key) const;
  std::optional<int64_t> get_int(const std::string& key) const;
  std::optional<double> get_float(const std::string& key) const;
  std::optional<bool> get_bool(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;
  const std::vector<std::string>* get_strings(const std::string& key) const;  // null when absent or not strings

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* tensor(const std::string& name) const;

  // The same model with one tensor's data replaced by F32 values (sensitivity measurement: a weight quantized and
  // dequantized again). Every other tensor points into this view, and `f32` is read in place: both must outlive
  // the returned view. An unknown name or a size that does not match the tensor's shape -> lp::Error.
  std::unique_ptr<GgufView> with_f32_tensor(const std::string& name, const std::vector<float>& f32) const;

 private:
  std::optional<formats::GgufFile> file_;
  std::shared_ptr<const void> keep_alive_;
  std::string path_;
  uint64_t file_bytes_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> index_;
};

// One way to open a model path for the engine and the pipeline: a model folder (HF safetensors or MLX, see
// engine/folder_loader.h) or a GGUF file. Throws lp::Error naming the path.
std::unique_ptr<GgufView> open_model_view(const std::string& path);

}  // namespace lp::engine
