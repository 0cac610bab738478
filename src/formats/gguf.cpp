#include "formats/gguf.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "core/error.h"
#include "formats/byte_reader.h"

namespace lp::formats {

namespace {
constexpr int kMaxArrayDepth = 16;  // the spec allows nesting; bound it so crafted files cannot blow the stack
constexpr uint32_t kMaxDims = 4;    // GGML_MAX_DIMS
// Counts come from the file; reserve at most this many up front so a lying header cannot force a huge allocation.
size_t capped(uint64_t n) { return static_cast<size_t>(std::min<uint64_t>(n, 1u << 16)); }

GgufValue read_value(ByteReader& r, GgufType type, const std::string& key, int depth);

GgufType read_type(ByteReader& r, const std::string& key, std::string_view what) {
  const uint32_t id = r.read<uint32_t>(key);
  if (!gguf_type_valid(id)) fail("{}: metadata '{}': unknown {} id {}", r.name(), key, what, id);
  return static_cast<GgufType>(id);
}

GgufValue read_array(ByteReader& r, const std::string& key, int depth) {
  if (depth >= kMaxArrayDepth) fail("{}: metadata '{}': arrays nested deeper than {}", r.name(), key, kMaxArrayDepth);
  const GgufType elem = read_type(r, key, "array element type");
  const uint64_t n = r.read<uint64_t>(key);
  const uint32_t sz = gguf_scalar_size(elem);
  // Every element needs at least this many bytes, so a huge count in a small file fails here.
  const uint64_t min_elem = sz ? sz : (elem == GgufType::STRING ? 8 : 12);
  if (n > r.remaining() / min_elem)
    fail("{}: metadata '{}': array count {} exceeds the file size", r.name(), key, n);
  if (sz) {
    const uint8_t* p = r.take(n * sz, key);
    return GgufValue::packed_array(elem, std::vector<uint8_t>(p, p + n * sz));
  }
  if (elem == GgufType::STRING) {
    std::vector<std::string> items;
    items.reserve(capped(n));
    for (uint64_t i = 0; i < n; ++i) items.push_back(r.read_string(key));
    return GgufValue(std::move(items));
  }
  std::vector<GgufValue> items;
  items.reserve(capped(n));
  for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(r, GgufType::ARRAY, key, depth + 1));
  return GgufValue::array_of(std::move(items), GgufType::ARRAY);
}

GgufValue read_value(ByteReader& r, GgufType type, const std::string& key, int depth) {
  switch (type) {
    case GgufType::UINT8: return GgufValue(r.read<uint8_t>(key));
    case GgufType::INT8: return GgufValue(r.read<int8_t>(key));
    case GgufType::UINT16: return GgufValue(r.read<uint16_t>(key));
    case GgufType::INT16: return GgufValue(r.read<int16_t>(key));
    case GgufType::UINT32: return GgufValue(r.read<uint32_t>(key));
    case GgufType::INT32: return GgufValue(r.read<int32_t>(key));
    case GgufType::UINT64: return GgufValue(r.read<uint64_t>(key));
    case GgufType::INT64: return GgufValue(r.read<int64_t>(key));
    case GgufType::FLOAT32: return GgufValue(r.read<float>(key));
    case GgufType::FLOAT64: return GgufValue(r.read<double>(key));
    case GgufType::BOOL: {
      const uint8_t b = r.read<uint8_t>(key);
      if (b > 1) fail("{}: metadata '{}': bool value {} is not 0 or 1", r.name(), key, b);
      return GgufValue(b != 0);
    }
    case GgufType::STRING: return GgufValue(r.read_string(key));
    case GgufType::ARRAY: return read_array(r, key, depth);
  }
  fail("{}: metadata '{}': unknown value type", r.name(), key);
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
}  // namespace

class GgufParser {
 public:
  static GgufFile parse(std::span<const uint8_t> bytes, std::string name) {
    GgufFile f;
    f.path_ = std::move(name);
    f.size_ = bytes.size();
    ByteReader r(bytes, f.path_);
    const std::string& path = f.path_;

    const uint32_t magic = r.read<uint32_t>("magic");
    if (magic != kGgufMagic) fail("{}: bad magic 0x{:08x} (not a GGUF file)", path, magic);
    f.version_ = r.read<uint32_t>("version");
    if (f.version_ != 2 && f.version_ != 3) fail("{}: unsupported GGUF version {} (expected 2 or 3)", path, f.version_);
    const uint64_t n_tensors = r.read<uint64_t>("tensor count");
    const uint64_t n_kv = r.read<uint64_t>("metadata count");
    if (n_kv > r.remaining() / 13) fail("{}: metadata count {} exceeds the file size", path, n_kv);
    if (n_tensors > r.remaining() / 28) fail("{}: tensor count {} exceeds the file size", path, n_tensors);

    std::unordered_set<std::string> keys;
    f.kv_.reserve(capped(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key = r.read_string(fmt::format("metadata key #{}", i));
      if (!keys.insert(key).second) fail("{}: duplicate metadata key '{}'", path, key);
      const GgufType type = read_type(r, key, "value type");
      GgufValue v = read_value(r, type, key, 0);
      f.kv_.emplace_back(std::move(key), std::move(v));
    }
    if (const GgufValue* a = f.find("general.alignment")) {
      if (a->type() != GgufType::UINT32) fail("{}: general.alignment must be uint32, got {}", path, gguf_type_name(a->type()));
      const uint32_t al = a->as_u32("general.alignment");
      if (al == 0 || (al & (al - 1)) != 0) fail("{}: general.alignment {} is not a power of two", path, al);
      f.alignment_ = al;
    }

    std::unordered_set<std::string> names;
    f.tensors_.reserve(capped(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensorInfo t;
      t.name = r.read_string(fmt::format("tensor #{} name", i));
      if (!names.insert(t.name).second) fail("{}: duplicate tensor name '{}'", path, t.name);
      const std::string field = fmt::format("tensor '{}'", t.name);
      const uint32_t n_dims = r.read<uint32_t>(field);
      if (n_dims == 0 || n_dims > kMaxDims) fail("{}: {}: n_dims {} (expected 1..{})", path, field, n_dims, kMaxDims);
      uint64_t n_el = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t ne = r.read<uint64_t>(field);
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          fail("{}: {}: dimension {} is negative or too large", path, field, d);
        if (ne != 0 && n_el > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne)
          fail("{}: {}: element count overflows", path, field);
        n_el *= ne;
        t.ne.push_back(static_cast<int64_t>(ne));
      }
      const uint32_t type_id = r.read<uint32_t>(field);
      const GgmlTypeTraits* traits = ggml_type_traits(type_id);
      if (!traits) fail("{}: {}: unknown ggml type id {}", path, field, type_id);
      t.type = traits->type;
      if (t.ne[0] % traits->block_size != 0)
        fail("{}: {}: row length {} is not a multiple of the {} block size {}", path, field, t.ne[0], traits->name,
             traits->block_size);
      const uint64_t row_bytes = static_cast<uint64_t>(t.ne[0]) / traits->block_size * traits->type_size;
      const uint64_t rows = t.ne[0] == 0 ? 0 : n_el / static_cast<uint64_t>(t.ne[0]);
      if (rows != 0 && row_bytes > std::numeric_limits<uint64_t>::max() / rows)
        fail("{}: {}: byte size overflows", path, field);
      t.nbytes = row_bytes * rows;
      t.offset = r.read<uint64_t>(field);
      if (t.offset % f.alignment_ != 0)
        fail("{}: {}: data offset {} is not a multiple of the alignment {}", path, field, t.offset, f.alignment_);
      f.tensors_.push_back(std::move(t));
    }

    f.data_offset_ = align_up(r.pos(), f.alignment_);
    if (f.data_offset_ > bytes.size() && !f.tensors_.empty())
      fail("{}: data section starts at {} past the end of the file ({} bytes)", path, f.data_offset_, bytes.size());
    const uint64_t data_size = f.data_offset_ > bytes.size() ? 0 : bytes.size() - f.data_offset_;
    for (auto& t : f.tensors_) {
      if (t.offset > data_size || t.nbytes > data_size - t.offset)
        fail("{}: tensor '{}': data [{}, +{}) extends past the end of the file (data section {} bytes)", path, t.name,
             t.offset, t.nbytes, data_size);
      t.data = bytes.data() + f.data_offset_ + t.offset;
    }
    // Tensors must not share bytes: sort the non-empty ones by offset and compare neighbours
    // (an empty tensor legitimately sits at the same offset as the next one).
    std::vector<const GgufTensorInfo*> order;
    for (const auto& t : f.tensors_)
      if (t.nbytes) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < order.size(); ++i)
      if (order[i - 1]->offset + order[i - 1]->nbytes > order[i]->offset)
        fail("{}: tensor '{}' overlaps tensor '{}'", path, order[i - 1]->name, order[i]->name);
    for (size_t i = 0; i < f.tensors_.size(); ++i) f.by_name_.emplace(f.tensors_[i].name, i);
    return f;
  }
};

uint64_t GgufTensorInfo::n_elements() const {
  uint64_t n = 1;
  for (int64_t d : ne) n *= static_cast<uint64_t>(d);
  return n;
}

int64_t GgufTensorInfo::rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < ne.size(); ++i) n *= ne[i];
  return n;
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  return GgufParser::parse(bytes, std::move(name));
}

GgufFile GgufFile::open(const std::string& path) {
  auto map = std::make_shared<const MappedFile>(path);
  GgufFile f = GgufParser::parse(map->bytes(), path);
  f.map_ = std::move(map);
  return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : kv_)
    if (k == key) return &v;
  return nullptr;
}

const GgufValue& GgufFile::get(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail("{}: missing metadata key '{}'", path_, key);
  return *v;
}

namespace {
// Re-throws a value-level type error with the file name in front.
template <typename F>
auto with_path(const std::string& path, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}
}  // namespace

uint32_t GgufFile::get_u32(std::string_view key) const { return with_path(path_, [&] { return get(key).as_u32(key); }); }
int32_t GgufFile::get_i32(std::string_view key) const { return with_path(path_, [&] { return get(key).as_i32(key); }); }
uint64_t GgufFile::get_u64(std::string_view key) const { return with_path(path_, [&] { return get(key).as_u64(key); }); }
float GgufFile::get_f32(std::string_view key) const { return with_path(path_, [&] { return get(key).as_f32(key); }); }
bool GgufFile::get_bool(std::string_view key) const { return with_path(path_, [&] { return get(key).as_bool(key); }); }
const std::string& GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = get(key);
  if (v.type() != GgufType::STRING) with_path(path_, [&] { v.as_string(key); });
  return v.as_string(key);
}
std::vector<std::string> GgufFile::get_strings(std::string_view key) const {
  return with_path(path_, [&] { return get(key).strings(key); });
}
std::vector<float> GgufFile::get_f32_array(std::string_view key) const {
  return with_path(path_, [&] { return get(key).as_f32_array(key); });
}
std::vector<int32_t> GgufFile::get_i32_array(std::string_view key) const {
  return with_path(path_, [&] { return get(key).as_i32_array(key); });
}

uint32_t GgufFile::get_u32_or(std::string_view key, uint32_t def) const {
  const GgufValue* v = find(key);
  return v ? with_path(path_, [&] { return v->as_u32(key); }) : def;
}
int32_t GgufFile::get_i32_or(std::string_view key, int32_t def) const {
  const GgufValue* v = find(key);
  return v ? with_path(path_, [&] { return v->as_i32(key); }) : def;
}
uint64_t GgufFile::get_u64_or(std::string_view key, uint64_t def) const {
  const GgufValue* v = find(key);
  return v ? with_path(path_, [&] { return v->as_u64(key); }) : def;
}
float GgufFile::get_f32_or(std::string_view key, float def) const {
  const GgufValue* v = find(key);
  return v ? with_path(path_, [&] { return v->as_f32(key); }) : def;
}
bool GgufFile::get_bool_or(std::string_view key, bool def) const {
  const GgufValue* v = find(key);
  return v ? with_path(path_, [&] { return v->as_bool(key); }) : def;
}
std::string GgufFile::get_string_or(std::string_view key, std::string def) const {
  const GgufValue* v = find(key);
  return v ? with_path(path_, [&] { return v->as_string(key); }) : def;
}

std::string GgufFile::architecture() const { return get_string("general.architecture"); }

const GgufTensorInfo* GgufFile::tensor(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::require_tensor(std::string_view name) const {
  const GgufTensorInfo* t = tensor(name);
  if (!t) fail("{}: missing tensor '{}'", path_, name);
  return *t;
}

}  // namespace lp::formats
