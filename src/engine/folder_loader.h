// Model folders as engine inputs: a Hugging Face checkpoint (config.json + *.safetensors, F32/F16/BF16) or an
// MLX folder from our converter (config.json with "quantization" + U32-packed affine weights). Either is
// presented as the GgufView the GGUF converter would produce: the `{arch}.*` keys from arch::gguf_metadata,
// tokenizer ids from tokenizer.json, and tensors under their GGUF names in GGUF layout, so Model binds and
// the forward pass runs unchanged.
//
// Layout choices (why): matrices whose checkpoint layout equals the GGUF layout (no transform) are bound
// zero-copy from the safetensors mmap in their own dtype (F32/F16/BF16: the kernels have paths for all three).
// llama/mistral q/k (PermuteQK) are row-permuted into GGUF's interleaved rope order at load, keeping the dtype
// (a row permutation never touches values) — for MLX too: each packed row with its scales/biases row is moved
// as a unit, so the engine keeps one rope convention per architecture. Vectors and norms become F32 (gemma3
// norms +1, as llama.cpp stores them). MLX scales/biases are widened to F32 once (rows × cols/group floats);
// the packed words stay in the mmap and are dequantized on the fly by kernels::matmul_mlx.
#pragma once
#include <memory>
#include <string>

#include "engine/gguf_view.h"

namespace lp::engine {

enum class FolderKind { None, Hf, Mlx };

// What `dir` holds: Mlx when config.json has a "quantization" object with bits and group_size, Hf when it has
// a config.json and *.safetensors, else None.
FolderKind folder_kind(const std::string& dir);

// Loads either kind; throws lp::Error naming the folder and the architecture/tensor/dtype it cannot run.
std::unique_ptr<GgufView> load_model_folder(const std::string& dir);

}  // namespace lp::engine
