// Builtin filters: jinja2's defaults plus transformers' tojson.
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

// ---- attribute paths (selectattr/map/sort "attribute=") ----

Value get_path(Interpreter& in, const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    v = in.get_item(v, digits && part.size() < 18 ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(utf8::lower(v.str()));
  return v;
}

// select/reject/selectattr/rejectattr share the test application.
Value select_items(Interpreter& in, const Value& seq, CallArgs& a, bool by_attribute, bool keep_matches) {
  size_t first_test_arg = by_attribute ? 1 : 0;
  std::string attribute;
  if (by_attribute) {
    if (a.positional.empty()) fail("selectattr/rejectattr: missing attribute name");
    attribute = need_str(a.positional[0], "selectattr attribute");
  }
  std::string test;
  CallArgs test_args;
  if (a.positional.size() > first_test_arg) {
    test = need_str(a.positional[first_test_arg], "select test name");
    test_args.positional.assign(a.positional.begin() + static_cast<ptrdiff_t>(first_test_arg + 1), a.positional.end());
    test_args.keyword = a.keyword;
  }
  std::vector<Value> out;
  if (!seq.truthy()) return Value::iterator({});  // jinja2 skips falsy input (None, "", [])
  for (const auto& item : iterate(seq)) {
    Value subject = by_attribute ? get_path(in, item, attribute) : item;
    bool r;
    if (test.empty()) {
      r = subject.truthy();
    } else {
      CallArgs copy = test_args;
      r = in.apply_test(test, subject, copy);
    }
    if (r == keep_matches) out.push_back(item);
  }
  return Value::iterator(std::move(out));
}

double round_half_even(double x) {
  int saved = std::fegetround();
  std::fesetround(FE_TONEAREST);
  double r = std::nearbyint(x);
  std::fesetround(saved);
  return r;
}

using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&);

Value f_tojson(Interpreter&, const Value& v, CallArgs& a) {
  Args args("tojson", a);
  Value indent = args.get(99, "indent");
  int ind = -1;
  if (!indent.is_undefined() && !indent.is_none()) {
    if (indent.is_string()) fail("tojson: string indent is not supported");
    ind = static_cast<int>(indent.as_int());
  }
  std::string item_sep, key_sep;
  Value seps = args.get(99, "separators");
  if (seps.is_list() && seps.items().size() == 2) {
    item_sep = need_str(seps.items()[0], "tojson separators");
    key_sep = need_str(seps.items()[1], "tojson separators");
  }
  return Value(v.to_json(ind, item_sep, key_sep, args.boolean(99, "sort_keys", false), args.boolean(99, "ensure_ascii", false)));
}

Value f_length(Interpreter&, const Value& v, CallArgs&) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return Value(int64_t{0});
    case Value::Kind::String: return Value(static_cast<int64_t>(utf8::length(v.str())));
    case Value::Kind::List:
      if (v.is_iterator()) fail("object of type '{}' has no len()", v.type_name());
      return Value(static_cast<int64_t>(v.items().size()));
    case Value::Kind::Dict:
      if (v.is_namespace()) fail("object of type 'Namespace' has no len()");
      return Value(static_cast<int64_t>(v.dict_ref().items.size()));
    default: fail("object of type '{}' has no len()", v.type_name());
  }
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
  return Value(py_strip(v.to_str(), Args("trim", a).get(0, "chars"), true, true));
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
  Args args("join", a);
  std::string sep = args.str(0, "d", "");
  Value attribute = args.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += (attribute.is_undefined() ? item : get_path(in, item, attribute.to_str())).to_str();
  }
  return Value(std::move(out));
}

Value f_upper(Interpreter&, const Value& v, CallArgs&) { return Value(utf8::upper(v.to_str())); }
Value f_lower(Interpreter&, const Value& v, CallArgs&) { return Value(utf8::lower(v.to_str())); }
Value f_title(Interpreter&, const Value& v, CallArgs&) { return Value(jinja_title(v.to_str())); }
Value f_capitalize(Interpreter&, const Value& v, CallArgs&) { return Value(py_capitalize(v.to_str())); }

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  Args args("default", a);
  Value def = args.get(0, "default_value", Value(std::string()));
  bool boolean = args.boolean(1, "boolean", false);
  if (v.is_undefined() || (boolean && !v.truthy())) return def;
  return v;
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_items(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_items(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_items(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_items(in, v, a, true, false); }

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
  Args args("map", a);
  std::vector<Value> out;
  if (!v.truthy()) return Value::iterator({});
  Value attribute = args.get(99, "attribute");
  if (!attribute.is_undefined()) {
    Value def = args.get(99, "default");
    for (const auto& item : iterate(v)) {
      Value x = get_path(in, item, attribute.to_str());
      out.push_back(x.is_undefined() && !def.is_undefined() ? def : x);
    }
    return Value::iterator(std::move(out));
  }
  if (a.positional.empty()) fail("map: expected a filter name or attribute=");
  std::string filter = need_str(a.positional[0], "map filter name");
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const auto& item : iterate(v)) {
    CallArgs copy = rest;
    out.push_back(in.apply_filter(filter, item, copy));
  }
  return Value::iterator(std::move(out));
}

Value f_items(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::iterator({});
  if (!v.is_mapping()) fail("items: expected a mapping, got {}", v.type_name());
  std::vector<Value> out;
  for (const auto& [k, val] : v.dict_ref().items) out.push_back(Value::list({dict_key_value(k), val}, true));
  return Value::iterator(std::move(out));
}

Value f_first(Interpreter&, const Value& v, CallArgs&) {
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("first") : items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_iterator()) fail("'{}' object is not reversible", v.type_name());
  std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("last") : items.back();
}

Value f_list(Interpreter&, const Value& v, CallArgs&) { return Value::list(iterate(v)); }
Value f_string(Interpreter&, const Value& v, CallArgs&) { return Value(v.to_str()); }

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  Args args("int", a);
  Value def = args.get(0, "default", Value(int64_t{0}));
  int base = static_cast<int>(args.integer(1, "base", 10));
  if (v.is_undefined()) fail("{} (int filter)", v.undefined_name().empty() ? "value is undefined" : "'" + v.undefined_name() + "' is undefined");
  if (v.is_bool() || v.is_int()) return Value(v.as_int());
  if (v.is_float()) return Value(static_cast<int64_t>(std::trunc(v.as_double())));
  if (v.is_string()) {
    std::string s = py_strip(v.str(), Value(), true, true);
    try {
      size_t used = 0;
      int64_t r = std::stoll(s, &used, base);
      if (used == s.size()) return Value(r);
    } catch (const std::exception&) {
    }
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size() && std::isfinite(d)) return Value(static_cast<int64_t>(std::trunc(d)));
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  Value def = Args("float", a).get(0, "default", Value(0.0));
  if (v.is_undefined()) fail("{} (float filter)", v.undefined_name().empty() ? "value is undefined" : "'" + v.undefined_name() + "' is undefined");
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    std::string s = py_strip(v.str(), Value(), true, true);
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return Value(d);
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value f_abs(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_number()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  fail("bad operand type for abs(): '{}'", v.type_name());
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  Args args("round", a);
  int64_t precision = args.integer(0, "precision", 0);
  std::string method = args.str(1, "method", "common");
  if (!v.is_number()) fail("round: expected a number, got {}", v.type_name());
  if (method == "common" && !v.is_float() && precision >= 0) return Value(v.as_int());
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * scale;
  double r;
  if (method == "common") {
    r = round_half_even(x);
  } else if (method == "ceil") {
    r = std::ceil(x);
  } else if (method == "floor") {
    r = std::floor(x);
  } else {
    fail("round: method must be 'common', 'ceil' or 'floor'");
  }
  return Value(r / scale);
}

Value f_replace(Interpreter&, const Value& v, CallArgs& a) {
  Args args("replace", a);
  if (a.positional.size() < 2 && !(args.has(0, "old") && args.has(1, "new"))) fail("replace: expected old and new");
  return Value(py_replace(v.to_str(), args.get(0, "old").to_str(), args.get(1, "new").to_str(), args.integer(2, "count", -1)));
}

Value f_indent(Interpreter&, const Value& v, CallArgs& a) {
  Args args("indent", a);
  if (!v.is_string()) fail("indent: expected a string, got {}", v.type_name());
  Value width = args.get(0, "width", Value(int64_t{4}));
  std::string pad = width.is_string() ? width.str() : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  bool first = args.boolean(1, "first", false);
  bool blank = args.boolean(2, "blank", false);
  std::vector<std::string> lines = split_lines(v.to_str() + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += '\n';
      if (blank || !lines[i].empty()) out += pad;
    }
    out += lines[i];
  }
  if (first) out = pad + out;
  return Value(std::move(out));
}

Value f_safe(Interpreter&, const Value& v, CallArgs&) { return v.is_markup() ? v : Value::markup(v.to_str()); }
Value f_escape(Interpreter&, const Value& v, CallArgs&) { return v.is_markup() ? v : Value::markup(html_escape(v.to_str())); }
Value f_forceescape(Interpreter&, const Value& v, CallArgs&) { return Value::markup(html_escape(v.to_str())); }

Value f_unique(Interpreter& in, const Value& v, CallArgs& a) {
  Args args("unique", a);
  bool case_sensitive = args.boolean(0, "case_sensitive", false);
  Value attribute = args.get(1, "attribute");
  std::vector<Value> seen, out;
  for (const auto& item : iterate(v)) {
    Value key = sort_key(attribute.is_undefined() ? item : get_path(in, item, attribute.to_str()), case_sensitive);
    bool dup = std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key); });
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::iterator(std::move(out));
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& a) {
  Args args("sort", a);
  bool reverse = args.boolean(0, "reverse", false);
  bool case_sensitive = args.boolean(1, "case_sensitive", false);
  Value attribute = args.get(2, "attribute");
  std::vector<Value> items = iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& item : items)
    keyed.emplace_back(sort_key(attribute.is_undefined() ? item : get_path(in, item, attribute.to_str()), case_sensitive), item);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? value_less(y.first, x.first) : value_less(x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& [k, item] : keyed) out.push_back(item);
  return Value::list(std::move(out));
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
  Args args("dictsort", a);
  bool case_sensitive = args.boolean(0, "case_sensitive", false);
  std::string by = args.str(1, "by", "key");
  bool reverse = args.boolean(2, "reverse", false);
  if (!v.is_dict()) fail("dictsort: expected a mapping, got {}", v.type_name());
  if (by != "key" && by != "value") fail("dictsort: 'by' must be 'key' or 'value'");
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& [k, val] : v.dict_ref().items)
    keyed.emplace_back(sort_key(by == "key" ? dict_key_value(k) : val, case_sensitive), Value::list({dict_key_value(k), val}, true));
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? value_less(y.first, x.first) : value_less(x.first, y.first);
  });
  std::vector<Value> out;
  for (auto& [k, item] : keyed) out.push_back(item);
  return Value::list(std::move(out));
}

Value f_batch(Interpreter&, const Value& v, CallArgs& a) {
  Args args("batch", a);
  int64_t n = args.integer(0, "linecount", 0);
  if (n <= 0) fail("batch: linecount must be positive");
  Value fill = args.get(1, "fill_with");
  std::vector<Value> out, cur;
  for (const auto& item : iterate(v)) {
    cur.push_back(item);
    if (static_cast<int64_t>(cur.size()) == n) {
      out.push_back(Value::list(std::move(cur)));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    if (!fill.is_undefined())
      while (static_cast<int64_t>(cur.size()) < n) cur.push_back(fill);
    out.push_back(Value::list(std::move(cur)));
  }
  return Value::iterator(std::move(out));
}

Value f_reverse(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_string()) {
    std::vector<char32_t> cps = utf8::decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value(utf8::encode(cps));
  }
  if (v.is_iterator()) fail("'{}' object is not reversible", v.type_name());
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return v.is_list() ? Value::iterator(std::move(items), "list_reverseiterator") : Value::list(std::move(items));
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
  Args args("sum", a);
  Value attribute = args.get(0, "attribute");
  Value total = args.get(1, "start", Value(int64_t{0}));
  for (const auto& item : iterate(v)) total = python_add(total, attribute.is_undefined() ? item : get_path(in, item, attribute.to_str()));
  return total;
}

Value min_max(Interpreter& in, const Value& v, CallArgs& a, bool want_max) {
  Args args(want_max ? "max" : "min", a);
  bool case_sensitive = args.boolean(0, "case_sensitive", false);
  Value attribute = args.get(1, "attribute");
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined(want_max ? "max" : "min");
  size_t best = 0;
  auto key = [&](size_t i) {
    return sort_key(attribute.is_undefined() ? items[i] : get_path(in, items[i], attribute.to_str()), case_sensitive);
  };
  for (size_t i = 1; i < items.size(); ++i) {
    bool better = want_max ? value_less(key(best), key(i)) : value_less(key(i), key(best));
    if (better) best = i;
  }
  return items[best];
}
Value f_max(Interpreter& in, const Value& v, CallArgs& a) { return min_max(in, v, a, true); }
Value f_min(Interpreter& in, const Value& v, CallArgs& a) { return min_max(in, v, a, false); }

Value f_attr(Interpreter& in, const Value& v, CallArgs& a) {
  return in.get_attr(v, need_str(Args("attr", a).get(0, "name"), "attr name"));
}

Value f_center(Interpreter&, const Value& v, CallArgs& a) {
  int64_t width = Args("center", a).integer(0, "width", 80);
  std::string s = v.to_str();
  int64_t len = static_cast<int64_t>(utf8::length(s));
  if (len >= width) return Value(s);
  int64_t total = width - len;
  int64_t left = total / 2 + (total & width & 1);
  return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs&) {
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8::decode(v.to_str())) {
    bool w = utf8::is_alpha(c) || (c < 0x80 && std::isalnum(static_cast<int>(c))) || c == '_';
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

Value f_format(Interpreter&, const Value& v, CallArgs& a) {
  if (!a.keyword.empty()) fail("format filter: keyword arguments are not supported");
  return Value(py_percent_format(v.to_str(), Value::list(a.positional, true)));
}

struct FilterEntry {
  const char* name;
  FilterFn fn;
};

const FilterEntry kFilters[] = {
    {"tojson", f_tojson},   {"length", f_length},         {"count", f_length},         {"trim", f_trim},
    {"join", f_join},       {"upper", f_upper},           {"lower", f_lower},          {"title", f_title},
    {"capitalize", f_capitalize}, {"default", f_default}, {"d", f_default},            {"select", f_select},
    {"reject", f_reject},   {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr}, {"map", f_map},
    {"items", f_items},     {"first", f_first},           {"last", f_last},            {"list", f_list},
    {"string", f_string},   {"int", f_int},               {"float", f_float},          {"abs", f_abs},
    {"round", f_round},     {"replace", f_replace},       {"indent", f_indent},        {"safe", f_safe},
    {"escape", f_escape},   {"e", f_escape},              {"forceescape", f_forceescape},   {"unique", f_unique},
    {"sort", f_sort},       {"dictsort", f_dictsort},     {"batch", f_batch},          {"reverse", f_reverse},
    {"sum", f_sum},         {"max", f_max},               {"min", f_min},              {"attr", f_attr},
    {"center", f_center},   {"wordcount", f_wordcount},   {"format", f_format},
};


}  // namespace

bool has_filter(const std::string& name) {
  return std::any_of(std::begin(kFilters), std::end(kFilters), [&](const FilterEntry& e) { return name == e.name; });
}

Value run_filter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args) {
  for (const auto& f : kFilters)
    if (name == f.name) return f.fn(in, input, args);
  fail("no filter named '{}'", name);
}


}  // namespace lp::text::jinja
