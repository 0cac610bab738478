#include "convert/source_model.h"

#include <filesystem>

#include "core/error.h"

namespace lp::convert {

SourceModel open_source_model(const std::string& path) {
  SourceModel m{formats::Checkpoint::open(path), {}, {}, {}, {}, {}};
  if (!m.ckpt.has_weights()) fail("{}: no *.safetensors weights found (a config.json alone can be detected, not converted)", path);
  m.hp = arch::parse_hparams(m.ckpt.config(), m.ckpt.path_of("config.json"));
  m.tensors = arch::classify(m.hp, m.ckpt);
  m.gguf = arch::gguf_tensors(m.hp, m.tensors);
  // MLX recipes only for the families mlx-lm layouts exist for; asking for MLX output of another fails in convert.cpp.
  // No MLX layout yet for qwen35 (Gated DeltaNet) and gemma4 (per-layer embeddings, KV sharing).
  if (m.hp.full_attention_interval == 0 && m.hp.family != arch::Family::Gemma4) m.mlx = arch::mlx_tensors(m.hp, m.tensors);
  std::filesystem::path p = std::filesystem::weakly_canonical(m.ckpt.dir());
  m.name = p.filename().string();
  if (m.name.empty()) m.name = "model";
  return m;
}

}  // namespace lp::convert
