// Family identities. Mistral and Mixtral are written as llama.cpp's "llama" architecture, exactly as
// convert_hf_to_gguf.py's LlamaModel does; gemma3 covers both the text-only and the multimodal config.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

#include "arch/family_table.h"

namespace lp::arch {

namespace detail {

const std::vector<FamilyInfo>& family_table() {
  static const std::vector<FamilyInfo> table = {
      {Family::Llama, "llama", {"llama"}, {"LlamaForCausalLM"}, "llama", "llama"},
      {Family::Mistral, "mistral", {"mistral"}, {"MistralForCausalLM"}, "llama", "mistral"},
      {Family::Qwen2, "qwen2", {"qwen2"}, {"Qwen2ForCausalLM"}, "qwen2", "qwen2"},
      {Family::Qwen3, "qwen3", {"qwen3"}, {"Qwen3ForCausalLM"}, "qwen3", "qwen3"},
      {Family::Qwen3Moe, "qwen3moe", {"qwen3_moe"}, {"Qwen3MoeForCausalLM"}, "qwen3moe", "qwen3_moe"},
      {Family::Mixtral, "mixtral", {"mixtral"}, {"MixtralForCausalLM"}, "llama", "mixtral"},
      {Family::GptOss, "gpt-oss", {"gpt_oss"}, {"GptOssForCausalLM"}, "gpt-oss", "gpt_oss"},
      {Family::Gemma3, "gemma3", {"gemma3_text", "gemma3"}, {"Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"},
       "gemma3", "gemma3_text"},
  };
  return table;
}

const FamilyInfo& family_info(Family f) {
  for (const auto& info : family_table())
    if (info.family == f) return info;
  fail("internal: family {} missing from the family table", static_cast<int>(f));
}

}  // namespace detail

std::string_view family_name(Family f) { return detail::family_info(f).name; }

const std::vector<Family>& all_families() {
  static const std::vector<Family> families = [] {
    std::vector<Family> v;
    for (const auto& info : detail::family_table()) v.push_back(info.family);
    return v;
  }();
  return families;
}

std::string supported_families_text() {
  std::string out;
  for (const auto& info : detail::family_table()) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} ({} / {})", info.name, fmt::join(info.model_types, "|"), fmt::join(info.architectures, "|"));
  }
  return out;
}

}  // namespace lp::arch
