// Python methods on str, dict and list values (sandboxed: mutating methods raise).
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
const std::set<std::string> kStringMethods = {"startswith", "endswith", "split", "rsplit", "strip", "lstrip", "rstrip",
                                              "replace", "upper", "lower", "title", "capitalize", "find", "rfind",
                                              "index", "count", "format", "join", "isdigit", "isalpha", "isalnum",
                                              "isspace", "isupper", "islower", "splitlines"};
const std::set<std::string> kDictMethods = {"items", "keys", "values", "get", "copy"};
const std::set<std::string> kUnsafeDictMethods = {"pop", "popitem", "update", "setdefault", "clear"};
const std::set<std::string> kListMethods = {"index", "count", "copy"};
const std::set<std::string> kUnsafeListMethods = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
}  // namespace

bool has_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) return kStringMethods.count(name) > 0;
  if (obj.is_mapping()) return kDictMethods.count(name) > 0 || kUnsafeDictMethods.count(name) > 0;
  if (obj.is_list()) return kListMethods.count(name) > 0 || kUnsafeListMethods.count(name) > 0;
  return false;
}

Value call_method(Interpreter& in, const Value& obj, const std::string& name, CallArgs& a) {
  (void)in;
  Args args(name.c_str(), a);
  if (obj.is_string()) {
    const std::string& s = obj.str();
    if (name == "startswith" || name == "endswith") return Value(starts_or_ends(s, args.get(0, "prefix"), name == "startswith"));
    if (name == "split" || name == "rsplit")
      return Value::list(py_split(s, args.get(0, "sep"), args.integer(1, "maxsplit", -1), name == "rsplit"));
    if (name == "strip") return Value(py_strip(s, args.get(0, "chars"), true, true));
    if (name == "lstrip") return Value(py_strip(s, args.get(0, "chars"), true, false));
    if (name == "rstrip") return Value(py_strip(s, args.get(0, "chars"), false, true));
    if (name == "replace")
      return Value(py_replace(s, need_str(args.get(0, "old"), "replace"), need_str(args.get(1, "new"), "replace"),
                              args.integer(2, "count", -1)));
    if (name == "upper") return Value(utf8::upper(s));
    if (name == "lower") return Value(utf8::lower(s));
    if (name == "title") return Value(py_title(s));
    if (name == "capitalize") return Value(py_capitalize(s));
    if (name == "find" || name == "rfind" || name == "index") {
      const std::string& sub = need_str(args.get(0, "sub"), name.c_str());
      size_t at = name == "rfind" ? s.rfind(sub) : s.find(sub);
      if (at == std::string::npos) {
        if (name == "index") fail("substring not found");
        return Value(int64_t{-1});
      }
      return Value(cp_index(s, at));
    }
    if (name == "count") return Value(count_substr(s, need_str(args.get(0, "sub"), "count")));
    if (name == "format") return Value(py_format(s, a));
    if (name == "join") {
      std::string out;
      bool first = true;
      for (const auto& item : iterate(args.get(0, "iterable"))) {
        if (!first) out += s;
        first = false;
        out += need_str(item, "join item");
      }
      return Value(std::move(out));
    }
    if (name == "splitlines") {
      std::vector<Value> lines;
      for (auto& l : split_lines(s)) lines.emplace_back(l);
      return Value::list(std::move(lines));
    }
    std::vector<char32_t> cps = utf8::decode(s);
    auto all = [&](auto pred) { return !cps.empty() && std::all_of(cps.begin(), cps.end(), pred); };
    if (name == "isdigit") return Value(all([](char32_t c) { return c >= '0' && c <= '9'; }));
    if (name == "isalpha") return Value(all([](char32_t c) { return utf8::is_alpha(c); }));
    if (name == "isalnum") return Value(all([](char32_t c) { return utf8::is_alpha(c) || (c >= '0' && c <= '9'); }));
    if (name == "isspace") return Value(all([](char32_t c) { return utf8::is_space(c); }));
    bool has_cased = std::any_of(cps.begin(), cps.end(), [](char32_t c) { return utf8::is_alpha(c) && utf8::to_upper(c) != utf8::to_lower(c); });
    if (name == "isupper") return Value(has_cased && utf8::upper(s) == s);
    if (name == "islower") return Value(has_cased && utf8::lower(s) == s);
  }
  if (obj.is_mapping()) {
    if (kUnsafeDictMethods.count(name)) fail("access to attribute '{}' of 'dict' object is unsafe", name);
    const Dict& d = obj.dict_ref();
    if (name == "items") {
      std::vector<Value> out;
      for (const auto& [k, v] : d.items) out.push_back(Value::list({dict_key_value(k), v}, true));
      return Value::list(std::move(out));
    }
    if (name == "keys") {
      std::vector<Value> out;
      for (const auto& [k, v] : d.items) out.push_back(dict_key_value(k));
      return Value::list(std::move(out));
    }
    if (name == "values") {
      std::vector<Value> out;
      for (const auto& [k, v] : d.items) out.push_back(v);
      return Value::list(std::move(out));
    }
    if (name == "get") {
      Value key = args.get(0, "key");
      const Value* v = key.is_string() || (key.is_number() && !key.is_float()) ? d.find(dict_key(key)) : nullptr;
      return v ? *v : args.get(1, "default", Value::none());
    }
    if (name == "copy") {
      Value c = Value::dict();
      c.dict_ref().items = d.items;
      return c;
    }
  }
  if (obj.is_list()) {
    if (kUnsafeListMethods.count(name)) fail("access to attribute '{}' of '{}' object is unsafe", name, obj.type_name());
    const auto& items = obj.items();
    if (name == "index") {
      Value x = args.get(0, "value");
      for (size_t i = 0; i < items.size(); ++i)
        if (values_equal(items[i], x)) return Value(static_cast<int64_t>(i));
      fail("{} is not in list", x.repr());
    }
    if (name == "count") {
      Value x = args.get(0, "value");
      return Value(static_cast<int64_t>(std::count_if(items.begin(), items.end(), [&](const Value& y) { return values_equal(x, y); })));
    }
    if (name == "copy") return Value::list(items, obj.list_ref().is_tuple);
  }
  fail("'{}' object has no method '{}'", obj.type_name(), name);
}


}  // namespace lp::text::jinja
