// manifest.json of a converted folder, one type read and written in one place: `convert` writes it, the runtime
// reads it to pick the artifact to run, `validate` reads the artifact list and records its results in it.
// Sections this type does not model field by field (tool, created, architecture, plan, warnings, validation, ...)
// are kept verbatim in `sections`, so a read-modify-write round trip changes only what the writer changed.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lp::formats {

struct ManifestArtifact {
  std::string format;     // "gguf" | "mlx"
  std::string precision;  // "Q4_K_M", "4bit-mixed"; "unknown" when absent
  std::string path;       // relative to the manifest's folder (a .gguf file or an MLX folder)
  uint64_t size_bytes = 0;
  double bpw = 0;
  std::string metadata;   // relative path of the artifact's metadata.json; empty when absent
  std::string evaluation; // relative path of its evaluation.json (`evaluate`); empty when not evaluated
};

struct Manifest {
  static constexpr int kVersion = 1;
  int version = kVersion;
  std::string model_id;                  // "model.id"
  std::vector<ManifestArtifact> formats;
  nlohmann::json sections = nlohmann::json::object();  // every other top-level key, verbatim

  // Errors name `origin` (the file) and the field: not an object, a 'formats' entry without format/path.
  static Manifest from_json(const nlohmann::json& j, const std::string& origin);
  static Manifest read(const std::filesystem::path& file);
  nlohmann::json to_json() const;
  void write(const std::filesystem::path& file) const;  // atomic (temp + rename)

  // The artifacts of one format, in manifest order.
  std::vector<const ManifestArtifact*> of_format(const std::string& format) const;
};

// "model.id" of dir/manifest.json when the folder has a readable one, else nullopt (never throws).
std::optional<std::string> manifest_model_id(const std::filesystem::path& dir);

}  // namespace lp::formats
