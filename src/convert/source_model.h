// A Hugging Face checkpoint opened for conversion: the mapped weights, the parsed hyper-parameters,
// every tensor classified by role, and the GGUF / MLX recipes derived from them (all from src/arch).
#pragma once
#include <string>
#include <vector>

#include "arch/arch.h"
#include "formats/checkpoint.h"

namespace lp::convert {

struct SourceModel {
  formats::Checkpoint ckpt;
  arch::HParams hp;
  std::vector<arch::TensorDesc> tensors;
  std::vector<arch::GgufTensorRecipe> gguf;
  std::vector<arch::MlxTensorRecipe> mlx;
  std::string name;  // folder name, used for general.name and file names
};

// Throws lp::Error if the folder has no weights, the architecture is unknown, or a tensor disagrees with the config.
SourceModel open_source_model(const std::string& path);

}  // namespace lp::convert
