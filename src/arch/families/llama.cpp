// Llama (LlamaForCausalLM): the dense reference family. llama.cpp permutes q/k rows (LlamaModel.permute) and
// writes vocab_size / rope.dimension_count; llama3 rope scaling travels as the generated rope_freqs tensor.
#include "arch/families/family.h"

namespace lp::arch::detail {

const FamilyDesc& llama_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f;
    f.family = Family::Llama;
    f.name = "llama";
    f.model_types = {"llama"};
    f.architectures = {"LlamaForCausalLM"};
    f.gguf_arch = "llama";
    f.mlx_model_type = "llama";
    f.permute_qk = true;
    f.gguf_vocab_and_rope_dims = true;
    f.mlx_attention_bias = true;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
