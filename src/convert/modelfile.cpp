#include "convert/modelfile.h"

#include <algorithm>

namespace lp::convert {
namespace {

bool has(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

// Go templates in the form of Ollama's own library templates for these families: the system prompt from
// .System, then user / assistant turns from .Messages, then the generation prompt.
constexpr const char* kChatML = R"({{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range .Messages }}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ .Content }}<|im_end|>
{{ end }}
{{- end }}<|im_start|>assistant
)";

constexpr const char* kLlama3 = R"({{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>
{{- end }}
{{- range .Messages }}
{{- if or (eq .Role "user") (eq .Role "assistant") }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}
{{- end }}<|start_header_id|>assistant<|end_header_id|>

)";

constexpr const char* kGemma = R"({{- range $i, $_ := .Messages }}
{{- if eq .Role "user" }}<start_of_turn>user
{{ if and (eq $i 0) $.System }}{{ $.System }}

{{ end }}{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}
{{- end }}<start_of_turn>model
)";

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

TemplateShape template_shape(const std::optional<std::string>& t) {
  if (!t || t->empty()) return TemplateShape::None;
  if (has(*t, "<|im_start|>") && has(*t, "<|im_end|>")) return TemplateShape::ChatML;
  if (has(*t, "<|start_header_id|>") && has(*t, "<|eot_id|>")) return TemplateShape::Llama3;
  if (has(*t, "<start_of_turn>") && has(*t, "<end_of_turn>")) return TemplateShape::Gemma;
  return TemplateShape::Unknown;
}

const char* template_shape_name(TemplateShape s) {
  switch (s) {
    case TemplateShape::None: return "none";
    case TemplateShape::ChatML: return "ChatML";
    case TemplateShape::Llama3: return "Llama-3";
    case TemplateShape::Gemma: return "Gemma";
    case TemplateShape::Unknown: return "unknown";
  }
  return "unknown";
}

std::string render_modelfile(const ModelfileInputs& in) {
  const TemplateShape shape = template_shape(in.chat_template);
  std::string out = "# Ollama Modelfile written by llama-pajamas convert: ollama create NAME -f THIS_FILE\n";
  out += "FROM ./" + in.gguf_file + "\n";
  std::vector<std::string> stops;
  switch (shape) {
    case TemplateShape::ChatML:
      out += "# TEMPLATE: the checkpoint's chat template has the ChatML shape (<|im_start|>ROLE ... <|im_end|>); tool calls\n"
             "# and reasoning blocks of the original Jinja template are not carried over.\n";
      out += std::string("TEMPLATE \"\"\"") + kChatML + "\"\"\"\n";
      stops.push_back("<|im_end|>");
      break;
    case TemplateShape::Llama3:
      out += "# TEMPLATE: the checkpoint's chat template has the Llama-3 shape (<|start_header_id|>ROLE<|end_header_id|> ...\n"
             "# <|eot_id|>); tool calls of the original Jinja template are not carried over.\n";
      out += std::string("TEMPLATE \"\"\"") + kLlama3 + "\"\"\"\n";
      stops.push_back("<|eot_id|>");
      break;
    case TemplateShape::Gemma:
      out += "# TEMPLATE: the checkpoint's chat template has the Gemma shape (<start_of_turn>user|model ... <end_of_turn>;\n"
             "# the system prompt goes before the first user message).\n";
      out += std::string("TEMPLATE \"\"\"") + kGemma + "\"\"\"\n";
      stops.push_back("<end_of_turn>");
      break;
    case TemplateShape::None:
      out += "# TEMPLATE omitted: the checkpoint has no chat template (a base model: prompts are passed through as written).\n";
      break;
    case TemplateShape::Unknown:
      out += "# TEMPLATE omitted: the checkpoint's chat template is not one of the shapes converted reliably (ChatML,\n"
             "# Llama-3, Gemma). Ollama then uses the GGUF's tokenizer.chat_template only if it recognises it; write a\n"
             "# TEMPLATE by hand (see Ollama's docs/template.md) for chat use.\n";
      break;
  }
  for (const auto& e : in.eos_tokens)
    if (!e.empty() && std::find(stops.begin(), stops.end(), e) == stops.end()) stops.push_back(e);
  for (const auto& s : stops) out += "PARAMETER stop " + quote(s) + "\n";
  return out;
}

}  // namespace lp::convert
