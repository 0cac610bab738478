// The list of supported families (one description file each in this folder) and the lookups over it.
// Mistral and Mixtral are written as llama.cpp's "llama" architecture, exactly as convert_hf_to_gguf.py's
// LlamaModel does; gemma3 covers both the text-only and the multimodal config.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "arch/families/family.h"
#include "core/error.h"

namespace lp::arch {

namespace detail {

const std::vector<FamilyDesc>& family_table() {
  static const std::vector<FamilyDesc> table = {llama_family(),    mistral_family(), qwen2_family(),   qwen3_family(),
                                                qwen3moe_family(), mixtral_family(), gpt_oss_family(), gemma3_family(),
                                                qwen35_family(),   qwen35moe_family(), gemma4_family()};
  return table;
}

const FamilyDesc& family_info(Family f) {
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

std::optional<Family> family_from_gguf_arch(std::string_view gguf_arch, bool has_experts) {
  const detail::FamilyDesc* first = nullptr;
  for (const auto& info : detail::family_table()) {
    if (info.gguf_arch != gguf_arch || !info.gguf_canonical) continue;
    if (info.moe == has_experts) return info.family;
    if (!first) first = &info;
  }
  if (first) return first->family;
  return std::nullopt;
}

bool engine_runs(Family f) { return detail::family_info(f).engine_runs; }

std::string engine_families_text() {
  std::vector<std::string_view> names;
  for (const auto& info : detail::family_table())
    if (info.engine_runs) names.push_back(info.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace lp::arch
