#include "formats/gguf_value.h"

#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

static_assert(std::endian::native == std::endian::little, "GGUF values are stored little-endian");

namespace lp::formats {

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::UINT8: return "uint8";
    case GgufType::INT8: return "int8";
    case GgufType::UINT16: return "uint16";
    case GgufType::INT16: return "int16";
    case GgufType::UINT32: return "uint32";
    case GgufType::INT32: return "int32";
    case GgufType::FLOAT32: return "float32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::UINT64: return "uint64";
    case GgufType::INT64: return "int64";
    case GgufType::FLOAT64: return "float64";
  }
  return "unknown";
}

bool gguf_type_valid(uint32_t id) { return id <= 12; }

uint32_t gguf_scalar_size(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    default: return 0;
  }
}

bool gguf_type_is_scalar(GgufType t) { return gguf_scalar_size(t) != 0; }

namespace {
bool is_unsigned(GgufType t) {
  return t == GgufType::UINT8 || t == GgufType::UINT16 || t == GgufType::UINT32 || t == GgufType::UINT64;
}
bool is_signed(GgufType t) {
  return t == GgufType::INT8 || t == GgufType::INT16 || t == GgufType::INT32 || t == GgufType::INT64;
}
bool is_float(GgufType t) { return t == GgufType::FLOAT32 || t == GgufType::FLOAT64; }
}  // namespace

bool gguf_type_is_integer(GgufType t) { return is_unsigned(t) || is_signed(t); }
bool gguf_type_is_float(GgufType t) { return is_float(t); }

namespace {

// Raw little-endian bits of one packed element, sign-extended for signed types.
uint64_t load_bits(GgufType t, const uint8_t* p) {
  switch (t) {
    case GgufType::UINT8: case GgufType::BOOL: return *p;
    case GgufType::INT8: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(*p)));
    case GgufType::UINT16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case GgufType::INT16: { int16_t v; std::memcpy(&v, p, 2); return static_cast<uint64_t>(static_cast<int64_t>(v)); }
    case GgufType::UINT32: case GgufType::FLOAT32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    case GgufType::INT32: { int32_t v; std::memcpy(&v, p, 4); return static_cast<uint64_t>(static_cast<int64_t>(v)); }
    default: { uint64_t v; std::memcpy(&v, p, 8); return v; }
  }
}
}  // namespace

template <typename T>
GgufValue GgufValue::scalar(GgufType t, T v) {
  GgufValue out;
  out.type_ = t;
  if constexpr (std::is_same_v<T, float>) {
    out.bits_ = std::bit_cast<uint32_t>(v);
  } else if constexpr (std::is_same_v<T, double>) {
    out.bits_ = std::bit_cast<uint64_t>(v);
  } else if constexpr (std::is_signed_v<T>) {
    out.bits_ = static_cast<uint64_t>(static_cast<int64_t>(v));
  } else {
    out.bits_ = static_cast<uint64_t>(v);
  }
  return out;
}

template <typename T>
GgufValue GgufValue::numeric_array(GgufType t, const std::vector<T>& v) {
  GgufValue out;
  out.type_ = GgufType::ARRAY;
  out.array_type_ = t;
  out.packed_.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.packed_.data(), v.data(), out.packed_.size());
  return out;
}

GgufValue::GgufValue(uint8_t v) : GgufValue(scalar(GgufType::UINT8, v)) {}
GgufValue::GgufValue(int8_t v) : GgufValue(scalar(GgufType::INT8, v)) {}
GgufValue::GgufValue(uint16_t v) : GgufValue(scalar(GgufType::UINT16, v)) {}
GgufValue::GgufValue(int16_t v) : GgufValue(scalar(GgufType::INT16, v)) {}
GgufValue::GgufValue(uint32_t v) : GgufValue(scalar(GgufType::UINT32, v)) {}
GgufValue::GgufValue(int32_t v) : GgufValue(scalar(GgufType::INT32, v)) {}
GgufValue::GgufValue(uint64_t v) : GgufValue(scalar(GgufType::UINT64, v)) {}
GgufValue::GgufValue(int64_t v) : GgufValue(scalar(GgufType::INT64, v)) {}
GgufValue::GgufValue(float v) : GgufValue(scalar(GgufType::FLOAT32, v)) {}
GgufValue::GgufValue(double v) : GgufValue(scalar(GgufType::FLOAT64, v)) {}
GgufValue::GgufValue(bool v) : GgufValue(scalar(GgufType::BOOL, static_cast<uint8_t>(v))) {}
GgufValue::GgufValue(std::string v) : type_(GgufType::STRING), str_(std::move(v)) {}
GgufValue::GgufValue(std::string_view v) : type_(GgufType::STRING), str_(v) {}
GgufValue::GgufValue(const char* v) : type_(GgufType::STRING), str_(v) {}

GgufValue::GgufValue(const std::vector<uint8_t>& v) : GgufValue(numeric_array(GgufType::UINT8, v)) {}
GgufValue::GgufValue(const std::vector<int8_t>& v) : GgufValue(numeric_array(GgufType::INT8, v)) {}
GgufValue::GgufValue(const std::vector<uint16_t>& v) : GgufValue(numeric_array(GgufType::UINT16, v)) {}
GgufValue::GgufValue(const std::vector<int16_t>& v) : GgufValue(numeric_array(GgufType::INT16, v)) {}
GgufValue::GgufValue(const std::vector<uint32_t>& v) : GgufValue(numeric_array(GgufType::UINT32, v)) {}
GgufValue::GgufValue(const std::vector<int32_t>& v) : GgufValue(numeric_array(GgufType::INT32, v)) {}
GgufValue::GgufValue(const std::vector<uint64_t>& v) : GgufValue(numeric_array(GgufType::UINT64, v)) {}
GgufValue::GgufValue(const std::vector<int64_t>& v) : GgufValue(numeric_array(GgufType::INT64, v)) {}
GgufValue::GgufValue(const std::vector<float>& v) : GgufValue(numeric_array(GgufType::FLOAT32, v)) {}
GgufValue::GgufValue(const std::vector<double>& v) : GgufValue(numeric_array(GgufType::FLOAT64, v)) {}
GgufValue::GgufValue(const std::vector<bool>& v) {
  type_ = GgufType::ARRAY;
  array_type_ = GgufType::BOOL;
  packed_.reserve(v.size());
  for (bool b : v) packed_.push_back(b ? 1 : 0);
}
GgufValue::GgufValue(std::vector<std::string> v)
    : type_(GgufType::ARRAY), array_type_(GgufType::STRING), str_items_(std::move(v)) {}

GgufValue GgufValue::array_of(std::vector<GgufValue> items, GgufType empty_type) {
  GgufValue out;
  out.type_ = GgufType::ARRAY;
  out.array_type_ = items.empty() ? empty_type : items.front().type();
  for (const auto& it : items)
    if (it.type() != out.array_type_)
      fail("GGUF array mixes {} and {} elements", gguf_type_name(out.array_type_), gguf_type_name(it.type()));
  if (out.array_type_ == GgufType::STRING) {
    for (auto& it : items) out.str_items_.push_back(std::move(it.str_));
  } else if (out.array_type_ == GgufType::ARRAY) {
    out.arr_items_ = std::move(items);
  } else {
    const uint32_t sz = gguf_scalar_size(out.array_type_);
    out.packed_.resize(items.size() * sz);
    for (size_t i = 0; i < items.size(); ++i) std::memcpy(&out.packed_[i * sz], &items[i].bits_, sz);
  }
  return out;
}

GgufValue GgufValue::packed_array(GgufType elem, std::vector<uint8_t> bytes) {
  const uint32_t sz = gguf_scalar_size(elem);
  if (sz == 0) fail("GGUF packed array needs a scalar element type, got {}", gguf_type_name(elem));
  if (bytes.size() % sz != 0) fail("GGUF packed {} array has {} bytes", gguf_type_name(elem), bytes.size());
  GgufValue out;
  out.type_ = GgufType::ARRAY;
  out.array_type_ = elem;
  out.packed_ = std::move(bytes);
  return out;
}

void GgufValue::mismatch(std::string_view name, const char* wanted) const {
  fail("{}: expected {}, got {}{}", name, wanted, gguf_type_name(type_),
       type_ == GgufType::ARRAY ? std::string(" of ") + gguf_type_name(array_type_) : std::string());
}

uint64_t GgufValue::as_u64(std::string_view name) const {
  if (is_unsigned(type_)) return bits_;
  if (is_signed(type_) && static_cast<int64_t>(bits_) >= 0) return bits_;
  if (is_signed(type_)) fail("{}: value {} is negative", name, static_cast<int64_t>(bits_));
  mismatch(name, "an unsigned integer");
}

int64_t GgufValue::as_i64(std::string_view name) const {
  if (is_signed(type_)) return static_cast<int64_t>(bits_);
  if (is_unsigned(type_) && bits_ <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(bits_);
  if (is_unsigned(type_)) fail("{}: value {} does not fit int64", name, bits_);
  mismatch(name, "an integer");
}

uint32_t GgufValue::as_u32(std::string_view name) const {
  const uint64_t v = as_u64(name);
  if (v > std::numeric_limits<uint32_t>::max()) fail("{}: value {} does not fit uint32", name, v);
  return static_cast<uint32_t>(v);
}

int32_t GgufValue::as_i32(std::string_view name) const {
  const int64_t v = as_i64(name);
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    fail("{}: value {} does not fit int32", name, v);
  return static_cast<int32_t>(v);
}

double GgufValue::scalar_as_f64() const {
  if (type_ == GgufType::FLOAT32) return std::bit_cast<float>(static_cast<uint32_t>(bits_));
  if (type_ == GgufType::FLOAT64) return std::bit_cast<double>(bits_);
  if (is_signed(type_)) return static_cast<double>(static_cast<int64_t>(bits_));
  return static_cast<double>(bits_);
}

double GgufValue::as_f64(std::string_view name) const {
  if (is_float(type_) || is_signed(type_) || is_unsigned(type_)) return scalar_as_f64();
  mismatch(name, "a number");
}

bool GgufValue::as_bool(std::string_view name) const {
  if (type_ == GgufType::BOOL) return bits_ != 0;
  mismatch(name, "bool");
}

const std::string& GgufValue::as_string(std::string_view name) const {
  if (type_ != GgufType::STRING) mismatch(name, "string");
  return str_;
}

size_t GgufValue::array_size() const {
  if (type_ != GgufType::ARRAY) return 0;
  if (array_type_ == GgufType::STRING) return str_items_.size();
  if (array_type_ == GgufType::ARRAY) return arr_items_.size();
  return packed_.size() / gguf_scalar_size(array_type_);
}

const std::vector<std::string>& GgufValue::strings(std::string_view name) const {
  if (type_ != GgufType::ARRAY || array_type_ != GgufType::STRING) mismatch(name, "array of string");
  return str_items_;
}

const std::vector<GgufValue>& GgufValue::arrays(std::string_view name) const {
  if (type_ != GgufType::ARRAY || array_type_ != GgufType::ARRAY) mismatch(name, "array of array");
  return arr_items_;
}

GgufValue GgufValue::at(size_t i) const {
  if (type_ != GgufType::ARRAY) fail("GGUF value of type {} is not an array", gguf_type_name(type_));
  if (i >= array_size()) fail("GGUF array index {} out of range (size {})", i, array_size());
  if (array_type_ == GgufType::STRING) return GgufValue(str_items_[i]);
  if (array_type_ == GgufType::ARRAY) return arr_items_[i];
  GgufValue out;
  out.type_ = array_type_;
  out.bits_ = load_bits(array_type_, &packed_[i * gguf_scalar_size(array_type_)]);
  return out;
}

namespace {
template <typename T, typename Get>
std::vector<T> convert_array(const GgufValue& v, std::string_view name, Get get) {
  if (v.type() != GgufType::ARRAY || !gguf_type_is_scalar(v.array_type()))
    fail("{}: expected a numeric array, got {}", name, gguf_type_name(v.type()));
  std::vector<T> out(v.array_size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = get(v.at(i));
  return out;
}
}  // namespace

std::vector<float> GgufValue::as_f32_array(std::string_view name) const {
  return convert_array<float>(*this, name, [&](const GgufValue& e) { return e.as_f32(name); });
}
std::vector<int32_t> GgufValue::as_i32_array(std::string_view name) const {
  return convert_array<int32_t>(*this, name, [&](const GgufValue& e) { return e.as_i32(name); });
}
std::vector<uint32_t> GgufValue::as_u32_array(std::string_view name) const {
  return convert_array<uint32_t>(*this, name, [&](const GgufValue& e) { return e.as_u32(name); });
}
std::vector<int64_t> GgufValue::as_i64_array(std::string_view name) const {
  return convert_array<int64_t>(*this, name, [&](const GgufValue& e) { return e.as_i64(name); });
}
std::vector<bool> GgufValue::as_bool_array(std::string_view name) const {
  return convert_array<bool>(*this, name, [&](const GgufValue& e) { return e.as_bool(name); });
}

nlohmann::json GgufValue::to_json(size_t max_items) const {
  using nlohmann::json;
  switch (type_) {
    case GgufType::STRING: return str_;
    case GgufType::BOOL: return bits_ != 0;
    case GgufType::FLOAT32: case GgufType::FLOAT64: return scalar_as_f64();
    case GgufType::ARRAY: {
      const size_t n = array_size();
      const size_t shown = max_items == 0 ? n : std::min(n, max_items);
      json items = json::array();
      for (size_t i = 0; i < shown; ++i) items.push_back(at(i).to_json(max_items));
      if (shown == n) return items;
      return json{{"type", std::string("array of ") + gguf_type_name(array_type_)}, {"count", n}, {"head", items}};
    }
    default:
      if (is_signed(type_)) return static_cast<int64_t>(bits_);
      return bits_;
  }
}

std::string GgufValue::to_string(size_t max_items) const {
  if (type_ == GgufType::STRING) return nlohmann::json(str_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (type_ != GgufType::ARRAY)
    return to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const size_t n = array_size();
  std::string out = "[";
  for (size_t i = 0; i < std::min(n, max_items); ++i) {
    if (i) out += ", ";
    out += at(i).to_string(max_items);
  }
  if (n > max_items) out += fmt::format(", ... ({} {} items)", n, gguf_type_name(array_type_));
  return out + "]";
}

bool GgufValue::operator==(const GgufValue& o) const {
  return type_ == o.type_ && bits_ == o.bits_ && str_ == o.str_ &&
         (type_ != GgufType::ARRAY ||
          (array_type_ == o.array_type_ && packed_ == o.packed_ && str_items_ == o.str_items_ && arr_items_ == o.arr_items_));
}

}  // namespace lp::formats
