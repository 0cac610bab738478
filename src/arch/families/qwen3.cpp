// Qwen3 (Qwen3ForCausalLM): per-head q/k RMSNorm, head_dim 128 by default, NEOX rope.
#include "arch/families/family.h"

namespace lp::arch::detail {

const FamilyDesc& qwen3_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f;
    f.family = Family::Qwen3;
    f.name = "qwen3";
    f.model_types = {"qwen3"};
    f.architectures = {"Qwen3ForCausalLM"};
    f.gguf_arch = "qwen3";
    f.mlx_model_type = "qwen3";
    f.default_head_dim = 128;
    f.qk_norm = true;
    f.sliding = SlidingRule::MaxWindow;
    f.default_sliding_window = 4096;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
