// What to validate: the formats listed in an artifact folder's manifest.json, or one loose .gguf file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lp::eval {

struct ArtifactEntry {
  std::string format;     // "gguf" | "mlx"
  std::string precision;  // "Q4_K_M", "4bit-mixed"
  std::string path;       // as listed (relative to the folder), or the file given
  std::string full_path;  // openable path
  uint64_t size_bytes = 0;
  double bpw = 0;
};

struct ArtifactSet {
  std::string dir;            // folder holding manifest.json; empty for a loose .gguf
  std::string manifest_path;  // empty for a loose .gguf
  std::vector<ArtifactEntry> entries;
};

// A folder must hold manifest.json with a non-empty "formats" list; a .gguf file is one GGUF entry whose
// precision comes from general.file_type and whose bpw is counted from its tensors.
ArtifactSet list_artifacts(const std::string& quantized);

// "Q4_K_M" from a GGUF's general.file_type (llama_ftype), or "F32"/"F16"/"BF16"; "unknown" otherwise.
std::string gguf_precision_name(const std::string& gguf_path);
double gguf_bits_per_weight(const std::string& gguf_path);

}  // namespace lp::eval
