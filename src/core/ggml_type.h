// ggml tensor types: the numeric ids are GGUF's on-disk contract (ggml.h `enum ggml_type`), the block
// geometry is ggml's (ggml.c `type_traits`). Everything that stores or reads a tensor uses this table.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lp {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35,
  MXFP4 = 39,
};

struct GgmlTypeTraits {
  GgmlType type;
  const char* name;     // ggml's name, e.g. "q4_K"
  uint32_t block_size;  // elements per block
  uint32_t type_size;   // bytes per block
  bool quantized;
};

// nullptr for ids we do not know.
const GgmlTypeTraits* ggml_type_traits(uint32_t id);
const GgmlTypeTraits& ggml_traits(GgmlType type);  // known types only
inline const char* ggml_type_name(GgmlType t) { return ggml_traits(t).name; }

// Bytes for `n` elements (n must be a multiple of the block size; callers validate first).
uint64_t ggml_row_bytes(GgmlType type, uint64_t n);

// Case-insensitive lookup by name: "q4_k", "Q4_K", "bf16", "mxfp4".
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

// Bits per weight of a type (type_size*8/block_size).
double ggml_type_bpw(GgmlType type);

}  // namespace lp
