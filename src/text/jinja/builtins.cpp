#include "text/jinja/builtins.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <ctime>
#include <set>

#include "core/error.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/utf8.h"

namespace lp::text::jinja {
namespace {

// Reads a builtin's arguments the way Python binds them: by position or by keyword.
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

std::string cp_string(char32_t c) {
  std::string s;
  utf8::append(s, c);
  return s;
}

const std::string& need_str(const Value& v, const char* what) {
  if (!v.is_string()) fail("{}: expected a string, got {}", what, v.type_name());
  return v.str();
}

// ---- Python str helpers ----

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<char32_t> cps = utf8::decode(s);
  std::vector<char32_t> set;
  bool whitespace = chars.is_undefined() || chars.is_none();
  if (!whitespace) set = utf8::decode(need_str(chars, "strip chars"));
  auto strip_char = [&](char32_t c) {
    return whitespace ? utf8::is_space(c) : std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_char(cps[b])) ++b;
  if (right)
    while (e > b && strip_char(cps[e - 1])) --e;
  return utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(b), cps.begin() + static_cast<ptrdiff_t>(e)));
}

std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep.is_undefined() || sep.is_none()) {
    std::vector<char32_t> cps = utf8::decode(s);
    std::vector<std::string> words;
    if (!from_right) {
      size_t i = 0;
      while (i < cps.size()) {
        while (i < cps.size() && utf8::is_space(cps[i])) ++i;
        if (i >= cps.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
          size_t e = cps.size();
          while (e > i && utf8::is_space(cps[e - 1])) --e;
          words.push_back(utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(i), cps.begin() + static_cast<ptrdiff_t>(e))));
          break;
        }
        size_t j = i;
        while (j < cps.size() && !utf8::is_space(cps[j])) ++j;
        words.push_back(utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(i), cps.begin() + static_cast<ptrdiff_t>(j))));
        i = j;
      }
    } else {
      size_t i = cps.size();
      while (i > 0) {
        while (i > 0 && utf8::is_space(cps[i - 1])) --i;
        if (i == 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
          size_t b = 0;
          while (b < i && utf8::is_space(cps[b])) ++b;
          words.push_back(utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(b), cps.begin() + static_cast<ptrdiff_t>(i))));
          break;
        }
        size_t j = i;
        while (j > 0 && !utf8::is_space(cps[j - 1])) --j;
        words.push_back(utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(j), cps.begin() + static_cast<ptrdiff_t>(i))));
        i = j;
      }
      std::reverse(words.begin(), words.end());
    }
    parts = std::move(words);
  } else {
    const std::string& d = need_str(sep, "split separator");
    if (d.empty()) fail("split(): empty separator");
    if (!from_right) {
      size_t start = 0;
      while (true) {
        size_t at = s.find(d, start);
        if (at == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
          parts.push_back(s.substr(start));
          break;
        }
        parts.push_back(s.substr(start, at - start));
        start = at + d.size();
      }
    } else {
      size_t end = s.size();
      while (true) {
        size_t at = end >= d.size() ? s.rfind(d, end - d.size()) : std::string::npos;
        if (at == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
          parts.push_back(s.substr(0, end));
          break;
        }
        parts.push_back(s.substr(at + d.size(), end - at - d.size()));
        end = at;
      }
      std::reverse(parts.begin(), parts.end());
    }
  }
  std::vector<Value> out;
  for (auto& p : parts) out.emplace_back(std::move(p));
  return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  std::string out;
  if (old.empty()) {
    std::vector<char32_t> cps = utf8::decode(s);
    int64_t done = 0;
    for (char32_t c : cps) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      utf8::append(out, c);
    }
    if (count < 0 || done < count) out += repl;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t at = s.find(old, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += repl;
    start = at + old.size();
    ++done;
    if (out.size() > kMaxStringBytes) fail("replace(): result exceeds {} bytes", kMaxStringBytes);
  }
  out.append(s, start, std::string::npos);
  return out;
}

// Python str.title(): uppercase a cased letter that follows an uncased one, lowercase the rest.
std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : utf8::decode(s)) {
    bool cased = utf8::is_alpha(c);
    utf8::append(out, cased ? (prev_cased ? utf8::to_lower(c) : utf8::to_upper(c)) : c);
    prev_cased = cased;
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::vector<char32_t> cps = utf8::decode(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) utf8::append(out, i == 0 ? utf8::to_upper(cps[i]) : utf8::to_lower(cps[i]));
  return out;
}

// jinja2's title filter: capitalise each chunk after whitespace, '-', and opening brackets.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool at_word_start = true;
  for (char32_t c : utf8::decode(s)) {
    bool boundary = utf8::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (boundary) {
      utf8::append(out, c);
      at_word_start = true;
    } else {
      utf8::append(out, at_word_start ? utf8::to_upper(c) : utf8::to_lower(c));
      at_word_start = false;
    }
  }
  return out;
}

bool starts_or_ends(const std::string& s, const Value& affix, bool start) {
  auto one = [&](const std::string& a) {
    if (a.size() > s.size()) return false;
    return start ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) {
    for (const auto& a : affix.items())
      if (one(need_str(a, start ? "startswith" : "endswith"))) return true;
    return false;
  }
  return one(need_str(affix, start ? "startswith" : "endswith"));
}

int64_t count_substr(const std::string& s, const std::string& sub) {
  if (sub.empty()) return static_cast<int64_t>(utf8::length(s)) + 1;
  int64_t n = 0;
  for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
  return n;
}

int64_t cp_index(const std::string& s, size_t byte_pos) {
  return static_cast<int64_t>(utf8::length(std::string_view(s).substr(0, byte_pos)));
}

// str.format with {}, {0} and {name} fields (no format specs beyond plain substitution).
std::string py_format(const std::string& fmt_str, const CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt_str.size(); ++i) {
    char c = fmt_str[i];
    if (c == '{' && i + 1 < fmt_str.size() && fmt_str[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt_str.size() && fmt_str[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt_str.find('}', i);
      if (close == std::string::npos) fail("format(): unmatched '{{'");
      std::string field = fmt_str.substr(i + 1, close - i - 1);
      if (field.find_first_of(":!") != std::string::npos) fail("format(): format specs are not supported");
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_index >= a.positional.size()) fail("format(): not enough arguments");
        v = &a.positional[auto_index++];
      } else if (std::all_of(field.begin(), field.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
        if (field.size() > 9) fail("format(): index {} out of range", field);
        size_t idx = std::stoul(field);
        if (idx >= a.positional.size()) fail("format(): index {} out of range", idx);
        v = &a.positional[idx];
      } else {
        for (const auto& [k, val] : a.keyword)
          if (k == field) v = &val;
        if (!v) fail("format(): missing keyword '{}'", field);
      }
      out += v->to_str();
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

// printf-style "%s" % args, as Python's str % operator (conversions s, r, d, i, f, %).
std::string py_percent_format(const std::string& f, const Value& args) {
  std::vector<Value> values = args.is_list() && args.list_ref().is_tuple ? args.items() : std::vector<Value>{args};
  size_t next_arg = 0;
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (++i >= f.size()) fail("incomplete format");
    char conv = f[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next_arg >= values.size()) fail("not enough arguments for format string");
    const Value& v = values[next_arg++];
    switch (conv) {
      case 's': out += v.to_str(); break;
      case 'r': out += v.repr(); break;
      case 'd':
      case 'i':
        if (!v.is_number()) fail("%{} format: a number is required, not {}", conv, v.type_name());
        out += std::to_string(v.is_float() ? static_cast<int64_t>(std::trunc(v.as_double())) : v.as_int());
        break;
      case 'f':
        if (!v.is_number()) fail("%f format: a number is required, not {}", v.type_name());
        out += fmt::format("{:.6f}", v.as_double());
        break;
      default: fail("unsupported format character '{}'", conv);
    }
  }
  // CPython only complains for tuples and non-subscriptable arguments (a list or dict is a "mapping").
  bool tuple = args.is_list() && args.list_ref().is_tuple;
  if (next_arg < values.size() && (tuple || !(args.is_list() || args.is_dict() || args.is_undefined())))
    fail("not all arguments converted during string formatting");
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      lines.push_back(cur);
      cur.clear();
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      cur += s[i];
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

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

// ---- tests ----

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

Value run_filter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args) {
  for (const auto& f : kFilters)
    if (name == f.name) return f.fn(in, input, args);
  fail("no filter named '{}'", name);
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
    std::string f = need_str(args.get(0, "value"), "filter test");
    return std::any_of(std::begin(kFilters), std::end(kFilters), [&](const FilterEntry& e) { return f == e.name; });
  }
  fail("no test named '{}'", name);
}

// ---- methods ----

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

// ---- globals ----

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
