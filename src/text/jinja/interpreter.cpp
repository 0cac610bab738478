#include "text/jinja/interpreter.h"

#include "core/error.h"
#include "text/jinja/builtins.h"
#include "text/jinja/utf8.h"

namespace lp::text::jinja {
namespace {

constexpr int kMaxCallDepth = 256;

// Errors raised while rendering; the top level adds the template line once.
std::string undefined_message(const Value& v) {
  if (v.undefined_name().empty()) return "value is undefined";
  return fmt::format("'{}' is undefined", v.undefined_name());
}

Value slice_list(const std::vector<Value>& items, const Value& start, const Value& stop, const Value& step,
                 std::vector<Value>* out) {
  (void)out;
  int64_t n = static_cast<int64_t>(items.size());
  int64_t st = step.is_undefined() || step.is_none() ? 1 : step.as_int();
  if (st == 0) fail("slice step cannot be zero");
  auto clamp = [&](const Value& v, int64_t def_pos, int64_t def_neg) -> int64_t {
    if (v.is_undefined() || v.is_none()) return st > 0 ? def_pos : def_neg;
    if (!v.is_number()) fail("slice indices must be integers or None");
    int64_t i = v.as_int();
    if (i < 0) i += n;
    if (st > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t b = clamp(start, 0, n - 1);
  int64_t e = clamp(stop, n, -1);
  std::vector<Value> result;
  if (st > 0) {
    for (int64_t i = b; i < e; i += st) result.push_back(items[static_cast<size_t>(i)]);
  } else {
    for (int64_t i = b; i > e; i += st) result.push_back(items[static_cast<size_t>(i)]);
  }
  return Value::list(std::move(result));
}

}  // namespace

Interpreter::Interpreter(const Template& tmpl) : tmpl_(tmpl) {
  globals_ = std::make_shared<Scope>();
  Dict g;
  add_globals(g);
  for (auto& [k, v] : g.items) globals_->vars[k] = v;
}

std::string Interpreter::render(const Value& context) {
  auto top = std::make_shared<Scope>();
  top->parent = globals_;
  if (context.is_dict())
    for (const auto& [k, v] : context.dict_ref().items) top->vars[k] = v;
  scope_ = std::make_shared<Scope>();
  scope_->parent = top;
  std::string output;
  out_ = &output;
  try {
    exec_body(tmpl_.body);
  } catch (const Error& e) {
    release_cycles();
    fail("chat template line {}: {}", line_, e.what());
  } catch (...) {
    release_cycles();
    throw;
  }
  release_cycles();
  return output;
}

void Interpreter::release_cycles() {
  for (auto& scope : macro_scopes_) scope->vars.clear();
  for (auto& ns : namespaces_) ns.dict_ref().items.clear();
  macro_scopes_.clear();
  namespaces_.clear();
  scope_.reset();
}

Value Interpreter::lookup(const std::string& name) const {
  for (const Scope* s = scope_.get(); s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined(name);
}

Interpreter::Flow Interpreter::exec_body(const Body& body) {
  for (const auto& s : body) {
    Flow f = exec(*s);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

std::string Interpreter::capture(const Body& body, std::shared_ptr<Scope> scope) {
  std::string buffer;
  std::string* saved_out = out_;
  auto saved_scope = scope_;
  out_ = &buffer;
  scope_ = std::move(scope);
  try {
    exec_body(body);
  } catch (...) {
    out_ = saved_out;
    scope_ = saved_scope;
    throw;
  }
  out_ = saved_out;
  scope_ = saved_scope;
  return buffer;
}

Interpreter::Flow Interpreter::exec(const Stmt& s) {
  line_ = s.line;
  switch (s.kind) {
    case Stmt::Kind::Text: *out_ += s.text; break;
    case Stmt::Kind::Output: {
      Value v = eval(*s.expr);
      line_ = s.line;
      *out_ += v.to_str();
      if (out_->size() > kMaxStringBytes) fail("rendered output exceeds {} bytes", kMaxStringBytes);
      break;
    }
    case Stmt::Kind::If: {
      for (const auto& [cond, body] : s.branches) {
        if (eval(*cond).truthy()) return exec_body(body);
      }
      return exec_body(s.else_body);
    }
    case Stmt::Kind::For: return exec_for(s);
    case Stmt::Kind::Set: exec_set(s.target, eval(*s.expr)); break;
    case Stmt::Kind::SetBlock: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope_;
      exec_set(s.target, Value(capture(s.body, inner)));
      break;
    }
    case Stmt::Kind::Macro:
      scope_->vars[s.text] = make_macro(s);
      macro_scopes_.push_back(scope_);
      break;
    case Stmt::Kind::CallBlock: {
      const Expr& call_expr = *s.expr;
      Value callee = eval(*call_expr.children[0]);
      CallArgs args = eval_args(call_expr.args);
      auto closure = scope_;
      const Stmt* stmt = &s;
      args.keyword.emplace_back("caller", Value::function("caller", [this, closure, stmt](Interpreter&, CallArgs& a) {
        auto local = std::make_shared<Scope>();
        local->parent = closure;
        for (size_t i = 0; i < stmt->params.size(); ++i) {
          const auto& p = stmt->params[i];
          local->vars[p.name] = i < a.positional.size() ? a.positional[i] : Value::undefined(p.name);
        }
        return Value(capture(stmt->body, local));
      }));
      line_ = s.line;
      *out_ += call(callee, args).to_str();
      break;
    }
    case Stmt::Kind::FilterBlock: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope_;
      Value text(capture(s.body, inner));
      *out_ += eval_filter(*s.expr, &text).to_str();
      break;
    }
    case Stmt::Kind::Break: return Flow::Break;
    case Stmt::Kind::Continue: return Flow::Continue;
    case Stmt::Kind::Block: return exec_body(s.body);
  }
  return Flow::Normal;
}

// Each iteration gets a fresh scope (jinja2: a `set` in the body does not carry over to the next
// iteration nor leak out of the loop).
Interpreter::Flow Interpreter::exec_for(const Stmt& s) {
  Value iterable = eval(*s.expr);
  std::vector<Value> items = iterate(iterable);
  auto saved_scope = scope_;
  auto bind = [&](const Value& item) {
    scope_ = std::make_shared<Scope>();
    scope_->parent = saved_scope;
    if (s.target.names.size() == 1 && !s.target.is_tuple) {
      scope_->vars[s.target.names[0]] = item;
      return;
    }
    std::vector<Value> parts = iterate(item);
    if (parts.size() != s.target.names.size())
      fail("cannot unpack {} values into {} loop variables", parts.size(), s.target.names.size());
    for (size_t i = 0; i < parts.size(); ++i) scope_->vars[s.target.names[i]] = parts[i];
  };
  try {
    if (s.condition) {
      std::vector<Value> kept;
      for (const auto& item : items) {
        bind(item);
        if (eval(*s.condition).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    const size_t n = items.size();
    for (size_t i = 0; i < n; ++i) {
      bind(items[i]);
      Value loop = Value::dict();
      Dict& d = loop.dict_ref();
      auto index = static_cast<int64_t>(i);
      auto length = static_cast<int64_t>(n);
      d.set("index", Value(index + 1));
      d.set("index0", Value(index));
      d.set("revindex", Value(length - index));
      d.set("revindex0", Value(length - index - 1));
      d.set("first", Value(i == 0));
      d.set("last", Value(i + 1 == n));
      d.set("length", Value(length));
      d.set("depth", Value(int64_t{1}));
      d.set("depth0", Value(int64_t{0}));
      d.set("previtem", i > 0 ? items[i - 1] : Value::undefined("loop.previtem"));
      d.set("nextitem", i + 1 < n ? items[i + 1] : Value::undefined("loop.nextitem"));
      d.set("cycle", Value::function("loop.cycle", [i](Interpreter&, CallArgs& a) {
        if (a.positional.empty()) fail("loop.cycle() needs at least one argument");
        return a.positional[i % a.positional.size()];
      }));
      scope_->vars["loop"] = loop;
      Flow f = exec_body(s.body);
      if (f == Flow::Break) break;
    }
  } catch (...) {
    scope_ = saved_scope;
    throw;
  }
  scope_ = saved_scope;
  if (items.empty()) return exec_body(s.else_body);
  return Flow::Normal;
}

void Interpreter::exec_set(const Target& target, const Value& value) {
  if (!target.attribute.empty()) {
    Value obj = lookup(target.names[0]);
    if (!obj.is_namespace()) fail("cannot assign attribute '{}' on '{}': not a namespace", target.attribute, target.names[0]);
    obj.dict_ref().set(target.attribute, value);
    return;
  }
  if (target.names.size() == 1 && !target.is_tuple) {
    scope_->vars[target.names[0]] = value;
    return;
  }
  std::vector<Value> parts = iterate(value);
  if (parts.size() != target.names.size())
    fail("cannot unpack {} values into {} variables", parts.size(), target.names.size());
  for (size_t i = 0; i < parts.size(); ++i) scope_->vars[target.names[i]] = parts[i];
}

Value Interpreter::make_macro(const Stmt& s) {
  auto closure = scope_;
  const Stmt* stmt = &s;
  return Value::function(s.text, [this, closure, stmt](Interpreter&, CallArgs& args) {
    if (call_depth_ >= kMaxCallDepth) fail("macro '{}': recursion deeper than {}", stmt->text, kMaxCallDepth);
    auto local = std::make_shared<Scope>();
    local->parent = closure;
    const auto& params = stmt->params;
    std::vector<bool> given(params.size(), false);
    std::vector<Value> varargs;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < params.size()) {
        local->vars[params[i].name] = args.positional[i];
        given[i] = true;
      } else {
        varargs.push_back(args.positional[i]);
      }
    }
    Value kwargs = Value::dict();
    for (auto& [name, value] : args.keyword) {
      bool matched = false;
      for (size_t i = 0; i < params.size(); ++i) {
        if (params[i].name != name) continue;
        if (given[i]) fail("macro '{}' got multiple values for argument '{}'", stmt->text, name);
        local->vars[name] = value;
        given[i] = true;
        matched = true;
      }
      if (matched) continue;
      if (name == "caller") {
        local->vars["caller"] = value;
      } else {
        kwargs.dict_ref().set(name, value);
      }
    }
    local->vars["varargs"] = Value::list(std::move(varargs), true);
    local->vars["kwargs"] = kwargs;
    auto saved_scope = scope_;
    scope_ = local;
    try {
      for (size_t i = 0; i < params.size(); ++i) {
        if (given[i]) continue;
        local->vars[params[i].name] =
            params[i].default_value ? eval(*params[i].default_value) : Value::undefined(params[i].name);
      }
    } catch (...) {
      scope_ = saved_scope;
      throw;
    }
    scope_ = saved_scope;
    ++call_depth_;
    std::string text;
    try {
      text = capture(stmt->body, local);
    } catch (...) {
      --call_depth_;
      throw;
    }
    --call_depth_;
    return Value(std::move(text));
  });
}

CallArgs Interpreter::eval_args(const std::vector<Argument>& args) {
  CallArgs out;
  for (const auto& a : args) {
    if (a.name.empty()) {
      out.positional.push_back(eval(*a.value));
    } else {
      out.keyword.emplace_back(a.name, eval(*a.value));
    }
  }
  return out;
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail("{} (called as a function)", undefined_message(callee));
  if (!callee.is_function()) fail("'{}' object is not callable", callee.type_name());
  return callee.fn().call(*this, args);
}

Value Interpreter::apply_filter(const std::string& name, const Value& input, CallArgs& args) {
  return run_filter(*this, name, input, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& input, CallArgs& args) {
  return run_test(*this, name, input, args);
}

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail("{} (reading attribute '{}')", undefined_message(obj), name);
  if (obj.is_dict()) {
    if (!obj.is_namespace() && has_method(obj, name)) {
      return Value::function(name, [obj, name](Interpreter& in, CallArgs& a) { return call_method(in, obj, name, a); });
    }
    if (const Value* v = obj.dict_ref().find(name)) return *v;
    return Value::undefined(name);
  }
  if (has_method(obj, name)) {
    return Value::function(name, [obj, name](Interpreter& in, CallArgs& a) { return call_method(in, obj, name, a); });
  }
  return Value::undefined(name);
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail("{} (indexing with {})", undefined_message(obj), key.repr());
  if (obj.is_dict()) {
    if (key.is_string()) {
      if (const Value* v = obj.dict_ref().find(key.str())) return *v;
      return get_attr(obj, key.str());
    }
    if (key.is_number() && !key.is_float()) {
      if (const Value* v = obj.dict_ref().find(dict_key(key))) return *v;
    }
    return Value::undefined(key.to_str());
  }
  if (obj.is_iterator()) fail("'{}' object is not subscriptable", obj.type_name());
  if ((obj.is_list() || obj.is_string()) && key.is_number() && !key.is_float()) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      auto n = static_cast<int64_t>(obj.items().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined(fmt::format("[{}]", key.as_int()));
      return obj.items()[static_cast<size_t>(i)];
    }
    std::vector<char32_t> cps = utf8::decode(obj.str());
    auto n = static_cast<int64_t>(cps.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined(fmt::format("[{}]", key.as_int()));
    std::string ch;
    utf8::append(ch, cps[static_cast<size_t>(i)]);
    return Value(ch);
  }
  if (key.is_string()) return get_attr(obj, key.str());
  return Value::undefined(key.to_str());
}

Value Interpreter::eval_slice(const Expr& e) {
  Value obj = eval(*e.children[0]);
  Value start = e.children[1] ? eval(*e.children[1]) : Value::none();
  Value stop = e.children[2] ? eval(*e.children[2]) : Value::none();
  Value step = e.children[3] ? eval(*e.children[3]) : Value::none();
  if (obj.is_undefined()) fail("{} (slicing)", undefined_message(obj));
  if (obj.is_iterator()) fail("'{}' object is not subscriptable", obj.type_name());
  if (obj.is_list()) {
    Value r = slice_list(obj.items(), start, stop, step, nullptr);
    r.list_ref().is_tuple = obj.list_ref().is_tuple;
    return r;
  }
  if (obj.is_string()) {
    std::vector<Value> chars;
    for (char32_t c : utf8::decode(obj.str())) {
      std::string ch;
      utf8::append(ch, c);
      chars.emplace_back(std::move(ch));
    }
    Value r = slice_list(chars, start, stop, step, nullptr);
    std::string s;
    for (const auto& c : r.items()) s += c.str();
    return Value(std::move(s));
  }
  fail("'{}' object is not subscriptable", obj.type_name());
}

Value Interpreter::eval_filter(const Expr& e, const Value* block_input) {
  Value input;
  if (e.children.empty()) {
    input = *block_input;
  } else if (block_input && e.children[0]->kind == Expr::Kind::Filter) {
    input = eval_filter(*e.children[0], block_input);
  } else {
    input = eval(*e.children[0]);
  }
  CallArgs args = eval_args(e.args);
  line_ = e.line;
  return apply_filter(e.name, input, args);
}

Value Interpreter::eval(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::Literal: return e.value;
    case Expr::Kind::Name: return lookup(e.name);
    case Expr::Kind::ListLit:
    case Expr::Kind::TupleLit: {
      std::vector<Value> items;
      for (const auto& c : e.children) items.push_back(eval(*c));
      return Value::list(std::move(items), e.kind == Expr::Kind::TupleLit);
    }
    case Expr::Kind::DictLit: {
      Value d = Value::dict();
      for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
        Value k = eval(*e.children[i]);
        d.dict_ref().set(dict_key(k), eval(*e.children[i + 1]));
      }
      return d;
    }
    case Expr::Kind::GetAttr: {
      Value obj = eval(*e.children[0]);
      line_ = e.line;
      return get_attr(obj, e.name);
    }
    case Expr::Kind::GetItem: {
      Value obj = eval(*e.children[0]);
      Value key = eval(*e.children[1]);
      line_ = e.line;
      return get_item(obj, key);
    }
    case Expr::Kind::Slice: return eval_slice(e);
    case Expr::Kind::Call: {
      Value callee = eval(*e.children[0]);
      CallArgs args = eval_args(e.args);
      line_ = e.line;
      return call(callee, args);
    }
    case Expr::Kind::Filter: return eval_filter(e, nullptr);
    case Expr::Kind::Test: {
      Value input = eval(*e.children[0]);
      CallArgs args = eval_args(e.args);
      line_ = e.line;
      bool r = apply_test(e.name, input, args);
      return Value(e.negated ? !r : r);
    }
    case Expr::Kind::Unary: {
      Value v = eval(*e.children[0]);
      if (e.op == "not") return Value(!v.truthy());
      if (v.is_undefined()) fail("{} (unary '{}')", undefined_message(v), e.op);
      if (!v.is_number()) fail("bad operand type for unary {}: '{}'", e.op, v.type_name());
      if (e.op == "+") return v.is_float() ? Value(v.as_double()) : Value(v.as_int());
      return v.is_float() ? Value(-v.as_double()) : Value(-v.as_int());
    }
    case Expr::Kind::Binary: return eval_binary(e);
    case Expr::Kind::Compare: return eval_compare(e);
    case Expr::Kind::Conditional: {
      if (eval(*e.children[0]).truthy()) return eval(*e.children[1]);
      if (e.children[2]) return eval(*e.children[2]);
      return Value::undefined("conditional expression without else");
    }
  }
  return Value();
}

Value Interpreter::eval_binary(const Expr& e) {
  if (e.op == "and") {
    Value l = eval(*e.children[0]);
    return l.truthy() ? eval(*e.children[1]) : l;
  }
  if (e.op == "or") {
    Value l = eval(*e.children[0]);
    return l.truthy() ? l : eval(*e.children[1]);
  }
  Value l = eval(*e.children[0]);
  Value r = eval(*e.children[1]);
  line_ = e.line;
  if (e.op == "~") {
    std::string s = l.to_str() + r.to_str();
    if (s.size() > kMaxStringBytes) fail("string exceeds {} bytes", kMaxStringBytes);
    return Value(std::move(s));
  }
  if (l.is_undefined()) fail("{} (operator '{}')", undefined_message(l), e.op);
  // str % Undefined formats it as "" (Undefined looks like a mapping to CPython's % operator).
  if (r.is_undefined() && !(e.op == "%" && l.is_string())) fail("{} (operator '{}')", undefined_message(r), e.op);
  if (e.op == "+") return python_add(l, r);
  return python_arith(e.op, l, r);
}

Value Interpreter::eval_compare(const Expr& e) {
  Value left = eval(*e.children[0]);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.children[i + 1]);
    line_ = e.line;
    const std::string& op = e.ops[i];
    bool r;
    if (op == "==") {
      r = values_equal(left, right);
    } else if (op == "!=") {
      r = !values_equal(left, right);
    } else if (op == "in") {
      r = python_contains(right, left);
    } else if (op == "not in") {
      r = !python_contains(right, left);
    } else {
      if (left.is_undefined()) fail("{} (operator '{}')", undefined_message(left), op);
      if (right.is_undefined()) fail("{} (operator '{}')", undefined_message(right), op);
      if (op == "<") {
        r = value_less(left, right);
      } else if (op == ">") {
        r = value_less(right, left);
      } else if (op == "<=") {
        r = !value_less(right, left);
      } else {
        r = !value_less(left, right);
      }
    }
    if (!r) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

}  // namespace lp::text::jinja
