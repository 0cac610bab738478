// Precision presets: llama.cpp's file types ("mixes") for GGUF, and bit widths for MLX.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ggml_type.h"

namespace lp::plan {

enum class Preset {
  F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q4_K_M, Q4_K_S, Q3_K_L, Q3_K_M, Q3_K_S, Q2_K,
  IQ4_XS, IQ4_NL, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4_MOE,
  // i-quant mixes (llama.cpp's IQ* file types); IQ1_*/IQ2_*/IQ3_XXS need an importance matrix.
  IQ3_M, IQ3_S, IQ3_XS, IQ3_XXS, IQ2_M, IQ2_S, IQ2_XS, IQ2_XXS, IQ1_M, IQ1_S,
};

std::optional<Preset> preset_from_name(std::string_view name);  // case-insensitive: "q4_k_m", "Q8_0", "mxfp4_moe"
std::string preset_name(Preset p);                              // canonical upper-case, "Q4_K_M"
std::string preset_file_suffix(Preset p);                       // lower-case for file names, "q4_k_m"
GgmlType preset_base_type(Preset p);                            // llama_ftype_get_default_type
bool preset_is_float(Preset p);                                 // F32/F16/BF16: nothing is quantized
std::vector<std::string> preset_names();                        // for --help and errors
uint32_t preset_llama_ftype(Preset p);                          // general.file_type value (llama_ftype)

// MLX precision: "4bit", "4bit-g32", "8bit", "4bit-pure" ... (bits 2,3,4,5,6,8; group 32/64/128).
struct MlxPrecision {
  int bits = 4;
  int group_size = 64;
  bool mixed = true;  // embeddings/lm_head at embedding_bits (default 6)
  std::string name() const;  // "4bit-mixed", "4bit-pure", "8bit-g32-mixed"
};
std::optional<MlxPrecision> mlx_precision_from_name(std::string_view name);

// `--precision` as convert takes it: a comma list of items, each a GGUF:MLX pair ("q4_k_m:4bit") or one name
// whose format follows from the name (llama.cpp file types and "auto" are GGUF, "<N>bit[-gG][-pure]" is MLX):
// "4bit", "q4_k_m,q8_0", "q4_k_m:4bit,q8_0:8bit", "q4_k_m,4bit". The old "q4_k_m,q8_0:4bit,8bit" reads the
// same item by item. Throws lp::Error naming the bad value.
// GGUF "auto": per-tensor types from the allocator (src/allocate) under a size budget; `gguf` then holds
// Q4_K_M as the base preset (its rules and general.file_type for tensors the allocator leaves alone).
struct PrecisionRequest {
  std::vector<Preset> gguf;
  bool gguf_auto = false;
  std::vector<MlxPrecision> mlx;
};
PrecisionRequest parse_precision(std::string_view text);
// The same, checked against the formats asked for: a format asked for with no precision, or a precision whose
// format was not asked for, is an error naming the conflict (never silently dropped).
PrecisionRequest parse_precision(std::string_view text, bool want_gguf, bool want_mlx);

}  // namespace lp::plan
