#include "text/jinja/template_source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "formats/gguf.h"

namespace lp::text {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) { return read_file(path); }
nlohmann::ordered_json read_json(const fs::path& path) { return read_json_file<nlohmann::ordered_json>(path); }

std::optional<std::string> token_text(const nlohmann::ordered_json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  fail("tokenizer_config.json: {} must be a string or {{\"content\": ...}}", key);
}

std::optional<std::string> template_from_config(const nlohmann::ordered_json& config, const std::string& where) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    for (const auto& entry : *it) {
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") && entry["template"].is_string())
        return entry["template"].get<std::string>();
    }
    fail("{}: chat_template list has no entry named \"default\"", where);
  }
  fail("{}: chat_template must be a string or a list of {{name, template}}", where);
}

ChatTemplateSource from_folder(const fs::path& dir) {
  ChatTemplateSource out;
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  fs::path config_path = dir / "tokenizer_config.json";
  if (fs::exists(config_path)) {
    config = read_json(config_path);
    out.bos_token = token_text(config, "bos_token");
    out.eos_token = token_text(config, "eos_token");
  }
  if (fs::exists(dir / "chat_template.jinja")) {
    out.source = read_text(dir / "chat_template.jinja");
    out.origin = (dir / "chat_template.jinja").string();
    return out;
  }
  if (fs::exists(dir / "chat_template.json")) {
    fs::path p = dir / "chat_template.json";
    if (auto t = template_from_config(read_json(p), p.string())) {
      out.source = *t;
      out.origin = p.string();
      return out;
    }
  }
  if (auto t = template_from_config(config, config_path.string())) {
    out.source = *t;
    out.origin = config_path.string() + ": chat_template";
    return out;
  }
  fail("{}: no chat template (looked for chat_template.jinja, chat_template.json, tokenizer_config.json chat_template)",
       dir.string());
}

ChatTemplateSource from_gguf(const std::string& path) {
  formats::GgufFile gguf = formats::GgufFile::open(path);
  ChatTemplateSource out;
  if (!gguf.has("tokenizer.chat_template")) fail("{}: no tokenizer.chat_template metadata", path);
  out.source = gguf.get_string("tokenizer.chat_template");
  out.origin = path + ": tokenizer.chat_template";
  if (gguf.has("tokenizer.ggml.tokens")) {
    const auto& tokens = gguf.get("tokenizer.ggml.tokens").strings("tokenizer.ggml.tokens");
    auto token = [&](const char* key) -> std::optional<std::string> {
      if (!gguf.has(key)) return std::nullopt;
      uint32_t id = gguf.get_u32(key);
      if (id >= tokens.size()) fail("{}: {} = {} is outside the vocabulary ({} tokens)", path, key, id, tokens.size());
      return tokens[id];
    };
    out.bos_token = token("tokenizer.ggml.bos_token_id");
    out.eos_token = token("tokenizer.ggml.eos_token_id");
  }
  return out;
}

}  // namespace

nlohmann::ordered_json ChatTemplateSource::special_tokens() const {
  auto j = nlohmann::ordered_json::object();
  if (bos_token) j["bos_token"] = *bos_token;
  if (eos_token) j["eos_token"] = *eos_token;
  return j;
}

ChatTemplateSource load_chat_template_source(const std::string& model_path) {
  if (fs::is_directory(model_path)) return from_folder(model_path);
  if (!fs::exists(model_path)) fail("{}: no such file or directory", model_path);
  if (model_path.size() >= 5 && model_path.compare(model_path.size() - 5, 5, ".gguf") == 0) return from_gguf(model_path);
  if (model_path.size() >= 6 && model_path.compare(model_path.size() - 6, 6, ".jinja") == 0) {
    ChatTemplateSource out;
    out.source = read_text(model_path);
    out.origin = model_path;
    return out;
  }
  fail("{}: expected a model folder, a .gguf file or a .jinja file", model_path);
}

}  // namespace lp::text
