// Chat templates: a Jinja2 interpreter covering what Hugging Face chat templates use, rendered with the
// same environment transformers sets up (trim_blocks, lstrip_blocks, tojson without ASCII escaping,
// raise_exception, strftime_now, pass-through {% generation %} blocks).
#pragma once
#include <nlohmann/json.hpp>
#include <memory>
#include <string>

namespace lp::text {

namespace jinja {
struct Template;  // parsed program (text/jinja/ast.h); opaque to embedders
}

class ChatTemplate {
 public:
  // Parses once. Throws lp::Error "chat template line L, column C: ..." on unsupported/invalid syntax.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // messages: array of {role, content, ...}; tools: null or array; extra_context: object merged into the
  // top-level context (bos_token, eos_token, enable_thinking, ...). Throws lp::Error on render failures,
  // including raise_exception("...") from the template ("chat template raised: ...").
  std::string render(const nlohmann::json& messages, const nlohmann::json& tools, bool add_generation_prompt,
                     const nlohmann::json& extra_context = nlohmann::json::object()) const;

  // Same, keeping the callers' object key order: tojson then prints tool schemas and tool-call
  // arguments in their original order, as transformers does (nlohmann::json sorts keys).
  std::string render_ordered(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                             bool add_generation_prompt,
                             const nlohmann::ordered_json& extra_context = nlohmann::ordered_json::object()) const;

  // Renders with a complete context object (the variables the template sees, as given).
  std::string render_context(const nlohmann::ordered_json& context) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const jinja::Template> program_;
};

}  // namespace lp::text
