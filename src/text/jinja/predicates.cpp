// Builtin tests (`x is defined`, `x is divisibleby 3`, ...).
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


bool is_integer(const Value& v) { return v.is_int(); }

bool t_compare(Interpreter&, const std::string& name, const Value& v, const Value& other) {
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, other);
  if (name == "ne" || name == "!=") return !values_equal(v, other);
  if (name == "lt" || name == "lessthan" || name == "<") return value_less(v, other);
  if (name == "le" || name == "<=") return !value_less(other, v);
  if (name == "gt" || name == "greaterthan" || name == ">") return value_less(other, v);
  return !value_less(v, other);  // ge, >=
}


}  // namespace

bool has_test(const std::string& name) {
  static const std::set<std::string> names = {
      "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string", "mapping",
      "iterable", "sequence", "callable", "escaped", "lower", "upper", "odd", "even", "divisibleby", "sameas", "in",
      "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=",
      "filter", "test"};
  return names.count(name) > 0;
}

bool run_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& a) {
  Args args(name.c_str(), a);
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return is_integer(v);
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_mapping();
  if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || v.is_mapping();
  if (name == "sequence") return v.is_undefined() || v.is_string() || v.is_list() || v.is_mapping();
  if (name == "callable") return v.is_function();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {  // str(value).islower() / .isupper()
    std::string s = v.to_str();
    std::vector<char32_t> cps = utf8::decode(s);
    bool has_cased = std::any_of(cps.begin(), cps.end(), [](char32_t c) { return utf8::to_upper(c) != utf8::to_lower(c); });
    return has_cased && (name == "lower" ? utf8::lower(s) == s : utf8::upper(s) == s);
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_number()) fail("'{}' test needs a number, got {}", name, v.type_name());
    Value divisor = name == "divisibleby" ? args.get(0, "num") : Value(int64_t{2});
    if (!divisor.is_number()) fail("divisibleby: expected a number");
    Value r = python_arith("%", v, divisor);  // value % n, with Python's float semantics
    return values_equal(r, Value(int64_t{name == "odd" ? 1 : 0}));
  }
  if (name == "sameas") {
    Value o = args.get(0, "other");
    if (v.kind() != o.kind()) return false;
    if (v.is_list()) return &v.list_ref() == &o.list_ref();
    if (v.is_dict()) return &v.dict_ref() == &o.dict_ref();
    return values_equal(v, o);
  }
  if (name == "in") return python_contains(args.get(0, "seq"), v);
  static const std::set<std::string> comparisons = {"eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<",
                                                    "le", "<=", "gt", "greaterthan", ">", "ge", ">="};
  if (comparisons.count(name)) return t_compare(in, name, v, args.get(0, "other"));
  if (name == "filter") {
    return has_filter(need_str(args.get(0, "value"), "filter test"));
  }
  if (name == "test") return has_test(need_str(args.get(0, "value"), "test test"));
  fail("no test named '{}'", name);
}


}  // namespace lp::text::jinja
