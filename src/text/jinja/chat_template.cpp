#include "text/jinja/chat_template.h"

#include "core/error.h"
#include "text/jinja/builtins.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/parser.h"

namespace lp::text {

namespace {

// jinja2 rejects unknown filters and tests when compiling, except inside `if` bodies (and conditional
// expression branches), where the check is deferred to when they run (templates guard optional
// filters that way). Deferred ones fail in run_filter/run_test.
void check_names(const jinja::Expr* e) {
  if (!e) return;
  if (e->kind == jinja::Expr::Kind::Filter && !jinja::has_filter(e->name))
    fail("chat template line {}, column {}: no filter named '{}'", e->line, e->column, e->name);
  if (e->kind == jinja::Expr::Kind::Test && !jinja::has_test(e->name))
    fail("chat template line {}, column {}: no test named '{}'", e->line, e->column, e->name);
  if (e->kind == jinja::Expr::Kind::Conditional) {
    check_names(e->children[0].get());
    return;
  }
  for (const auto& c : e->children) check_names(c.get());
  for (const auto& a : e->args) check_names(a.value.get());
}

void check_names(const jinja::Body& body) {
  for (const auto& s : body) {
    check_names(s->expr.get());
    check_names(s->condition.get());
    for (const auto& branch : s->branches) check_names(branch.first.get());  // bodies are deferred
    for (const auto& p : s->params) check_names(p.default_value.get());
    if (s->kind != jinja::Stmt::Kind::If) {
      check_names(s->body);
      check_names(s->else_body);
    }
  }
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source) : source_(std::move(source)), program_(jinja::parse(source_)) {
  check_names(program_->body);
}
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
