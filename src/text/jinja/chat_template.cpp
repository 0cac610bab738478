#include "text/jinja/chat_template.h"

#include "text/jinja/interpreter.h"
#include "text/jinja/parser.h"

namespace lp::text {

ChatTemplate::ChatTemplate(std::string source) : source_(std::move(source)), program_(jinja::parse(source_)) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

namespace {

template <typename Json>
jinja::Value build_context(const Json& messages, const Json& tools, bool add_generation_prompt, const Json& extra) {
  jinja::Value ctx = jinja::Value::dict();
  auto& d = ctx.dict_ref();
  // transformers passes tools=None when there are none; templates test `tools is not none`.
  d.set("messages", jinja::Value::from_json(messages));
  d.set("tools", tools.is_null() ? jinja::Value::none() : jinja::Value::from_json(tools));
  d.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) d.set(it.key(), jinja::Value::from_json(it.value()));
  return ctx;
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::json& messages, const nlohmann::json& tools, bool add_generation_prompt,
                                 const nlohmann::json& extra_context) const {
  jinja::Interpreter interpreter(*program_);
  return interpreter.render(build_context(messages, tools, add_generation_prompt, extra_context));
}

std::string ChatTemplate::render_ordered(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                         bool add_generation_prompt, const nlohmann::ordered_json& extra_context) const {
  jinja::Interpreter interpreter(*program_);
  return interpreter.render(build_context(messages, tools, add_generation_prompt, extra_context));
}

std::string ChatTemplate::render_context(const nlohmann::ordered_json& context) const {
  jinja::Interpreter interpreter(*program_);
  return interpreter.render(jinja::Value::from_json(context));
}

}  // namespace lp::text
