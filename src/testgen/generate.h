// Synthetic Hugging Face checkpoints for tests: for every supported family, writes a folder that looks like the
// real release (tensor names/shapes/dtypes as transformers names them, config.json with the family's real fields,
// generation_config.json, tokenizer.json + tokenizer_config.json with the family's chat template) filled with
// seeded random weights. Deterministic across machines (own PRNG + own normal sampler, no libm in the hot path).
// Generation streams: one tensor (or one chunk of one) in memory at a time. See docs/TEST_MODELS.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lp::testgen {

enum class TensorDtype { BF16, F16, F32, U8 };
const char* dtype_name(TensorDtype d);  // safetensors spelling: "BF16", "F16", "F32", "U8"
TensorDtype parse_weight_dtype(const std::string& s);  // "bf16" | "f16" | "f32" (throws lp::Error)
size_t dtype_size(TensorDtype d);

// Any field set here replaces the preset's value. For MoE families `ffn` is the per-expert FFN width.
struct ShapeOverrides {
  std::optional<int64_t> hidden, layers, ffn, heads, kv_heads, head_dim, experts, experts_per_tok, vocab;
  std::optional<int64_t> sliding_window;
};

struct GenerateOptions {
  std::string family = "qwen3";  // see supported_families(); aliases: gpt_oss, gptoss, qwen3_moe, gemma3_text
  std::string preset = "tiny";   // see supported_presets(): tiny | large | qwen3-0.6b
  uint64_t seed = 0;
  TensorDtype dtype = TensorDtype::BF16;  // float tensors (MXFP4 expert blocks/scales are always U8)
  ShapeOverrides overrides;
  std::optional<bool> tie_embeddings;  // default: the family's usual choice
  // Split into shards of at most this many bytes (plus model.safetensors.index.json). 0 = preset default
  // (large: 500 MB; others: one model.safetensors).
  uint64_t shard_bytes = 0;
  float norm_jitter = 0.0f;          // norms = 1 (gemma3: 0) + N(0, jitter); 0 = exactly the textbook init
  bool rope_scaling = true;          // llama: llama3 scaling, gpt-oss: yarn (as released); false -> null
  bool progress = true;              // progress on stderr (see core/progress.h)
};

// Every dimension resolved from family + preset + overrides.
struct ModelShape {
  std::string family;  // canonical family name
  int64_t hidden = 0, layers = 0, ffn = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  int64_t experts = 0, experts_per_tok = 0;  // 0 for dense
  int64_t sliding_window = 0;                // 0 = none
  bool tie_embeddings = false;
};

// How a tensor's values are produced.
enum class InitKind {
  Normal,       // N(0, std)
  Constant,     // value (+ N(0, std) when std > 0: norm jitter)
  Mxfp4Blocks,  // U8 [..., rows, cols/32, 16]: MXFP4 codes of N(0, std) values, element 2k in the low nibble
  Mxfp4Scales,  // U8 [..., rows, cols/32]: E8M0 shared exponents belonging to the matching *_blocks tensor
};

struct TensorPlan {
  std::string name;
  TensorDtype dtype = TensorDtype::BF16;
  std::vector<int64_t> shape;  // row-major, as stored
  InitKind init = InitKind::Normal;
  float std = 0.0f;
  float value = 0.0f;
  uint64_t nbytes() const;
  uint64_t numel() const;
};

std::vector<std::string> supported_families();
std::vector<std::string> supported_presets();
std::string canonical_family(const std::string& name);  // resolves aliases; throws lp::Error for unknown

ModelShape resolve_shape(const GenerateOptions& options);
std::vector<TensorPlan> plan_tensors(const GenerateOptions& options);  // in file order
nlohmann::json make_config(const GenerateOptions& options);
nlohmann::json make_generation_config(const GenerateOptions& options);
nlohmann::json make_tokenizer_json(const GenerateOptions& options);
nlohmann::json make_tokenizer_config(const GenerateOptions& options);  // includes "chat_template"

// Fills `out` (tensor.nbytes() bytes) with the tensor's deterministic content for this seed.
void fill_tensor(const TensorPlan& tensor, uint64_t seed, void* out);

struct GenerateReport {
  std::filesystem::path dir;
  ModelShape shape;
  size_t n_tensors = 0;
  uint64_t n_params = 0;      // logical parameters (an MXFP4 byte holds two)
  uint64_t weight_bytes = 0;  // sum of tensor data bytes
  size_t n_shards = 1;
  double seconds = 0.0;
};

// Writes the checkpoint into out_dir atomically (built in a staging dir, then moved into place).
GenerateReport generate_checkpoint(const GenerateOptions& options, const std::filesystem::path& out_dir);

}  // namespace lp::testgen
