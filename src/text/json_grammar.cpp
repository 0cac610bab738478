#include "text/json_grammar.h"

#include <algorithm>
#include <fmt/format.h>

#include <functional>
#include <map>
#include <set>

namespace lp::text {

using json = nlohmann::ordered_json;

// ---- Grammar ----

int Grammar::add_rule() {
  rules_.emplace_back();
  return static_cast<int>(rules_.size() - 1);
}

void Grammar::add_alt(int rule, const Seq& seq) { rules_.at(static_cast<size_t>(rule)).push_back(seq); }

Grammar::Elem Grammar::cls(const ByteClass& c) {
  for (size_t i = 0; i < classes_.size(); ++i)
    if (classes_[i] == c) return {Elem::Class, static_cast<uint32_t>(i)};
  classes_.push_back(c);
  return {Elem::Class, static_cast<uint32_t>(classes_.size() - 1)};
}

Grammar::Elem Grammar::byte(unsigned char c) {
  ByteClass b;
  b.set(c);
  return cls(b);
}

void Grammar::literal(Seq& seq, std::string_view text) {
  for (unsigned char c : text) seq.push_back(byte(c));
}

int Grammar::literal_rule(std::string_view text) {
  const int r = add_rule();
  Seq s;
  literal(s, text);
  add_alt(r, s);
  return r;
}

void Grammar::finalize() {
  code_.clear();
  alt_start_.assign(rules_.size(), {});
  for (size_t r = 0; r < rules_.size(); ++r)
    for (const auto& seq : rules_[r]) {
      alt_start_[r].push_back(static_cast<uint32_t>(code_.size()));
      code_.insert(code_.end(), seq.begin(), seq.end());
      code_.push_back({Elem::End, 0});
    }
}

// ---- the JSON-schema compiler ----

namespace {

constexpr int kMaxDigits = 15;  // integer and fraction digits a number may have (keeps tiny models finite)

Grammar::ByteClass range(unsigned lo, unsigned hi) {
  Grammar::ByteClass b;
  for (unsigned c = lo; c <= hi; ++c) b.set(c);
  return b;
}

struct Compiler {
  Grammar& g;
  const json& root;
  std::map<std::string, int> by_ref;
  std::map<std::string, int> prim;

  int cached(const std::string& name, const std::function<void(int)>& build) {
    if (auto it = prim.find(name); it != prim.end()) return it->second;
    const int r = g.add_rule();
    prim[name] = r;
    build(r);
    return r;
  }
  int ws() {  // one optional space
    return cached("ws", [&](int r) {
      g.add_alt(r, {});
      g.add_alt(r, {g.byte(' ')});
    });
  }
  // d_n ::= "" | [0-9] d_{n-1}
  int digits_upto(int n) {
    return cached("digits" + std::to_string(n), [&](int r) {
      g.add_alt(r, {});
      if (n > 0) g.add_alt(r, {g.cls(range('0', '9')), g.ref(digits_upto(n - 1))});
    });
  }
  int int_part() {
    return cached("int", [&](int r) {
      g.add_alt(r, {g.byte('0')});
      g.add_alt(r, {g.cls(range('1', '9')), g.ref(digits_upto(kMaxDigits - 1))});
    });
  }
  int integer() {
    return cached("integer", [&](int r) {
      g.add_alt(r, {g.ref(int_part())});
      g.add_alt(r, {g.byte('-'), g.ref(int_part())});
    });
  }
  int number() {
    return cached("number", [&](int r) {
      const int frac = g.add_rule();
      g.add_alt(frac, {});
      g.add_alt(frac, {g.byte('.'), g.cls(range('0', '9')), g.ref(digits_upto(kMaxDigits - 1))});
      const int sign = g.add_rule();
      g.add_alt(sign, {});
      g.add_alt(sign, {g.byte('-')});
      g.add_alt(sign, {g.byte('+')});
      const int exp = g.add_rule();
      Grammar::ByteClass e;
      e.set('e');
      e.set('E');
      g.add_alt(exp, {});
      g.add_alt(exp, {g.cls(e), g.ref(sign), g.cls(range('0', '9')), g.ref(digits_upto(1))});
      g.add_alt(r, {g.ref(integer()), g.ref(frac), g.ref(exp)});
    });
  }
  // One character of a JSON string: printable ASCII but '"' and '\', a whole UTF-8 sequence, or an escape.
  int string_char() {
    return cached("char", [&](int r) {
      Grammar::ByteClass ascii = range(0x20, 0x7F);
      ascii.reset('"');
      ascii.reset('\\');
      g.add_alt(r, {g.cls(ascii)});
      // Well-formed UTF-8 only (no overlongs, surrogates or code points past U+10FFFF), as RFC 3629 table 3-7.
      const auto cont = g.cls(range(0x80, 0xBF));
      g.add_alt(r, {g.cls(range(0xC2, 0xDF)), cont});
      g.add_alt(r, {g.byte(0xE0), g.cls(range(0xA0, 0xBF)), cont});
      g.add_alt(r, {g.cls(range(0xE1, 0xEC) | range(0xEE, 0xEF)), cont, cont});
      g.add_alt(r, {g.byte(0xED), g.cls(range(0x80, 0x9F)), cont});
      g.add_alt(r, {g.byte(0xF0), g.cls(range(0x90, 0xBF)), cont, cont});
      g.add_alt(r, {g.cls(range(0xF1, 0xF3)), cont, cont, cont});
      g.add_alt(r, {g.byte(0xF4), g.cls(range(0x80, 0x8F)), cont, cont});
      Grammar::ByteClass esc;
      for (char c : std::string_view("\"\\/bfnrt")) esc.set(static_cast<unsigned char>(c));
      g.add_alt(r, {g.byte('\\'), g.cls(esc)});
      Grammar::ByteClass hex = range('0', '9') | range('a', 'f') | range('A', 'F');
      // \uXXXX but no surrogate (D800-DFFF): a lone half is invalid JSON text, and pairs are not needed (UTF-8).
      Grammar::ByteClass not_d = hex;
      not_d.reset('d');
      not_d.reset('D');
      g.add_alt(r, {g.byte('\\'), g.byte('u'), g.cls(not_d), g.cls(hex), g.cls(hex), g.cls(hex)});
      Grammar::ByteClass d;
      d.set('d');
      d.set('D');
      g.add_alt(r, {g.byte('\\'), g.byte('u'), g.cls(d), g.cls(range('0', '7')), g.cls(hex), g.cls(hex)});
    });
  }
  int chars_loop() {  // chars ::= "" | char chars
    return cached("chars", [&](int r) {
      g.add_alt(r, {});
      g.add_alt(r, {g.ref(string_char()), g.ref(r)});
    });
  }
  int chars_upto(int n) {
    return cached("chars" + std::to_string(n), [&](int r) {
      g.add_alt(r, {});
      if (n > 0) g.add_alt(r, {g.ref(string_char()), g.ref(chars_upto(n - 1))});
    });
  }
  int string(int64_t min_len = 0, int64_t max_len = -1) {
    const std::string key = fmt::format("string{}_{}", min_len, max_len);
    return cached(key, [&](int r) {
      Grammar::Seq s{g.byte('"')};
      for (int64_t i = 0; i < min_len; ++i) s.push_back(g.ref(string_char()));
      s.push_back(g.ref(max_len < 0 ? chars_loop() : chars_upto(static_cast<int>(max_len - min_len))));
      s.push_back(g.byte('"'));
      g.add_alt(r, s);
    });
  }
  int any_value() {
    return cached("value", [&](int r) {
      g.add_alt(r, {g.ref(any_object())});
      g.add_alt(r, {g.ref(any_array())});
      g.add_alt(r, {g.ref(string())});
      g.add_alt(r, {g.ref(number())});
      for (const char* lit : {"true", "false", "null"}) g.add_alt(r, {g.ref(g.literal_rule(lit))});
    });
  }
  int any_object() {
    return cached("object", [&](int r) {
      const int member = g.add_rule();
      g.add_alt(member, {g.ref(string()), g.byte(':'), g.ref(ws()), g.ref(any_value())});
      const int tail = g.add_rule();
      g.add_alt(tail, {});
      g.add_alt(tail, {g.byte(','), g.ref(ws()), g.ref(member), g.ref(tail)});
      g.add_alt(r, {g.byte('{'), g.byte('}')});
      g.add_alt(r, {g.byte('{'), g.ref(member), g.ref(tail), g.byte('}')});
    });
  }
  int any_array() {
    return cached("array", [&](int r) {
      const int tail = g.add_rule();
      g.add_alt(tail, {});
      g.add_alt(tail, {g.byte(','), g.ref(ws()), g.ref(any_value()), g.ref(tail)});
      g.add_alt(r, {g.byte('['), g.byte(']')});
      g.add_alt(r, {g.byte('['), g.ref(any_value()), g.ref(tail), g.byte(']')});
    });
  }

  [[noreturn]] void unsupported(const std::string& kw, const std::string& path, const std::string& why = "") {
    throw SchemaError(kw, path, fmt::format("JSON schema keyword '{}' at '{}' is not supported{}", kw, path.empty() ? "#" : path, why));
  }
  [[noreturn]] void malformed(const std::string& kw, const std::string& path, const std::string& what) {
    throw SchemaError(kw, path, fmt::format("JSON schema '{}' at '{}': {}", kw, path.empty() ? "#" : path, what));
  }
  int64_t count(const json& s, const char* kw, const std::string& path, int64_t def) {
    if (!s.contains(kw)) return def;
    const json& v = s[kw];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 4096)
      malformed(kw, path, "must be an integer between 0 and 4096");
    return v.get<int64_t>();
  }

  int literal_value(const json& v) { return g.literal_rule(v.dump()); }

  int value(const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) malformed("false", path, "a schema that matches nothing");
      return any_value();
    }
    if (!s.is_object()) malformed("", path, "a schema must be an object");
    static const std::set<std::string> known = {"type", "properties", "required", "items", "minItems", "maxItems",
                                                "minLength", "maxLength", "enum", "const", "anyOf", "$ref", "$defs",
                                                "definitions", "title", "description", "default", "examples",
                                                "$schema", "$id", "$comment", "additionalProperties", "strict"};
    for (const auto& [k, v] : s.items())
      if (!known.count(k)) unsupported(k, path);
    if (s.contains("additionalProperties") && !s["additionalProperties"].is_boolean() && !s["additionalProperties"].is_object())
      malformed("additionalProperties", path, "must be a boolean or a schema");
    if (s.contains("$ref")) {
      if (s.size() > 1)
        for (const auto& [k, v] : s.items())
          if (k != "$ref" && k != "title" && k != "description" && k != "$comment" && k != "$defs" && k != "definitions" && k != "$schema")
            unsupported(k, path, " next to '$ref'");
      return reference(s["$ref"], path);
    }
    if (s.contains("const")) return literal_value(s["const"]);
    if (s.contains("enum")) {
      const json& e = s["enum"];
      if (!e.is_array() || e.empty()) malformed("enum", path, "must be a non-empty array");
      const int r = g.add_rule();
      for (const auto& v : e) g.add_alt(r, {g.ref(literal_value(v))});
      return r;
    }
    if (s.contains("anyOf")) {
      const json& a = s["anyOf"];
      if (!a.is_array() || a.empty()) malformed("anyOf", path, "must be a non-empty array");
      if (s.contains("type")) unsupported("type", path, " next to 'anyOf' (put it inside each alternative)");
      const int r = g.add_rule();
      for (size_t i = 0; i < a.size(); ++i) g.add_alt(r, {g.ref(value(a[i], fmt::format("{}/anyOf/{}", path, i)))});
      return r;
    }
    if (!s.contains("type")) {
      if (s.contains("properties")) return object(s, path);
      if (s.contains("items")) return array(s, path);
      return any_value();
    }
    const json& t = s["type"];
    if (t.is_array()) {
      if (t.empty()) malformed("type", path, "must not be empty");
      const int r = g.add_rule();
      for (const auto& one : t) g.add_alt(r, {g.ref(typed(s, one, path))});
      return r;
    }
    return typed(s, t, path);
  }

  int typed(const json& s, const json& t, const std::string& path) {
    if (!t.is_string()) malformed("type", path, "must be a string or an array of strings");
    const std::string type = t.get<std::string>();
    if (type == "string") {
      const int64_t lo = count(s, "minLength", path, 0), hi = count(s, "maxLength", path, -1);
      if (hi >= 0 && hi < lo) malformed("maxLength", path, "is smaller than minLength");
      return string(lo, hi);
    }
    if (type == "number") return number();
    if (type == "integer") return integer();
    if (type == "boolean") {
      const int r = g.add_rule();
      g.add_alt(r, {g.ref(g.literal_rule("true"))});
      g.add_alt(r, {g.ref(g.literal_rule("false"))});
      return r;
    }
    if (type == "null") return g.literal_rule("null");
    if (type == "object") return object(s, path);
    if (type == "array") return array(s, path);
    malformed("type", path, fmt::format("unknown type '{}'", type));
  }

  int reference(const json& ref, const std::string& path) {
    if (!ref.is_string()) malformed("$ref", path, "must be a string");
    const std::string r = ref.get<std::string>();
    if (auto it = by_ref.find(r); it != by_ref.end()) return it->second;
    const json* target = r == "#" ? &root : nullptr;
    for (const auto& [prefix, key] : {std::pair{std::string_view("#/$defs/"), "$defs"}, std::pair{std::string_view("#/definitions/"), "definitions"}})
      if (r.rfind(prefix, 0) == 0) {
        const std::string name = r.substr(prefix.size());
        if (root.is_object() && root.contains(key) && root[key].is_object() && root[key].contains(name)) target = &root[key][name];
      }
    if (!target) unsupported("$ref", path, fmt::format(" for '{}' (only '#', '#/$defs/NAME' and '#/definitions/NAME' that exist)", r));
    // A rule first, so that recursive schemas refer to it while it is compiled.
    const int rule = g.add_rule();
    by_ref[r] = rule;
    g.add_alt(rule, {g.ref(value(*target, r.substr(1)))});
    return rule;
  }

  int object(const json& s, const std::string& path) {
    const bool closed = s.contains("additionalProperties") && s["additionalProperties"] == false;
    if (!s.contains("properties")) {
      if (s.contains("required") && !s["required"].empty()) malformed("required", path, "names properties but there is no 'properties'");
      if (closed) return g.literal_rule("{}");
      return any_object();
    }
    const json& props = s["properties"];
    if (!props.is_object()) malformed("properties", path, "must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) malformed("required", path, "must be an array of property names");
      for (const auto& k : s["required"]) {
        if (!k.is_string() || !props.contains(k.get<std::string>()))
          malformed("required", path, fmt::format("names {} which is not in 'properties'", k.dump()));
        required.insert(k.get<std::string>());
      }
    }
    std::vector<std::pair<int, bool>> kv;  // rule, required
    for (const auto& [k, v] : props.items()) {
      const int r = g.add_rule();
      Grammar::Seq seq;
      g.literal(seq, json(k).dump());
      seq.push_back(g.byte(':'));
      seq.push_back(g.ref(ws()));
      seq.push_back(g.ref(value(v, path + "/properties/" + k)));
      g.add_alt(r, seq);
      kv.emplace_back(r, required.count(k) > 0);
    }
    // tail(i, emitted): properties i.. in order; required ones must come, a comma before all but the first.
    const size_t n = kv.size();
    std::vector<int> tail(2 * (n + 1));
    for (size_t i = 0; i <= n; ++i)
      for (int e = 0; e < 2; ++e) tail[2 * i + static_cast<size_t>(e)] = g.add_rule();
    for (size_t i = 0; i <= n; ++i)
      for (int e = 0; e < 2; ++e) {
        const int r = tail[2 * i + static_cast<size_t>(e)];
        if (i == n) {
          g.add_alt(r, {});
          continue;
        }
        Grammar::Seq take;
        if (e) {
          take.push_back(g.byte(','));
          take.push_back(g.ref(ws()));
        }
        take.push_back(g.ref(kv[i].first));
        take.push_back(g.ref(tail[2 * (i + 1) + 1]));
        g.add_alt(r, take);
        if (!kv[i].second) g.add_alt(r, {g.ref(tail[2 * (i + 1) + static_cast<size_t>(e)])});
      }
    const int r = g.add_rule();
    g.add_alt(r, {g.byte('{'), g.ref(tail[0]), g.byte('}')});
    return r;
  }

  int array(const json& s, const std::string& path) {
    const int item = s.contains("items") ? value(s["items"], path + "/items") : any_value();
    const int64_t lo = count(s, "minItems", path, 0), hi = count(s, "maxItems", path, -1);
    if (hi >= 0 && hi < lo) malformed("maxItems", path, "is smaller than minItems");
    const int r = g.add_rule();
    if (hi == 0) {
      g.add_alt(r, {g.byte('['), g.byte(']')});
      return r;
    }
    // After the first item: lo-1 more, then up to hi-lo optional ones (or any number).
    const int more = g.add_rule();
    if (hi < 0) {
      g.add_alt(more, {});
      g.add_alt(more, {g.byte(','), g.ref(ws()), g.ref(item), g.ref(more)});
    } else {
      int opt = g.add_rule();
      g.add_alt(opt, {});
      for (int64_t k = 1; k < hi - std::max<int64_t>(lo, 1) + 1; ++k) {
        const int next = g.add_rule();
        g.add_alt(next, {});
        g.add_alt(next, {g.byte(','), g.ref(ws()), g.ref(item), g.ref(opt)});
        opt = next;
      }
      g.add_alt(more, {g.ref(opt)});
    }
    Grammar::Seq body{g.byte('['), g.ref(item)};
    for (int64_t k = 1; k < lo; ++k) {
      body.push_back(g.byte(','));
      body.push_back(g.ref(ws()));
      body.push_back(g.ref(item));
    }
    body.push_back(g.ref(more));
    body.push_back(g.byte(']'));
    g.add_alt(r, body);
    if (lo == 0) g.add_alt(r, {g.byte('['), g.byte(']')});
    return r;
  }
};

}  // namespace

int compile_json_schema(Grammar& g, const json& schema) {
  Compiler c{g, schema, {}, {}};
  if (schema.is_object())
    for (const char* defs : {"$defs", "definitions"})
      if (schema.contains(defs) && !schema[defs].is_object()) c.malformed(defs, "", "must be an object");
  return c.value(schema, "");
}

int json_value_rule(Grammar& g) {
  Compiler c{g, json(), {}, {}};
  return c.any_value();
}

int json_object_rule(Grammar& g) {
  Compiler c{g, json(), {}, {}};
  return c.any_object();
}

bool is_plain_string_text(std::string_view b) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  size_t i = 0;
  while (i < b.size()) {
    const auto c = static_cast<unsigned char>(b[i]);
    auto at = [&](size_t k) { return i + k < b.size() ? static_cast<unsigned char>(b[i + k]) : 0; };
    size_t len = 0;
    if (c < 0x80) len = c >= 0x20 && c != '"' && c != '\\' ? 1 : 0;
    else if (in(c, 0xC2, 0xDF)) len = in(at(1), 0x80, 0xBF) ? 2 : 0;
    else if (c == 0xE0) len = in(at(1), 0xA0, 0xBF) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) len = in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    else if (c == 0xED) len = in(at(1), 0x80, 0x9F) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    else if (c == 0xF0) len = in(at(1), 0x90, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    else if (in(c, 0xF1, 0xF3)) len = in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    else if (c == 0xF4) len = in(at(1), 0x80, 0x8F) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    if (len == 0) return false;
    i += len;
  }
  return !b.empty();
}

// ---- the matcher ----

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> g) : g_(std::move(g)) {
  const auto& starts = g_->alternatives().at(static_cast<size_t>(g_->root()));
  for (uint32_t a : starts) expand(Stack{a}, stacks_);
  std::sort(stacks_.begin(), stacks_.end());
  stacks_.erase(std::unique(stacks_.begin(), stacks_.end()), stacks_.end());
}

// Brings a stack to a byte class on top (or empty: the input may end), following references and returns.
// A reference in tail position does not keep its return address (an End would only pop it), so loops written
// as right recursion keep a constant stack.
void GrammarMatcher::expand(Stack s, Stacks& out, int depth) const {
  const auto& code = g_->code();
  // Left recursion (a $ref cycle that consumes nothing) would never end.
  if (depth > 2000) throw std::runtime_error("grammar: a rule refers to itself before consuming input (a $ref cycle?)");
  for (int steps = 0; !s.empty(); ++steps) {
    if (steps > 100000) throw std::runtime_error("grammar: a rule refers to itself before consuming input (a $ref cycle?)");
    const uint32_t top = s.back();
    const auto& e = code[top];
    if (e.kind == Grammar::Elem::Class) break;
    if (e.kind == Grammar::Elem::End) {
      s.pop_back();
      continue;
    }
    s.pop_back();
    if (code[top + 1].kind != Grammar::Elem::End) s.push_back(top + 1);
    const auto& alts = g_->alternatives()[e.arg];
    for (size_t i = 0; i + 1 < alts.size(); ++i) {
      Stack t = s;
      t.push_back(alts[i]);
      expand(std::move(t), out, depth + 1);
    }
    if (alts.empty()) return;
    s.push_back(alts.back());
  }
  out.push_back(std::move(s));
}

void GrammarMatcher::advance(const Stacks& in, unsigned char c, Stacks& out) const {
  out.clear();
  const auto& code = g_->code();
  for (const auto& s : in) {
    if (s.empty()) continue;
    if (!g_->byte_class(code[s.back()].arg).test(c)) continue;
    Stack t = s;
    ++t.back();
    expand(std::move(t), out);
  }
  if (out.size() > 1) {
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
}

bool GrammarMatcher::allows(std::string_view bytes) const {
  Stacks cur = stacks_, next;
  for (unsigned char c : bytes) {
    advance(cur, c, next);
    if (next.empty()) return false;
    cur.swap(next);
  }
  return true;
}

bool GrammarMatcher::accept(std::string_view bytes) {
  Stacks cur = stacks_, next;
  for (unsigned char c : bytes) {
    advance(cur, c, next);
    if (next.empty()) return false;
    cur.swap(next);
  }
  stacks_.swap(cur);
  return true;
}

bool GrammarMatcher::can_end() const {
  return std::any_of(stacks_.begin(), stacks_.end(), [](const Stack& s) { return s.empty(); });
}

bool GrammarMatcher::must_end() const {
  return std::all_of(stacks_.begin(), stacks_.end(), [](const Stack& s) { return s.empty(); });
}

std::string GrammarMatcher::state_key() const {
  std::string k;
  for (const auto& s : stacks_) {
    const auto n = static_cast<uint32_t>(s.size());
    k.append(reinterpret_cast<const char*>(&n), sizeof n);
    k.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(uint32_t));
  }
  return k;
}

}  // namespace lp::text
