// Internal: the checkpoint layout of a family (tensor names, roles and shapes as transformers writes them),
// derived from HParams in one place. expected_tensors(), classify() and the parameter counts all use it.
#pragma once
#include <string>
#include <vector>

#include "arch/arch.h"

namespace lp::arch::detail {

struct LayoutOptions {
  bool mxfp4_experts = false;  // gpt-oss experts as *_blocks/*_scales (else the dense-BF16 transformers layout)
  bool lm_head = true;         // include lm_head.weight (absent when tied, but some tied checkpoints still store it)
  bool fused_experts = false;  // transformers-5 fused experts (qwen35moe mlp.experts.gate_up_proj / down_proj)
};

// Appends checkpoint tensors (the family MoE layouts in families/ use it too).
struct LayoutBuilder {
  std::vector<TensorDesc>& out;
  void add(std::string name, Role role, int layer, std::vector<int64_t> shape, Part part = Part::Weight,
           int expert = -1, std::string dtype = "");
};

std::vector<TensorDesc> checkpoint_layout(const HParams& hp, const LayoutOptions& options);

inline constexpr const char* kNewMultimodalPrefix = "model.language_model.";

// The HF name prefix of the language model ("model." or "language_model.model.") and of lm_head.
std::string model_prefix(const HParams& hp);
std::string lm_head_name(const HParams& hp);

}  // namespace lp::arch::detail
