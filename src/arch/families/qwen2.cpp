// Qwen2 (Qwen2ForCausalLM): q/k/v biases always (no o bias), HF rotate-half rope (NEOX), optional sliding window
// on the layers from max_window_layers on.
#include "arch/families/family.h"

namespace lp::arch::detail {

const FamilyDesc& qwen2_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f;
    f.family = Family::Qwen2;
    f.name = "qwen2";
    f.model_types = {"qwen2"};
    f.architectures = {"Qwen2ForCausalLM"};
    f.gguf_arch = "qwen2";
    f.mlx_model_type = "qwen2";
    f.qkv_bias = true;
    f.sliding = SlidingRule::MaxWindow;
    f.default_sliding_window = 4096;
    f.mlx_attention_bias = true;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
