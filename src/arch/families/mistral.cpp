// Mistral (MistralForCausalLM): written as llama.cpp's "llama" architecture (read back as llama); every layer
// slides when sliding_window is set (MistralConfig's default 4096; an explicit null means none).
#include "arch/families/family.h"

namespace lp::arch::detail {

const FamilyDesc& mistral_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f = llama_family();
    f.family = Family::Mistral;
    f.name = "mistral";
    f.model_types = {"mistral"};
    f.architectures = {"MistralForCausalLM"};
    f.mlx_model_type = "mistral";
    f.gguf_canonical = false;
    f.sliding = SlidingRule::AllWhenWindow;
    f.default_sliding_window = 4096;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
