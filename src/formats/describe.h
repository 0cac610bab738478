// Machine-readable summaries of model files for `llama-pajamas-quant inspect --json` (and tests).
// Arrays longer than max_items (0 = no limit) are abbreviated to {"type", "count", "head"}.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "formats/checkpoint.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

namespace lp::formats {

// {"format":"gguf","path","version","alignment","data_offset","file_size","metadata":{k: v},
//  "metadata_types":{k: "uint32"|"array of string"...},"tensor_count","total_bytes",
//  "tensors":[{"name","type","shape" (ggml ne order),"offset","bytes"}]}
nlohmann::ordered_json describe_gguf(const GgufFile& f, size_t max_items, bool with_tensors);
// {"format":"safetensors","path","data_offset","metadata":{...},"tensor_count","total_bytes",
//  "tensors":[{"name","dtype","shape","bytes"}]}
nlohmann::ordered_json describe_safetensors(const SafetensorsFile& f, bool with_tensors);
// {"format":"checkpoint","dir","model_type","architectures","files":[...],"has_chat_template",
//  "has_tokenizer","tensor_count","total_bytes","config":{...},"tensors":[{"name","dtype","shape","bytes","file"}]}
nlohmann::ordered_json describe_checkpoint(const Checkpoint& c, bool with_tensors);

// Human-readable text of the same (abbreviated metadata, tensor table).
std::string describe_text(const nlohmann::ordered_json& d);

}  // namespace lp::formats
