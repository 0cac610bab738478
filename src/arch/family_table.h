// The per-family identity table (internal to the arch module): which config.json `model_type` and
// `architectures` values select a family, and what llama.cpp and mlx-lm call it.
#pragma once
#include <string_view>
#include <vector>

#include "arch/arch.h"

namespace lp::arch::detail {

struct FamilyInfo {
  Family family;
  std::string_view name;                        // our stable name
  std::vector<std::string_view> model_types;    // config.json model_type values
  std::vector<std::string_view> architectures;  // config.json architectures[] values
  std::string_view gguf_arch;                   // llama.cpp general.architecture
  std::string_view mlx_model_type;              // mlx-lm models/<name>.py (via its remapping)
};

const std::vector<FamilyInfo>& family_table();
const FamilyInfo& family_info(Family f);

}  // namespace lp::arch::detail
