// Finds a model's chat template and the special-token texts templates reference (bos_token,
// eos_token), from a Hugging Face folder or a GGUF file.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace lp::text {

struct ChatTemplateSource {
  std::string source;  // Jinja text
  std::string origin;  // file (and key) it came from, for messages
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;

  // {"bos_token": ..., "eos_token": ...} with only the tokens that exist (transformers passes
  // special_tokens_map, so an unset token is undefined in the template).
  nlohmann::ordered_json special_tokens() const;
};

// DIR: chat_template.jinja > chat_template.json > tokenizer_config.json "chat_template" (a string, or
// a list of {name, template} where "default" is used); tokens from tokenizer_config.json.
// FILE.gguf: tokenizer.chat_template; tokens via tokenizer.ggml.{bos,eos}_token_id into
// tokenizer.ggml.tokens. Throws lp::Error naming the file when no template is found.
ChatTemplateSource load_chat_template_source(const std::string& model_path);

}  // namespace lp::text
