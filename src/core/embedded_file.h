// A data file compiled into a library by lp_embed_files (cmake/lp_embed.cmake).
#pragma once
#include <string_view>

namespace lp {

struct EmbeddedFile {
  std::string_view name;     // the file's name, without its folder ("chat.jsonl")
  std::string_view content;  // the file's bytes
};

}  // namespace lp
