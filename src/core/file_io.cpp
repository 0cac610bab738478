#include "core/file_io.h"

#include <fstream>
#include <sstream>

namespace lp {

std::optional<std::string> try_read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("{}: cannot read", path.string());
  return ss.str();
}

std::string read_file(const std::filesystem::path& path) {
  std::optional<std::string> text = try_read_file(path);
  if (!text) fail("{}: cannot open", path.string());
  return std::move(*text);
}

}  // namespace lp
