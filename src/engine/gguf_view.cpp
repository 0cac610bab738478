#include "engine/gguf_view.h"

#include <filesystem>

#include "core/error.h"
#include "engine/folder_loader.h"

namespace lp::engine {
using formats::GgufType;

// Parsing and validation (bounds, sizes vs shapes, alignment) are formats::GgufFile's; this view only
// re-indexes what the forward pass looks up.
GgufView::GgufView(const std::string& path) : file_(formats::GgufFile::open(path)), path_(file_->path()), file_bytes_(file_->file_size()) {
  for (const auto& [key, value] : file_->metadata()) kv_.emplace(key, value);
  for (const auto& t : file_->tensors()) {
    if (t.ne.size() > 4) fail("{}: tensor '{}' has {} dimensions", path, t.name, t.ne.size());
    GgufTensor g;
    g.name = t.name;
    g.type = t.type;
    g.n_dims = static_cast<int>(t.ne.size());
    for (size_t d = 0; d < t.ne.size(); ++d) g.ne[d] = t.ne[d];
    g.data = t.data;
    g.nbytes = t.nbytes;
    index_[g.name] = tensors_.size();
    tensors_.push_back(std::move(g));
  }
}

GgufView::GgufView(std::string path, uint64_t file_bytes, std::map<std::string, GgufValue> kv, std::vector<GgufTensor> tensors,
                   std::shared_ptr<const void> keep_alive)
    : keep_alive_(std::move(keep_alive)), path_(std::move(path)), file_bytes_(file_bytes), kv_(std::move(kv)), tensors_(std::move(tensors)) {
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

std::unique_ptr<GgufView> GgufView::with_f32_tensor(const std::string& name, const std::vector<float>& f32) const {
  std::vector<GgufTensor> tensors = tensors_;
  auto it = index_.find(name);
  if (it == index_.end()) fail("{}: no tensor {} to replace", path_, name);
  GgufTensor& t = tensors[it->second];
  const int64_t n = t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3];
  if (static_cast<int64_t>(f32.size()) != n) fail("{}: replacement for {} has {} values, expected {}", path_, name, f32.size(), n);
  t.type = GgmlType::F32;
  t.data = reinterpret_cast<const uint8_t*>(f32.data());
  t.nbytes = f32.size() * sizeof(float);
  t.mlx.reset();
  return std::make_unique<GgufView>(path_, file_bytes_, kv_, std::move(tensors), nullptr);
}

const GgufValue* GgufView::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

// The lookups accept what the engine asked of the formerly widened values: any integer for an int (bool as 0/1),
// any number for a float, a bool or an integer for a bool.
std::optional<int64_t> GgufView::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type() == GgufType::UINT64) return static_cast<int64_t>(v->as_u64(key));
  if (formats::gguf_type_is_integer(v->type())) return v->as_i64(key);
  if (v->type() == GgufType::BOOL) return v->as_bool(key) ? 1 : 0;
  fail("{}: metadata {} is not an integer", path(), key);
}

std::optional<double> GgufView::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (formats::gguf_type_is_float(v->type()) || formats::gguf_type_is_integer(v->type())) return v->as_f64(key);
  fail("{}: metadata {} is not a number", path(), key);
}

std::optional<bool> GgufView::get_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type() == GgufType::BOOL) return v->as_bool(key);
  if (formats::gguf_type_is_integer(v->type()) && v->type() != GgufType::UINT64) return v->as_i64(key) != 0;
  fail("{}: metadata {} is not a bool", path(), key);
}

std::optional<std::string> GgufView::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type() == GgufType::STRING) return v->as_string(key);
  fail("{}: metadata {} is not a string", path(), key);
}

const std::vector<std::string>* GgufView::get_strings(const std::string& key) const {
  const GgufValue* v = find(key);
  return v && v->is_array() && v->array_type() == GgufType::STRING ? &v->strings(key) : nullptr;
}

const GgufTensor* GgufView::tensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::unique_ptr<GgufView> open_model_view(const std::string& path) {
  if (std::filesystem::is_directory(path)) return load_model_folder(path);
  return std::make_unique<GgufView>(path);
}

}  // namespace lp::engine
