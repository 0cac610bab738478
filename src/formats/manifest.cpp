#include "formats/manifest.h"

#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_io.h"

namespace lp::formats {

using nlohmann::json;

Manifest Manifest::from_json(const json& j, const std::string& origin) {
  if (!j.is_object()) fail("{}: a manifest must be a JSON object", origin);
  Manifest m;
  m.version = j.contains("manifest_version") && j["manifest_version"].is_number_integer() ? j["manifest_version"].get<int>() : 0;
  if (j.contains("model") && j["model"].is_object() && j["model"].contains("id") && j["model"]["id"].is_string())
    m.model_id = j["model"]["id"].get<std::string>();
  if (j.contains("formats")) {
    if (!j["formats"].is_array()) fail("{}: field 'formats' must be a list", origin);
    for (const auto& f : j["formats"]) {
      ManifestArtifact a;
      if (!f.is_object() || !f.contains("format") || !f["format"].is_string() || !f.contains("path") || !f["path"].is_string())
        fail("{}: a 'formats' entry lacks format/path: {}", origin, f.dump());
      a.format = f["format"].get<std::string>();
      a.path = f["path"].get<std::string>();
      try {
        a.precision = f.value("precision", std::string("unknown"));
        a.size_bytes = f.value("size_bytes", uint64_t{0});
        a.bpw = f.value("bpw", 0.0);
        a.metadata = f.value("metadata", std::string());
        a.evaluation = f.value("evaluation", std::string());
      } catch (const std::exception& e) {
        fail("{}: 'formats' entry '{}': {}", origin, a.path, e.what());
      }
      m.formats.push_back(std::move(a));
    }
  }
  for (const auto& [key, value] : j.items())
    if (key != "manifest_version" && key != "formats") m.sections[key] = value;
  return m;
}

Manifest Manifest::read(const std::filesystem::path& file) {
  return from_json(read_json_file(file), file.string());
}

json Manifest::to_json() const {
  json j = sections;
  if (version > 0) j["manifest_version"] = version;
  if (!model_id.empty()) {
    if (!j.contains("model") || !j["model"].is_object()) j["model"] = json::object();
    j["model"]["id"] = model_id;
  }
  json list = json::array();
  for (const auto& a : formats) {
    json e = {{"format", a.format}, {"precision", a.precision}, {"path", a.path}, {"size_bytes", a.size_bytes}, {"bpw", a.bpw}};
    if (!a.metadata.empty()) e["metadata"] = a.metadata;
    if (!a.evaluation.empty()) e["evaluation"] = a.evaluation;
    list.push_back(std::move(e));
  }
  j["formats"] = std::move(list);
  return j;
}

void Manifest::write(const std::filesystem::path& file) const { write_file_atomic(file, to_json().dump(2) + "\n"); }

std::vector<const ManifestArtifact*> Manifest::of_format(const std::string& format) const {
  std::vector<const ManifestArtifact*> out;
  for (const auto& a : formats)
    if (a.format == format) out.push_back(&a);
  return out;
}

std::optional<std::string> manifest_model_id(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec) || !std::filesystem::exists(dir / "manifest.json", ec)) return std::nullopt;
  std::ifstream in(dir / "manifest.json");
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("model") || !j["model"].is_object() || !j["model"].contains("id") ||
      !j["model"]["id"].is_string() || j["model"]["id"].get<std::string>().empty())
    return std::nullopt;
  return j["model"]["id"].get<std::string>();
}

}  // namespace lp::formats
