// An Ollama Modelfile next to each GGUF (`ollama create NAME -f gguf/<name>.Modelfile`): FROM the GGUF,
// TEMPLATE converted from the checkpoint's chat template when it has one of the shapes whose Ollama (Go
// template) form is known — ChatML (Qwen, the fixtures), Llama-3, Gemma — else omitted with a comment that
// says why, and PARAMETER stop for the template's end-of-turn token and generation_config.json's EOS tokens.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace lp::convert {

enum class TemplateShape { None, ChatML, Llama3, Gemma, Unknown };
TemplateShape template_shape(const std::optional<std::string>& jinja);
const char* template_shape_name(TemplateShape s);

struct ModelfileInputs {
  std::string gguf_file;                 // file name, relative to the Modelfile ("./name.gguf")
  std::optional<std::string> chat_template;  // the checkpoint's Jinja template
  std::vector<std::string> eos_tokens;   // generation_config.json eos_token_id(s) as token strings
};

std::string render_modelfile(const ModelfileInputs& in);

}  // namespace lp::convert
