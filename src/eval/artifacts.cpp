#include "eval/artifacts.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/manifest.h"
#include "plan/preset.h"

namespace lp::eval {

namespace fs = std::filesystem;
using nlohmann::json;

std::string gguf_precision_name(const std::string& gguf_path) {
  const auto g = formats::GgufFile::open(gguf_path);
  const uint32_t ftype = g.get_u32_or("general.file_type", 0xffffffffu);
  for (const auto& name : plan::preset_names())
    if (auto p = plan::preset_from_name(name); p && plan::preset_llama_ftype(*p) == ftype) return plan::preset_name(*p);
  return "unknown";
}

double gguf_bits_per_weight(const std::string& gguf_path) {
  const auto g = formats::GgufFile::open(gguf_path);
  uint64_t bytes = 0, elements = 0;
  for (const auto& t : g.tensors()) {
    bytes += t.nbytes;
    elements += t.n_elements();
  }
  return elements ? 8.0 * static_cast<double>(bytes) / static_cast<double>(elements) : 0;
}

ArtifactSet list_artifacts(const std::string& quantized) {
  ArtifactSet set;
  if (!fs::exists(quantized)) fail("{}: no such file or folder", quantized);
  if (fs::is_regular_file(quantized)) {
    if (fs::path(quantized).extension() != ".gguf") fail("{}: --quantized must be an artifact folder (manifest.json) or a .gguf file", quantized);
    ArtifactEntry e{"gguf", gguf_precision_name(quantized), quantized, quantized, fs::file_size(quantized), gguf_bits_per_weight(quantized)};
    set.entries.push_back(e);
    return set;
  }
  set.dir = quantized;
  set.manifest_path = (fs::path(quantized) / "manifest.json").string();
  if (!fs::exists(set.manifest_path)) fail("{}: no manifest.json (convert writes one; or pass a .gguf file)", quantized);
  const formats::Manifest m = formats::Manifest::read(set.manifest_path);
  if (m.formats.empty()) fail("{}: field 'formats' is missing or empty", set.manifest_path);
  for (const auto& f : m.formats) {
    ArtifactEntry e{f.format, f.precision, f.path, (fs::path(quantized) / f.path).string(), f.size_bytes, f.bpw};
    if (!fs::exists(e.full_path)) fail("{}: listed {} artifact '{}' does not exist", set.manifest_path, e.format, e.path);
    set.entries.push_back(e);
  }
  return set;
}

}  // namespace lp::eval
