#include "eval/suite.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/file_io.h"
#include "core/sha256.h"

namespace lp::eval {

namespace detail {
extern const unsigned char kBuiltinSuite[];
extern const size_t kBuiltinSuiteSize;
}  // namespace detail

using nlohmann::json;
using ojson = nlohmann::ordered_json;

const char* item_type_name(ItemType t) {
  switch (t) {
    case ItemType::MultipleChoice: return "multiple_choice";
    case ItemType::Generate: return "generate";
    case ItemType::ToolCall: return "tool_call";
  }
  return "?";
}

const std::vector<std::string>& suite_categories() {
  static const std::vector<std::string> c = {"knowledge", "math", "reasoning", "common_sense", "truthfulness", "tool_calling"};
  return c;
}

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// One line's errors all read "<origin>:<line>: field '<field>': <what>".
struct LineCtx {
  const std::string& origin;
  int line;
  [[noreturn]] void field(const std::string& name, const std::string& what) const {
    fail("{}:{}: field '{}': {}", origin, line, name, what);
  }
};

std::string required_string(const ojson& j, const char* key, const LineCtx& c) {
  if (!j.contains(key)) c.field(key, "missing");
  if (!j[key].is_string()) c.field(key, "must be a string");
  std::string s = j[key].get<std::string>();
  if (s.empty()) c.field(key, "must not be empty");
  return s;
}

// An OpenAI tools array; a bare {"name", "description"?, "parameters"?} entry is wrapped as {"type": "function", "function": entry}.
ojson read_tools(const ojson& v, const LineCtx& c) {
  if (!v.is_array() || v.empty()) c.field("tools", "must be a non-empty list of tools");
  ojson out = ojson::array();
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string f = "tools[" + std::to_string(i) + "]";
    ojson t = v[i];
    if (!t.is_object()) c.field(f, "must be an object");
    if (!t.contains("type") && t.contains("name")) t = ojson{{"type", "function"}, {"function", t}};
    if (t.value("type", std::string()) != "function") c.field(f + ".type", "must be \"function\"");
    if (!t.contains("function") || !t["function"].is_object()) c.field(f + ".function", "must be an object");
    const ojson& fn = t["function"];
    if (!fn.contains("name") || !fn["name"].is_string() || fn["name"].get<std::string>().empty())
      c.field(f + ".function.name", "must be a non-empty string");
    if (fn.contains("parameters") && !fn["parameters"].is_object()) c.field(f + ".function.parameters", "must be an object");
    out.push_back(std::move(t));
  }
  return out;
}

SuiteItem parse_item(const ojson& j, const LineCtx& c) {
  static const std::set<std::string> known = {"id", "category", "type", "question", "choices", "answer", "tools", "system"};
  if (!j.is_object()) fail("{}:{}: a suite line must be a JSON object", c.origin, c.line);
  for (const auto& [k, v] : j.items())
    if (!known.contains(k)) c.field(k, "unknown field (known: id, category, type, question, choices, answer, tools, system)");
  SuiteItem it;
  it.line = c.line;
  if (!j.contains("id")) c.field("id", "missing");
  if (j["id"].is_string()) it.id = j["id"].get<std::string>();
  else if (j["id"].is_number_integer()) it.id = std::to_string(j["id"].get<int64_t>());
  else c.field("id", "must be a string or an integer");
  if (it.id.empty()) c.field("id", "must not be empty");
  it.category = required_string(j, "category", c);
  const auto& cats = suite_categories();
  if (std::find(cats.begin(), cats.end(), it.category) == cats.end())
    c.field("category", "unknown category '" + it.category + "' (known: " + joined(cats) + ")");
  const std::string type = required_string(j, "type", c);
  if (type == "multiple_choice") it.type = ItemType::MultipleChoice;
  else if (type == "generate") it.type = ItemType::Generate;
  else if (type == "tool_call") it.type = ItemType::ToolCall;
  else c.field("type", "unknown type '" + type + "' (known: multiple_choice, generate, tool_call)");
  it.question = required_string(j, "question", c);
  if (j.contains("system")) {
    if (!j["system"].is_string()) c.field("system", "must be a string");
    it.system = j["system"].get<std::string>();
  }
  if (!j.contains("answer")) c.field("answer", "missing");
  const ojson& a = j["answer"];
  switch (it.type) {
    case ItemType::MultipleChoice: {
      if (!j.contains("choices")) c.field("choices", "missing (multiple_choice needs a list of choices)");
      const ojson& ch = j["choices"];
      if (!ch.is_array() || ch.size() < 2) c.field("choices", "must be a list of at least two strings");
      for (size_t i = 0; i < ch.size(); ++i) {
        if (!ch[i].is_string() || ch[i].get<std::string>().empty())
          c.field("choices[" + std::to_string(i) + "]", "must be a non-empty string");
        it.choices.push_back(ch[i].get<std::string>());
      }
      if (!a.is_number_integer()) c.field("answer", "must be the index of the right choice (an integer)");
      const int64_t idx = a.get<int64_t>();
      if (idx < 0 || idx >= static_cast<int64_t>(it.choices.size()))
        c.field("answer", "index " + std::to_string(idx) + " is outside the " + std::to_string(it.choices.size()) + " choices");
      it.answer_index = static_cast<int>(idx);
      it.answer = idx;
      break;
    }
    case ItemType::Generate:
      if (!(a.is_string() && !a.get<std::string>().empty()) && !a.is_number())
        c.field("answer", "must be a non-empty string or a number");
      it.answer = json::parse(a.dump());
      break;
    case ItemType::ToolCall: {
      if (!a.is_object() || !a.contains("name") || !a["name"].is_string() || a["name"].get<std::string>().empty())
        c.field("answer", "must be {\"name\": FUNCTION, \"arguments\": {...}}");
      if (!a.contains("arguments") || !a["arguments"].is_object()) c.field("answer.arguments", "must be an object");
      for (const auto& [k, v] : a.items())
        if (k != "name" && k != "arguments") c.field("answer." + k, "unknown field (known: name, arguments)");
      it.answer = json::parse(a.dump());
      break;
    }
  }
  if (it.type != ItemType::MultipleChoice && j.contains("choices")) c.field("choices", "only multiple_choice items have choices");
  if (it.type == ItemType::ToolCall) {
    if (!j.contains("tools")) c.field("tools", "missing (tool_call needs the tools offered)");
    it.tools = read_tools(j["tools"], c);
    bool offered = false;
    for (const auto& t : it.tools) offered |= t["function"]["name"] == it.answer["name"].get<std::string>();
    if (!offered) c.field("answer.name", "'" + it.answer["name"].get<std::string>() + "' is not one of the tools offered");
  } else if (j.contains("tools")) {
    c.field("tools", "only tool_call items have tools");
  }
  return it;
}

}  // namespace

Suite parse_suite(std::string_view text, const std::string& origin) {
  Suite s;
  s.name = origin;
  s.sha256 = sha256_hex(text);
  std::map<std::string, int> id_line;
  int line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (raw.find_first_not_of(" \t") == std::string_view::npos) continue;
    ojson j;
    try {
      j = ojson::parse(raw);
    } catch (const std::exception& e) {
      std::string what = e.what();
      if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
      fail("{}:{}: not valid JSON: {}", origin, line, what);
    }
    SuiteItem it = parse_item(j, LineCtx{origin, line});
    if (auto [at, fresh] = id_line.emplace(it.id, line); !fresh)
      LineCtx{origin, line}.field("id", "'" + it.id + "' repeats the id of line " + std::to_string(at->second));
    s.items.push_back(std::move(it));
  }
  if (s.items.empty()) fail("{}: the suite holds no questions", origin);
  return s;
}

Suite load_suite(const std::string& spec) {
  if (spec.empty() || spec == "builtin") {
    Suite s = parse_suite(std::string_view(reinterpret_cast<const char*>(detail::kBuiltinSuite), detail::kBuiltinSuiteSize),
                          "builtin suite (data/eval/suite.jsonl)");
    s.name = "builtin";
    return s;
  }
  std::optional<std::string> text = try_read_file(spec);
  if (!text) fail("{}: cannot open suite file", spec);
  return parse_suite(*text, spec);
}

Suite select_items(const Suite& suite, const std::vector<std::string>& categories, int limit_per_category) {
  const auto& known = suite_categories();
  for (const auto& c : categories)
    if (std::find(known.begin(), known.end(), c) == known.end())
      fail("--categories: unknown category '{}' (known: {})", c, joined(known));
  Suite out;
  out.name = suite.name;
  out.sha256 = suite.sha256;
  std::map<std::string, int> taken;
  for (const auto& it : suite.items) {
    if (!categories.empty() && std::find(categories.begin(), categories.end(), it.category) == categories.end()) continue;
    if (limit_per_category > 0 && taken[it.category] >= limit_per_category) continue;
    ++taken[it.category];
    out.items.push_back(it);
  }
  if (out.items.empty()) fail("{}: no question of the categories asked for", suite.name);
  return out;
}

}  // namespace lp::eval
