// Python operator semantics: +, -, *, /, //, %, **, `in`, and iteration.
#include "text/jinja/builtins.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <ctime>
#include <set>

#include "core/error.h"
#include "text/jinja/builtin_args.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/pystr.h"
#include "text/jinja/utf8.h"

namespace lp::text::jinja {

namespace {
std::string cp_string(char32_t c) {
  std::string s;
  utf8::append(s, c);
  return s;
}
}  // namespace

// ---- public helpers ----

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List:
      if (v.is_iterator()) {  // single pass, like a Python generator
        if (v.list_ref().consumed) return {};
        v.list_ref().consumed = true;
      }
      return v.items();
    case Value::Kind::Dict: {
      if (v.is_namespace()) fail("'Namespace' object is not iterable");
      std::vector<Value> keys;
      for (const auto& [k, val] : v.dict_ref().items) keys.push_back(dict_key_value(k));
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> chars;
      for (char32_t c : utf8::decode(v.str())) chars.emplace_back(cp_string(c));
      return chars;
    }
    default: fail("'{}' object is not iterable", v.type_name());
  }
}

Value python_add(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return Value(a.as_double() + b.as_double());
    int64_t r = 0;
    if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) fail("integer overflow");
    return Value(r);
  }
  if (a.is_string() && b.is_string()) {
    if (a.str().size() + b.str().size() > kMaxStringBytes) fail("string exceeds {} bytes", kMaxStringBytes);
    if (a.is_markup() || b.is_markup()) {  // Markup.__add__/__radd__ escape the plain side
      return Value::markup((a.is_markup() ? a.str() : html_escape(a.str())) + (b.is_markup() ? b.str() : html_escape(b.str())));
    }
    return Value(a.str() + b.str());
  }
  if (a.is_list() && b.is_list() && !a.is_iterator() && !b.is_iterator() && a.list_ref().is_tuple == b.list_ref().is_tuple) {
    std::vector<Value> items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return Value::list(std::move(items), a.list_ref().is_tuple);
  }
  fail("unsupported operand type(s) for +: '{}' and '{}'", a.type_name(), b.type_name());
}

Value python_arith(const std::string& op, const Value& a, const Value& b) {
  if (op == "*") {
    auto repeatable = [](const Value& v) { return v.is_string() || (v.is_list() && !v.is_iterator()); };
    const Value* seq = repeatable(a) ? &a : repeatable(b) ? &b : nullptr;
    const Value* count = seq == &a ? &b : &a;
    if (seq && count->is_number() && !count->is_float()) {
      int64_t n = std::max<int64_t>(0, count->as_int());
      size_t unit = seq->is_string() ? seq->str().size() : seq->items().size() * sizeof(Value);
      if (unit > 0 && static_cast<size_t>(n) > kMaxStringBytes / unit) fail("repetition result exceeds {} bytes", kMaxStringBytes);
      if (seq->is_string()) {
        std::string out;
        for (int64_t i = 0; i < n && unit > 0; ++i) out += seq->str();
        return Value(std::move(out));
      }
      std::vector<Value> items;
      for (int64_t i = 0; i < n && unit > 0; ++i) items.insert(items.end(), seq->items().begin(), seq->items().end());
      return Value::list(std::move(items), seq->list_ref().is_tuple);
    }
  }
  if (op == "%" && a.is_string()) return Value(py_percent_format(a.str(), b));
  if (!a.is_number() || !b.is_number())
    fail("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
  bool floating = a.is_float() || b.is_float();
  int64_t r = 0;
  if (op == "-") {
    if (floating) return Value(a.as_double() - b.as_double());
    if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) fail("integer overflow");
    return Value(r);
  }
  if (op == "*") {
    if (floating) return Value(a.as_double() * b.as_double());
    if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) fail("integer overflow");
    return Value(r);
  }
  if (op == "/") {
    if (b.as_double() == 0) fail("division by zero");
    return Value(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (b.as_double() == 0) fail("integer division or modulo by zero");
    if (floating) {  // CPython's float_divmod
      double vx = a.as_double(), wx = b.as_double();
      double mod = std::fmod(vx, wx);
      double div = (vx - mod) / wx;
      if (mod != 0.0) {
        if ((wx < 0) != (mod < 0)) {
          mod += wx;
          div -= 1.0;
        }
      } else {
        mod = std::copysign(0.0, wx);
      }
      double floordiv;
      if (div != 0.0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
      } else {
        floordiv = std::copysign(0.0, vx / wx);
      }
      return op == "//" ? Value(floordiv) : Value(mod);
    }
    int64_t x = a.as_int(), y = b.as_int();
    if (y == -1 && x == INT64_MIN) fail("integer overflow");
    int64_t q = x / y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
    return op == "//" ? Value(q) : Value(x - q * y);
  }
  if (op == "**") {
    if (!floating && b.as_int() >= 0) {
      uint64_t result = 1, base = static_cast<uint64_t>(a.as_int());
      for (int64_t e = b.as_int(); e > 0; e >>= 1) {  // wraps on overflow instead of Python's big ints
        if (e & 1) result *= base;
        base *= base;
      }
      return Value(static_cast<int64_t>(result));
    }
    return Value(std::pow(a.as_double(), b.as_double()));
  }
  fail("unknown operator '{}'", op);
}

bool python_contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", item.type_name());
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::List: {
      std::vector<Value> items = iterate(container);
      return std::any_of(items.begin(), items.end(), [&](const Value& x) { return values_equal(x, item); });
    }
    case Value::Kind::Dict:
      if (container.is_namespace()) fail("argument of type 'Namespace' is not iterable");
      if ((item.is_list() && !item.list_ref().is_tuple) || item.is_dict()) fail("unhashable type: '{}'", item.type_name());
      if (!item.is_string() && !(item.is_number() && !item.is_float())) return false;
      return container.dict_ref().find(dict_key(item)) != nullptr;
    default: fail("argument of type '{}' is not iterable", container.type_name());
  }
}


}  // namespace lp::text::jinja
