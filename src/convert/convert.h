// `llama-pajamas-quant convert`: one pass over the checkpoint writes every requested artifact.
// Each source tensor is read once (in row chunks) and quantized for every GGUF preset and MLX precision
// asked for; outputs are assembled in a staging directory and moved into place only on success.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "plan/gguf_plan.h"
#include "plan/mlx_plan.h"
#include "plan/preset.h"

namespace lp::convert {

struct ConvertOptions {
  std::string model;                    // HF checkpoint folder
  std::filesystem::path output;         // DIR
  bool gguf = true;
  bool mlx = false;
  plan::PrecisionRequest precision;
  bool architecture_aware = true;
  std::vector<plan::TypeOverride> tensor_types;   // --tensor-type (GGUF)
  // Per-tensor types from the allocator (`--precision auto`), applied to every GGUF artifact; the artifact is
  // then named by gguf_label ("AUTO-4.50BPW") instead of its preset.
  std::map<std::string, plan::AssignedType> gguf_assigned;
  std::string gguf_label;
  std::optional<GgmlType> output_type, token_embedding_type;
  std::vector<plan::BitsOverride> mlx_overrides;
  int embedding_bits = 6;
  // Importance weights (an imatrix) per GGUF tensor: (name, expert, n_per_row) -> weights, nullopt = none.
  // The caller loads and checks the imatrix file (src/calib), so conversion knows no file format.
  std::function<std::optional<std::vector<float>>(const std::string&, int, int64_t)> importance;
  std::optional<bool> mlx_mixed;        // --mixed-precision / --no-mixed-precision; default: per precision name
  int threads = 0;                      // 0 = all cores
  bool progress = true;
  // A non-empty output folder is refused unless force: then it is replaced as a whole on success (nothing
  // of the old folder survives; on failure the old folder is left untouched).
  bool force = false;
  uint64_t chunk_bytes = 64ull << 20;   // float rows per read: bounds peak memory
};

struct Artifact {
  std::string format;     // "gguf" | "mlx"
  std::string precision;  // "Q4_K_M", "4bit-mixed"
  std::string path;       // relative to DIR
  uint64_t size_bytes = 0;
  double bpw = 0;
  uint64_t params = 0;
};

struct ConvertResult {
  std::vector<Artifact> artifacts;
  nlohmann::json manifest;
  std::vector<std::string> warnings;
  double seconds = 0;
};

ConvertResult convert(const ConvertOptions& options);

// The reference model calibration and validation run: the checkpoint converted to one F32 GGUF (lossless for
// bf16/f16/f32 weights) with architecture rules off, written under `dir` (created; must be empty or absent).
// Returns the GGUF's path.
std::string write_reference_gguf(const std::string& model, const std::filesystem::path& dir, int threads, bool progress);

struct SourceModel;
// What a GGUF of `plan` adds around its tensor data: the header (metadata, vocabulary, tensor infos) padded to
// the alignment, and at most max_padding_bytes of per-tensor alignment padding. `--target-size` subtracts both
// from the budget so the whole file fits.
struct GgufOverhead {
  uint64_t header_bytes = 0;
  uint64_t max_padding_bytes = 0;
  uint64_t total() const { return header_bytes + max_padding_bytes; }
};
GgufOverhead gguf_overhead(const SourceModel& src, const plan::GgufPlan& plan);

}  // namespace lp::convert
