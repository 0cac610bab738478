// Global functions: range, namespace, dict, raise_exception, strftime_now.
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


void add_globals(Dict& g) {
  g.set("range", Value::function("range", [](Interpreter&, CallArgs& a) {
    if (a.positional.empty() || a.positional.size() > 3) fail("range expected 1 to 3 arguments");
    for (const auto& v : a.positional)
      if (!v.is_number() || v.is_float()) fail("range(): '{}' object cannot be interpreted as an integer", v.type_name());
    int64_t start = 0, stop, step = 1;
    if (a.positional.size() == 1) {
      stop = a.positional[0].as_int();
    } else {
      start = a.positional[0].as_int();
      stop = a.positional[1].as_int();
      if (a.positional.size() == 3) step = a.positional[2].as_int();
    }
    if (step == 0) fail("range() arg 3 must not be zero");
    std::vector<Value> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      out.emplace_back(i);
      if (out.size() > (size_t{1} << 22)) fail("range() too large");
    }
    return Value::list(std::move(out));
  }));
  g.set("namespace", Value::function("namespace", [](Interpreter& in, CallArgs& a) {
    Value ns = Value::dict();
    in.register_namespace(ns);
    ns.dict_ref().is_namespace = true;
    for (const auto& p : a.positional) {
      if (!p.is_mapping()) fail("namespace() positional arguments must be mappings");
      for (const auto& [k, v] : p.dict_ref().items) ns.dict_ref().set(k, v);
    }
    for (const auto& [k, v] : a.keyword) ns.dict_ref().set(k, v);
    return ns;
  }));
  g.set("dict", Value::function("dict", [](Interpreter&, CallArgs& a) {
    Value d = Value::dict();
    for (const auto& p : a.positional) {
      if (!p.is_mapping()) fail("dict() positional arguments must be mappings");
      for (const auto& [k, v] : p.dict_ref().items) d.dict_ref().set(k, v);
    }
    for (const auto& [k, v] : a.keyword) d.dict_ref().set(k, v);
    return d;
  }));
  g.set("raise_exception", Value::function("raise_exception", [](Interpreter&, CallArgs& a) -> Value {
    std::string msg = a.positional.empty() ? std::string() : a.positional[0].to_str();
    fail("raise_exception: {}", msg);
  }));
  g.set("strftime_now", Value::function("strftime_now", [](Interpreter&, CallArgs& a) {
    if (a.positional.empty() || !a.positional[0].is_string()) fail("strftime_now(format) needs a format string");
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[256];
    size_t n = std::strftime(buf, sizeof buf, a.positional[0].str().c_str(), &local);
    return Value(std::string(buf, n));
  }));
}


}  // namespace lp::text::jinja
