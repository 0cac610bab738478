// `inspect FILE`: metadata and tensor table of a .gguf, a .safetensors or a checkpoint folder; a pipeline output
// folder (manifest.json) shows the artifact generate/chat would load.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "common/command.h"
#include "common/model_path.h"
#include "core/error.h"
#include "formats/describe.h"

namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool tensors = true;
  size_t max_items = 8;
};

bool has_magic(const std::string& path, const char* magic) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char buf[4] = {};
  const size_t n = std::fread(buf, 1, 4, f);
  std::fclose(f);
  return n == 4 && std::equal(buf, buf + 4, magic);
}

int run_inspect(InspectOptions o) {
  namespace fs = std::filesystem;
  if (const std::string resolved = lp::app::tool_model_path(o.path); resolved != o.path) {
    lp::app::note(o.path + " is a model folder; showing " + resolved + " (the file generate/chat load)");
    o.path = resolved;
  }
  using namespace lp::formats;
  nlohmann::ordered_json d;
  std::error_code ec;
  if (fs::is_directory(o.path, ec) || fs::path(o.path).filename() == "config.json") {
    d = describe_checkpoint(Checkpoint::open(o.path), o.tensors);
  } else if (has_magic(o.path, "GGUF")) {
    d = describe_gguf(GgufFile::open(o.path), o.max_items, o.tensors);
  } else if (fs::path(o.path).extension() == ".safetensors") {
    d = describe_safetensors(SafetensorsFile::open(o.path), o.tensors);
  } else if (!fs::exists(o.path, ec)) {
    lp::fail("{}: no such file or folder", o.path);
  } else {
    lp::fail("{}: not a GGUF file, .safetensors file or checkpoint folder", o.path);
  }
  const std::string text =
      o.json ? d.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n" : describe_text(d);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

const lp::app::RegisterCommand reg{{"inspect", "Show metadata and tensors of a .gguf, .safetensors, checkpoint or pipeline output folder",
                                    [](CLI::App& sub) {
                                      auto o = std::make_shared<InspectOptions>();
                                      sub.add_option("file", o->path, "GGUF / safetensors file, HF or MLX checkpoint folder, or pipeline output folder (manifest.json)")
                                          ->required();
                                      sub.add_flag("--json", o->json, "Machine-readable JSON output");
                                      sub.add_flag("--tensors,!--no-tensors", o->tensors,
                                                   "List tensors (default on)");
                                      sub.add_option("--max-items", o->max_items,
                                                     "Array items shown before abbreviating (0 = all)")
                                          ->capture_default_str();
                                      return [o] { return run_inspect(*o); };
                                    }}};

}  // namespace
