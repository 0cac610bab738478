// Argument binding shared by the builtins: Python-style lookup by position or keyword.
#pragma once
#include <string>
#include <vector>

#include "core/error.h"
#include "text/jinja/value.h"

namespace lp::text::jinja {

class Args {
 public:
  Args(const char* fn, CallArgs& a) : fn_(fn), a_(a) {}
  Value get(size_t pos, const char* name, Value def = Value::undefined()) const {
    if (pos < a_.positional.size()) return a_.positional[pos];
    for (const auto& [k, v] : a_.keyword)
      if (k == name) return v;
    return def;
  }
  bool has(size_t pos, const char* name) const { return !get(pos, name).is_undefined(); }
  std::string str(size_t pos, const char* name, const std::string& def) const {
    Value v = get(pos, name);
    if (v.is_undefined()) return def;
    if (!v.is_string()) fail("{}(): argument '{}' must be a string, not {}", fn_, name, v.type_name());
    return v.str();
  }
  int64_t integer(size_t pos, const char* name, int64_t def) const {
    Value v = get(pos, name);
    if (v.is_undefined() || v.is_none()) return def;
    if (!v.is_number() || v.is_float()) fail("{}(): argument '{}' must be an integer, not {}", fn_, name, v.type_name());
    return v.as_int();
  }
  bool boolean(size_t pos, const char* name, bool def) const {
    Value v = get(pos, name);
    return v.is_undefined() ? def : v.truthy();
  }
  const std::vector<Value>& positional() const { return a_.positional; }
  const char* fn() const { return fn_; }

 private:
  const char* fn_;
  CallArgs& a_;
};

inline const std::string& need_str(const Value& v, const char* what) {
  if (!v.is_string()) fail("{}: expected a string, got {}", what, v.type_name());
  return v.str();
}

}  // namespace lp::text::jinja
