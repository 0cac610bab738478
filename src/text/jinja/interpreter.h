// Tree-walking evaluator. Scoping follows jinja2: a for loop or macro body gets its own scope
// (assignments inside do not leak out; namespace() objects are the escape hatch), `if` does not.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/jinja/ast.h"
#include "text/jinja/value.h"

namespace lp::text::jinja {

class Interpreter {
 public:
  explicit Interpreter(const Template& tmpl);

  // Renders with `context` (a dict Value) layered over the builtin globals. Errors become
  // lp::Error "chat template line L: ...".
  std::string render(const Value& context);

  // Used by builtins (filters such as map/select call back into filters and tests).
  Value call(const Value& callee, CallArgs& args);
  Value apply_filter(const std::string& name, const Value& input, CallArgs& args);
  bool apply_test(const std::string& name, const Value& input, CallArgs& args);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  // namespace() objects can reference themselves; they are emptied after rendering to free cycles.
  void register_namespace(const Value& ns) { namespaces_.push_back(ns); }

 private:
  struct Scope {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Scope> parent;
  };
  enum class Flow { Normal, Break, Continue };

  Flow exec_body(const Body& body);
  Flow exec(const Stmt& s);
  Flow exec_for(const Stmt& s);
  void exec_set(const Target& target, const Value& value);
  std::string capture(const Body& body, std::shared_ptr<Scope> scope);
  Value make_macro(const Stmt& s);

  Value eval(const Expr& e);
  Value eval_binary(const Expr& e);
  Value eval_compare(const Expr& e);
  Value eval_slice(const Expr& e);
  Value eval_filter(const Expr& e, const Value* block_input);
  CallArgs eval_args(const std::vector<Argument>& args);

  Value lookup(const std::string& name) const;

  const Template& tmpl_;
  std::shared_ptr<Scope> globals_;
  std::shared_ptr<Scope> scope_;
  std::string* out_ = nullptr;
  int line_ = 0;
  int call_depth_ = 0;
  // Scopes holding macros: the macro's closure points back at its scope, so they are cleared after
  // rendering to break the reference cycle.
  std::vector<std::shared_ptr<Scope>> macro_scopes_;
  std::vector<Value> namespaces_;
  void release_cycles();
};

}  // namespace lp::text::jinja
