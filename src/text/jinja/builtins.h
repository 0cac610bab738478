// Builtin filters, tests, global functions and Python methods (str/dict/list) available to
// templates, matching jinja2's defaults plus what transformers adds (tojson without ASCII
// escaping, raise_exception, strftime_now).
#pragma once
#include <optional>
#include <string>

#include "text/jinja/value.h"

namespace lp::text::jinja {

Value run_filter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args);
bool run_test(Interpreter& in, const std::string& name, const Value& input, CallArgs& args);
bool has_filter(const std::string& name);
bool has_test(const std::string& name);
bool has_method(const Value& obj, const std::string& name);
Value call_method(Interpreter& in, const Value& obj, const std::string& name, CallArgs& args);
// range, namespace, dict, raise_exception, strftime_now, ...
void add_globals(Dict& globals);

// Python-style helpers shared with the interpreter.
Value python_add(const Value& a, const Value& b);
Value python_arith(const std::string& op, const Value& a, const Value& b);
bool python_contains(const Value& container, const Value& item);
std::vector<Value> iterate(const Value& v);  // for-loop view: list items, dict keys, string chars

// Accumulated results of the whole render are capped so hostile templates cannot exhaust memory.
inline constexpr size_t kMaxStringBytes = size_t{64} << 20;

}  // namespace lp::text::jinja
