#include "engine/gguf_view.h"

#include "core/error.h"

namespace lp::engine {
namespace {

using formats::GgufType;

// The engine's lookups widen every scalar to int64/uint64/double; arrays keep their element kind.
std::optional<GgufValue> widen(const formats::GgufValue& v, const std::string& key) {
  switch (v.type()) {
    case GgufType::UINT64: return GgufValue(v.as_u64(key));
    case GgufType::FLOAT32: case GgufType::FLOAT64: return GgufValue(v.as_f64(key));
    case GgufType::BOOL: return GgufValue(v.as_bool(key));
    case GgufType::STRING: return GgufValue(v.as_string(key));
    case GgufType::ARRAY:
      switch (v.array_type()) {
        case GgufType::STRING: return GgufValue(v.strings(key));
        case GgufType::FLOAT32: {
          std::vector<float> f = v.as_f32_array(key);
          return GgufValue(std::vector<double>(f.begin(), f.end()));
        }
        case GgufType::FLOAT64: {
          std::vector<double> d(v.array_size());
          for (size_t i = 0; i < d.size(); ++i) d[i] = v.at(i).as_f64(key);
          return GgufValue(std::move(d));
        }
        case GgufType::BOOL: {
          std::vector<bool> b = v.as_bool_array(key);
          return GgufValue(std::vector<int64_t>(b.begin(), b.end()));
        }
        case GgufType::ARRAY: return std::nullopt;  // nested arrays: nothing the engine reads
        default: return GgufValue(v.as_i64_array(key));
      }
    default: return GgufValue(v.as_i64(key));
  }
}

}  // namespace

// Parsing and validation (bounds, sizes vs shapes, alignment) are formats::GgufFile's; this view only
// re-indexes what the forward pass looks up.
GgufView::GgufView(const std::string& path) : file_(formats::GgufFile::open(path)), path_(file_->path()), file_bytes_(file_->file_size()) {
  for (const auto& [key, value] : file_->metadata())
    if (auto w = widen(value, key)) kv_.emplace(key, std::move(*w));
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

std::optional<int64_t> GgufView::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (auto* i = std::get_if<int64_t>(v)) return *i;
  if (auto* u = std::get_if<uint64_t>(v)) return static_cast<int64_t>(*u);
  if (auto* b = std::get_if<bool>(v)) return *b ? 1 : 0;
  fail("{}: metadata {} is not an integer", path(), key);
}

std::optional<double> GgufView::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (auto* d = std::get_if<double>(v)) return *d;
  if (auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  if (auto* u = std::get_if<uint64_t>(v)) return static_cast<double>(*u);
  fail("{}: metadata {} is not a number", path(), key);
}

std::optional<bool> GgufView::get_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (auto* b = std::get_if<bool>(v)) return *b;
  if (auto* i = std::get_if<int64_t>(v)) return *i != 0;
  fail("{}: metadata {} is not a bool", path(), key);
}

std::optional<std::string> GgufView::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (auto* s = std::get_if<std::string>(v)) return *s;
  fail("{}: metadata {} is not a string", path(), key);
}

const std::vector<std::string>* GgufView::get_strings(const std::string& key) const {
  const GgufValue* v = find(key);
  return v ? std::get_if<std::vector<std::string>>(v) : nullptr;
}
const std::vector<int64_t>* GgufView::get_ints(const std::string& key) const {
  const GgufValue* v = find(key);
  return v ? std::get_if<std::vector<int64_t>>(v) : nullptr;
}
const std::vector<double>* GgufView::get_floats(const std::string& key) const {
  const GgufValue* v = find(key);
  return v ? std::get_if<std::vector<double>>(v) : nullptr;
}

const GgufTensor* GgufView::tensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace lp::engine
