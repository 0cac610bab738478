#include "engine/gguf_view.h"

#include <cstring>

#include "core/error.h"

namespace lp::engine {
namespace {

enum GgufKind : uint32_t { U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 };

// Bounds-checked cursor over the mapped bytes; every failure names the file and what was being read.
class Reader {
 public:
  Reader(const uint8_t* p, size_t n, const std::string& path) : p_(p), n_(n), path_(path) {}
  template <typename T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const uint64_t len = pod<uint64_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }
  size_t pos() const { return pos_; }

 private:
  void need(uint64_t k, const char* what) {
    if (k > n_ - pos_) fail("{}: truncated GGUF while reading {}", path_, what);
  }
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& path_;
};

int64_t read_int(Reader& r, uint32_t kind) {
  switch (kind) {
    case U8: return r.pod<uint8_t>("u8");
    case I8: return r.pod<int8_t>("i8");
    case U16: return r.pod<uint16_t>("u16");
    case I16: return r.pod<int16_t>("i16");
    case U32: return r.pod<uint32_t>("u32");
    case I32: return r.pod<int32_t>("i32");
    case I64: return r.pod<int64_t>("i64");
    case U64: return static_cast<int64_t>(r.pod<uint64_t>("u64"));
    case BOOL: return r.pod<uint8_t>("bool");
    default: return 0;
  }
}

bool is_int_kind(uint32_t k) { return k == U8 || k == I8 || k == U16 || k == I16 || k == U32 || k == I32 || k == I64 || k == U64 || k == BOOL; }

GgufValue read_value(Reader& r, uint32_t kind, const std::string& key, const std::string& path) {
  if (kind == U64) return r.pod<uint64_t>("u64");
  if (kind == BOOL) return r.pod<uint8_t>("bool") != 0;
  if (is_int_kind(kind)) return read_int(r, kind);
  if (kind == F32) return static_cast<double>(r.pod<float>("f32"));
  if (kind == F64) return r.pod<double>("f64");
  if (kind == STRING) return r.str("string");
  if (kind != ARRAY) fail("{}: metadata {} has unknown value type {}", path, key, kind);
  const uint32_t elem = r.pod<uint32_t>("array type");
  const uint64_t n = r.pod<uint64_t>("array length");
  if (elem == STRING) {
    std::vector<std::string> v;
    v.reserve(n);
    for (uint64_t i = 0; i < n; ++i) v.push_back(r.str("string array"));
    return v;
  }
  if (elem == F32 || elem == F64) {
    std::vector<double> v;
    v.reserve(n);
    for (uint64_t i = 0; i < n; ++i) v.push_back(elem == F32 ? r.pod<float>("f32 array") : r.pod<double>("f64 array"));
    return v;
  }
  if (!is_int_kind(elem)) fail("{}: metadata {} is an array of unsupported type {}", path, key, elem);
  std::vector<int64_t> v;
  v.reserve(n);
  for (uint64_t i = 0; i < n; ++i) v.push_back(read_int(r, elem));
  return v;
}

}  // namespace

GgufView::GgufView(const std::string& path) : file_(path) {
  Reader r(file_.data(), file_.size(), path);
  const uint32_t magic = r.pod<uint32_t>("magic");
  if (magic != 0x46554747u) fail("{}: not a GGUF file (bad magic)", path);
  const uint32_t version = r.pod<uint32_t>("version");
  if (version < 2 || version > 3) fail("{}: unsupported GGUF version {}", path, version);
  const uint64_t n_tensors = r.pod<uint64_t>("tensor count");
  const uint64_t n_kv = r.pod<uint64_t>("metadata count");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.str("metadata key");
    const uint32_t kind = r.pod<uint32_t>("metadata type");
    kv_[key] = read_value(r, kind, key, path);
  }
  std::vector<uint64_t> offsets;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = r.str("tensor name");
    t.n_dims = static_cast<int>(r.pod<uint32_t>("tensor dims"));
    if (t.n_dims < 1 || t.n_dims > 4) fail("{}: tensor {} has {} dimensions", path, t.name, t.n_dims);
    for (int d = 0; d < t.n_dims; ++d) t.ne[d] = static_cast<int64_t>(r.pod<uint64_t>("tensor shape"));
    const uint32_t type_id = r.pod<uint32_t>("tensor type");
    if (!ggml_type_traits(type_id)) fail("{}: tensor {} has unknown ggml type id {}", path, t.name, type_id);
    t.type = static_cast<GgmlType>(type_id);
    offsets.push_back(r.pod<uint64_t>("tensor offset"));
    const auto& tr = ggml_traits(t.type);
    if (t.ne[0] % tr.block_size != 0) fail("{}: tensor {} row length {} is not a multiple of the {} block size", path, t.name, t.ne[0], tr.name);
    t.nbytes = ggml_row_bytes(t.type, t.ne[0]) * static_cast<uint64_t>(t.ne[1] * t.ne[2] * t.ne[3]);
    tensors_.push_back(std::move(t));
  }
  const uint64_t alignment = get_int("general.alignment").value_or(32);
  const uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    auto& t = tensors_[i];
    const uint64_t begin = data_start + offsets[i];
    if (begin > file_.size() || t.nbytes > file_.size() - begin) fail("{}: tensor {} data lies outside the file", path, t.name);
    t.data = file_.data() + begin;
    index_[t.name] = i;
  }
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
