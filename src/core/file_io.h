// The one way the project reads a whole text or JSON file: binary-exact contents, one-line lp::Error naming the
// file when it cannot be opened or read, or when the JSON is invalid.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace lp {

// The file's bytes; nullopt when it cannot be opened (missing, a folder, no permission). A read error after
// opening is an lp::Error.
std::optional<std::string> try_read_file(const std::filesystem::path& path);

// The file's bytes; "<path>: cannot open" otherwise.
std::string read_file(const std::filesystem::path& path);

// The file parsed as JSON (nlohmann::json or nlohmann::ordered_json); "<path>: cannot open" or
// "<path>: invalid JSON: ..." otherwise.
template <class Json = nlohmann::json>
Json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path.string(), e.what());
  }
}

}  // namespace lp
