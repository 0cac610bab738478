// The model path of tools that read only part of a model (tokenize, template, inspect): a folder resolves exactly
// as Runtime::open resolves it (a pipeline output folder -> the artifact `generate` would load, a folder holding
// one .gguf -> that file), so they accept every path `generate` and `chat` accept. Anything else (a file, a
// tokenizer-only folder, a folder the runtime cannot load) is passed through unchanged to the tool's own loader,
// which names what is wrong with it.
#pragma once
#include <filesystem>
#include <string>

#include "core/error.h"
#include "llama_pajamas/runtime.h"

namespace lp::app {

inline std::string tool_model_path(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return path;
  try {
    return lp::resolve_model_path(path);
  } catch (const lp::Error&) {
    return path;
  }
}

}  // namespace lp::app
