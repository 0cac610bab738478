// GGUF metadata values (spec: ggml docs/gguf.md): the one metadata value type of the project. The reader
// (formats::GgufFile), the writer (writers::GgufWriter), the architecture keys (arch::gguf_metadata /
// hparams_from_gguf), the tokenizer keys (text::gguf_tokenizer_metadata) and the engine's view (engine::GgufView)
// all hold this type, so a value keeps its GGUF type from where it is made to where it is written or read.
// A value is a scalar, a string, or an array whose elements all share one type (scalars, strings, or arrays
// again: nested arrays are legal in the spec).
// Numeric arrays are kept as packed little-endian bytes so a 150k-entry token-type table stays compact.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace lp::formats {

enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

const char* gguf_type_name(GgufType t);         // "uint32", "string", ...
bool gguf_type_is_scalar(GgufType t);           // numeric or bool
bool gguf_type_is_integer(GgufType t);          // UINT8..INT64 (not bool)
bool gguf_type_is_float(GgufType t);            // FLOAT32, FLOAT64
uint32_t gguf_scalar_size(GgufType t);          // bytes of a scalar type; 0 for string/array
bool gguf_type_valid(uint32_t id);

class GgufValue {
 public:
  GgufValue() = default;  // UINT8 0; only useful as a placeholder
  // Scalars. Beware: a plain `1.0` literal is FLOAT64 and `1` is INT32; write 1.0f / uint32_t{1} as needed.
  GgufValue(uint8_t v);
  GgufValue(int8_t v);
  GgufValue(uint16_t v);
  GgufValue(int16_t v);
  GgufValue(uint32_t v);
  GgufValue(int32_t v);
  GgufValue(uint64_t v);
  GgufValue(int64_t v);
  GgufValue(float v);
  GgufValue(double v);
  GgufValue(bool v);
  GgufValue(std::string v);
  GgufValue(std::string_view v);
  GgufValue(const char* v);
  // Arrays.
  GgufValue(const std::vector<uint8_t>& v);
  GgufValue(const std::vector<int8_t>& v);
  GgufValue(const std::vector<uint16_t>& v);
  GgufValue(const std::vector<int16_t>& v);
  GgufValue(const std::vector<uint32_t>& v);
  GgufValue(const std::vector<int32_t>& v);
  GgufValue(const std::vector<uint64_t>& v);
  GgufValue(const std::vector<int64_t>& v);
  GgufValue(const std::vector<float>& v);
  GgufValue(const std::vector<double>& v);
  GgufValue(const std::vector<bool>& v);
  GgufValue(std::vector<std::string> v);
  // Array of values that all have the same type (scalars, strings or arrays → nested array).
  // An empty vector gives an empty array of `empty_type`.
  static GgufValue array_of(std::vector<GgufValue> items, GgufType empty_type = GgufType::UINT8);
  // Array of scalars from packed little-endian bytes (what the reader produces).
  static GgufValue packed_array(GgufType elem, std::vector<uint8_t> bytes);

  GgufType type() const { return type_; }
  GgufType array_type() const { return array_type_; }  // element type; meaningful for ARRAY
  bool is_array() const { return type_ == GgufType::ARRAY; }

  // Conversions; `name` (the metadata key) is used in the error message on type mismatch.
  // Integer getters accept any integer type whose value fits; as_f64 accepts any number.
  uint64_t as_u64(std::string_view name = "value") const;
  int64_t as_i64(std::string_view name = "value") const;
  uint32_t as_u32(std::string_view name = "value") const;
  int32_t as_i32(std::string_view name = "value") const;
  double as_f64(std::string_view name = "value") const;
  float as_f32(std::string_view name = "value") const { return static_cast<float>(as_f64(name)); }
  bool as_bool(std::string_view name = "value") const;
  const std::string& as_string(std::string_view name = "value") const;

  size_t array_size() const;  // 0 for non-arrays
  const std::vector<std::string>& strings(std::string_view name = "value") const;  // string arrays
  const std::vector<GgufValue>& arrays(std::string_view name = "value") const;     // nested arrays
  GgufValue at(size_t i) const;  // element i of any array (copies)
  std::vector<float> as_f32_array(std::string_view name = "value") const;    // any numeric array
  std::vector<int32_t> as_i32_array(std::string_view name = "value") const;  // integer arrays, range-checked
  std::vector<uint32_t> as_u32_array(std::string_view name = "value") const;
  std::vector<int64_t> as_i64_array(std::string_view name = "value") const;
  std::vector<bool> as_bool_array(std::string_view name = "value") const;
  const std::vector<uint8_t>& packed_bytes() const { return packed_; }  // scalar arrays, little-endian
  uint64_t raw_bits() const { return bits_; }  // scalars: the value's little-endian bits (low bytes used)

  // JSON for `inspect`: scalars as numbers/bools/strings; arrays longer than `max_items`
  // (0 = unlimited) become {"type":..., "count":N, "head":[first max_items items]}.
  nlohmann::json to_json(size_t max_items = 0) const;
  // One-line human-readable rendering (arrays abbreviated to the first `max_items`).
  std::string to_string(size_t max_items = 8) const;

  bool operator==(const GgufValue& other) const;

 private:
  GgufType type_ = GgufType::UINT8;
  GgufType array_type_ = GgufType::UINT8;
  uint64_t bits_ = 0;        // scalar payload: raw little-endian bits of the value
  std::string str_;          // STRING
  std::vector<uint8_t> packed_;           // ARRAY of scalars
  std::vector<std::string> str_items_;    // ARRAY of STRING
  std::vector<GgufValue> arr_items_;      // ARRAY of ARRAY
  template <typename T> static GgufValue scalar(GgufType t, T v);
  template <typename T> static GgufValue numeric_array(GgufType t, const std::vector<T>& v);
  double scalar_as_f64() const;
  [[noreturn]] void mismatch(std::string_view name, const char* wanted) const;
};

}  // namespace lp::formats
