#include "text/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/error.h"
#include "text/jinja/utf8.h"

namespace lp::text::jinja {

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

Value* Dict::find(std::string_view key) {
  for (auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Dict::set(const std::string& key, Value value) {
  if (Value* slot = find(key)) {
    *slot = std::move(value);
  } else {
    items.emplace_back(key, std::move(value));
  }
}

Value Value::undefined(std::string name) {
  Value v;
  v.s_ = std::make_shared<std::string>(std::move(name));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value::Value(bool b) : kind_(Kind::Bool), b_(b), i_(b ? 1 : 0) {}
Value::Value(int64_t i) : kind_(Kind::Int), i_(i) {}
Value::Value(double d) : kind_(Kind::Float), d_(d) {}
Value::Value(std::string s) : kind_(Kind::String), s_(std::make_shared<std::string>(std::move(s))) {}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.b_ = true;
  return v;
}

Value Value::list(std::vector<Value> items, bool is_tuple) {
  Value v;
  v.kind_ = Kind::List;
  v.list_ = std::make_shared<List>(List{std::move(items), is_tuple});
  return v;
}

Value Value::iterator(std::vector<Value> items, const char* type) {
  Value v = list(std::move(items));
  v.list_->iterator_type = type;
  return v;
}

std::string dict_key(const Value& key) {
  if (key.is_string()) return key.str();
  if (key.is_number() && !key.is_float()) return std::string("\0i", 2) + std::to_string(key.as_int());
  fail("unsupported dict key type '{}'", key.type_name());
}

Value dict_key_value(const std::string& key) {
  if (key.size() > 2 && key[0] == '\0' && key[1] == 'i') return Value(static_cast<int64_t>(std::stoll(key.substr(2))));
  return Value(key);
}

std::string dict_key_text(const std::string& key) {
  if (key.size() > 2 && key[0] == '\0' && key[1] == 'i') return key.substr(2);
  return key;
}

Value Value::dict() {
  Value v;
  v.kind_ = Kind::Dict;
  v.dict_ = std::make_shared<Dict>();
  return v;
}

Value Value::function(std::string name, NativeFunction fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.fn_ = std::make_shared<Function>(Function{std::move(name), std::move(fn)});
  return v;
}

namespace {

template <typename Json>
Value convert_json(const Json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return Value(static_cast<int64_t>(j.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::json::value_t::string: return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(convert_json(e));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value d = Value::dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.dict_ref().items.emplace_back(it.key(), convert_json(it.value()));
      return d;
    }
    default: return Value::none();
  }
}

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  if (ensure_ascii && !utf8::is_ascii(s)) {
    for (char32_t cp : utf8::decode(s)) {
      if (cp < 0x80) {
        std::string ascii;
        append_json_string(ascii, std::string(1, static_cast<char>(cp)), false);
        out += ascii.substr(1, ascii.size() - 2);
      } else if (cp < 0x10000) {
        out += fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
      } else {
        uint32_t v = static_cast<uint32_t>(cp) - 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      }
    }
    out += '"';
    return;
  }
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string python_string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

constexpr int kMaxJsonDepth = 200;

void dump_json(const Value& v, std::string& out, int indent, int depth, const std::string& item_sep,
               const std::string& key_sep, bool sort_keys, bool ascii) {
  if (depth > kMaxJsonDepth) fail("tojson: value nested deeper than {} levels", kMaxJsonDepth);
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (v.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.as_int()); return;
    case Value::Kind::Float: {
      double d = v.as_double();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += python_float_repr(d);
      }
      return;
    }
    case Value::Kind::String: append_json_string(out, v.str(), ascii); return;
    case Value::Kind::List: {
      if (v.is_iterator()) fail("Object of type {} is not JSON serializable", v.list_ref().iterator_type);
      const auto& items = v.items();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        dump_json(items[i], out, indent, depth + 1, item_sep, key_sep, sort_keys, ascii);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::Dict: {
      if (v.is_namespace()) fail("tojson: Object of type Namespace is not JSON serializable");
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.dict_ref().items) entries.push_back(&e);
      if (sort_keys)
        std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
      if (entries.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        append_json_string(out, dict_key_text(entries[i]->first), ascii);
        out += key_sep;
        dump_json(entries[i]->second, out, indent, depth + 1, item_sep, key_sep, sort_keys, ascii);
      }
      newline(depth);
      out += '}';
      return;
    }
    case Value::Kind::Undefined: fail("tojson: Object of type Undefined is not JSON serializable");
    case Value::Kind::Function: fail("tojson: Object of type function is not JSON serializable");
  }
}

}  // namespace

Value Value::from_json(const nlohmann::json& j) { return convert_json(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return convert_json(j); }

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return b_;
    case Kind::Int: return i_ != 0;
    case Kind::Float: return d_ != 0.0;
    case Kind::String: return !s_->empty();
    case Kind::List: return list_->iterator_type != nullptr || !list_->items.empty();
    case Kind::Dict: return dict_->is_namespace || !dict_->items.empty();
    case Kind::Function: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return list_->iterator_type ? list_->iterator_type : list_->is_tuple ? "tuple" : "list";
    case Kind::Dict: return dict_->is_namespace ? "Namespace" : "dict";
    case Kind::Function: return "function";
  }
  return "?";
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+02"
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t epos = sci.find('e');
  std::string mantissa = sci.substr(0, epos);
  int exponent = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out += digits + std::string(static_cast<size_t>(exponent + 1) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent + 1)) + "." + digits.substr(static_cast<size_t>(exponent + 1));
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  return out;
}

std::string Value::to_str() const {
  switch (kind_) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return b_ ? "True" : "False";
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: return python_float_repr(d_);
    case Kind::String: return *s_;
    case Kind::List:
    case Kind::Dict:
    case Kind::Function: return repr();
  }
  return "";
}

namespace {
constexpr int kMaxReprDepth = 200;  // namespaces can contain themselves
thread_local int repr_depth = 0;
struct ReprDepth {
  ReprDepth() {
    if (++repr_depth > kMaxReprDepth) {
      repr_depth = 0;
      fail("value nested deeper than {} levels (self-referencing namespace?)", kMaxReprDepth);
    }
  }
  ~ReprDepth() { repr_depth = repr_depth > 0 ? repr_depth - 1 : 0; }
};
}  // namespace

std::string Value::repr() const {
  ReprDepth guard;
  switch (kind_) {
    case Kind::String: return python_string_repr(*s_);
    case Kind::List: {
      if (list_->iterator_type) return fmt::format("<{} object>", list_->iterator_type);
      std::string out = list_->is_tuple ? "(" : "[";
      for (size_t i = 0; i < list_->items.size(); ++i) {
        if (i) out += ", ";
        out += list_->items[i].repr();
      }
      if (list_->is_tuple && list_->items.size() == 1) out += ",";
      out += list_->is_tuple ? ")" : "]";
      return out;
    }
    case Kind::Dict: {
      std::string out = dict_->is_namespace ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, v] : dict_->items) {
        if (!first) out += ", ";
        first = false;
        out += dict_key_value(k).repr() + ": " + v.repr();
      }
      out += dict_->is_namespace ? "}>" : "}";
      return out;
    }
    case Kind::Function: return "<function " + fn_->name + ">";
    case Kind::Undefined: return "Undefined";
    default: return to_str();
  }
}

std::string Value::to_json(int indent, std::string item_sep, std::string key_sep, bool sort_keys,
                           bool ensure_ascii) const {
  if (item_sep.empty()) item_sep = indent >= 0 ? "," : ", ";
  if (key_sep.empty()) key_sep = ": ";
  std::string out;
  dump_json(*this, out, indent, 0, item_sep, key_sep, sort_keys, ensure_ascii);
  return out;
}

nlohmann::ordered_json Value::to_nlohmann() const {
  switch (kind_) {
    case Kind::None:
    case Kind::Undefined: return nullptr;
    case Kind::Bool: return b_;
    case Kind::Int: return i_;
    case Kind::Float: return d_;
    case Kind::String: return *s_;
    case Kind::List: {
      auto a = nlohmann::ordered_json::array();
      for (const auto& v : list_->items) a.push_back(v.to_nlohmann());
      return a;
    }
    case Kind::Dict: {
      auto o = nlohmann::ordered_json::object();
      for (const auto& [k, v] : dict_->items) o[dict_key_text(k)] = v.to_nlohmann();
      return o;
    }
    case Kind::Function: return "<function " + fn_->name + ">";
  }
  return nullptr;
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.str() == b.str();
    case Value::Kind::List: {
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size() || a.list_ref().is_tuple != b.list_ref().is_tuple) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!values_equal(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      if (a.is_namespace() || b.is_namespace()) return &a.dict_ref() == &b.dict_ref();
      const auto& x = a.dict_ref().items;
      if (x.size() != b.dict_ref().items.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = b.dict_ref().find(k);
        if (!other || !values_equal(v, *other)) return false;
      }
      return true;
    }
    case Value::Kind::Function: return &a.fn() == &b.fn();
    default: return false;
  }
}

bool value_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();  // UTF-8 byte order == code point order
  if (a.is_list() && b.is_list() && !a.is_iterator() && !b.is_iterator() && a.list_ref().is_tuple == b.list_ref().is_tuple) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (value_less(x[i], y[i])) return true;
      if (value_less(y[i], x[i])) return false;
    }
    return x.size() < y.size();
  }
  fail("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name());
}

}  // namespace lp::text::jinja
