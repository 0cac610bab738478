#include "text/tool_calls.h"

#include <random>

namespace lp::text {
namespace {

using nlohmann::json;
constexpr size_t npos = std::string_view::npos;

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}
std::string_view rtrim(std::string_view s) {
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}
std::string_view ltrim(std::string_view s) { return s.substr(skip_ws(s, 0)); }
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Length of the longest suffix of s that is a proper prefix of marker (text that may still become marker).
size_t partial_marker_suffix(std::string_view s, std::string_view marker) {
  for (size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
  return 0;
}

// Text before a marker that has not fully arrived: held back in partial mode, along with trailing whitespace.
std::string_view hold_back(std::string_view s, bool partial, std::initializer_list<std::string_view> markers) {
  if (!partial) return s;
  size_t cut = 0;
  for (auto m : markers) cut = std::max(cut, partial_marker_suffix(s, m));
  return rtrim(s.substr(0, s.size() - cut));
}

// ---- a tolerant JSON scanner: finds where values end in text that may be cut anywhere ----

size_t scan_string(std::string_view s, size_t i) {  // s[i] == '"'; returns one past the closing quote or npos
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return npos;
}

size_t scan_value(std::string_view s, size_t i) {  // one past the value starting at s[i], or npos if cut
  if (i >= s.size()) return npos;
  if (s[i] == '"') return scan_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '"') {
        i = scan_string(s, i);
        if (i == npos) return npos;
        --i;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return npos;
  }
  size_t j = i;
  while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.' || s[j] == '-' || s[j] == '+')) ++j;
  return j == s.size() ? npos : (j == i ? i + 1 : j);
}

struct Member {
  std::string key;
  size_t start = npos, end = npos;  // value range; end npos: cut
};

// The members of the object at s[i] == '{' as far as they arrived. end: one past '}' or npos.
struct ObjectScan {
  std::vector<Member> members;
  size_t end = npos;
  bool bad = false;
};
ObjectScan scan_object(std::string_view s, size_t i) {
  ObjectScan o;
  i = skip_ws(s, i + 1);
  while (i < s.size()) {
    if (s[i] == '}') {
      o.end = i + 1;
      return o;
    }
    if (s[i] == ',') i = skip_ws(s, i + 1);
    if (i >= s.size()) return o;
    if (s[i] != '"') {
      o.bad = true;
      return o;
    }
    const size_t kend = scan_string(s, i);
    if (kend == npos) return o;
    Member m;
    try {
      m.key = json::parse(s.substr(i, kend - i)).get<std::string>();
    } catch (const json::exception&) {
      o.bad = true;
      return o;
    }
    i = skip_ws(s, kend);
    if (i >= s.size()) return o;
    if (s[i] != ':') {
      o.bad = true;
      return o;
    }
    i = skip_ws(s, i + 1);
    if (i >= s.size()) return o;
    m.start = i;
    m.end = scan_value(s, i);
    o.members.push_back(m);
    if (m.end == npos) return o;
    i = skip_ws(s, m.end);
  }
  return o;
}

const Member* member(const ObjectScan& o, std::initializer_list<std::string_view> keys) {
  for (auto k : keys)
    for (const auto& m : o.members)
      if (m.key == k) return &m;
  return nullptr;
}

// A call object {"name": N, "arguments"|"parameters": {...}} at s[i]: appends what is known (the name must be
// complete; arguments as far as they arrived). Returns one past the object, or npos if it is cut or no call.
size_t read_call_object(std::string_view s, size_t i, std::vector<ToolCall>& out, bool* is_call = nullptr) {
  const ObjectScan o = scan_object(s, i);
  const Member* name = member(o, {"name"});
  const Member* args = member(o, {"arguments", "parameters"});
  if (is_call) *is_call = !o.bad && name && name->end != npos && s[name->start] == '"';
  if (o.bad || !name || name->end == npos || s[name->start] != '"') return o.end;
  ToolCall c;
  c.name = json::parse(s.substr(name->start, name->end - name->start)).get<std::string>();
  if (!args) {
    if (o.end == npos) {
      out.push_back(c);  // arguments not arrived yet
      return npos;
    }
    c.arguments = "{}";
  } else if (s[args->start] == '"') {  // arguments sent as a JSON string
    if (args->end == npos) {
      out.push_back(c);
      return npos;
    }
    c.arguments = json::parse(s.substr(args->start, args->end - args->start)).get<std::string>();
  } else {
    c.arguments = std::string(s.substr(args->start, args->end == npos ? npos : args->end - args->start));
  }
  out.push_back(std::move(c));
  return o.end;
}

// ---- per format ----

void parse_hermes(std::string_view s, bool partial, ParsedMessage& m) {
  constexpr std::string_view open = "<tool_call>", close = "</tool_call>";
  size_t k = s.find(open);
  if (k == npos) {
    m.content += hold_back(s, partial, {open});
    return;
  }
  m.content += rtrim(s.substr(0, k));
  while (k != npos) {
    size_t i = skip_ws(s, k + open.size());
    if (i >= s.size()) return;
    if (s[i] != '{') return;  // not a call object: the rest is dropped
    const size_t end = read_call_object(s, i, m.tool_calls);
    if (end == npos) return;
    k = s.find(open, end);
    (void)close;
  }
}

void parse_llama3(std::string_view s, bool partial, ParsedMessage& m) {
  constexpr std::string_view tag = "<|python_tag|>";
  std::string_view t = ltrim(s);
  if (partial && (t.empty() || (t.size() < tag.size() && starts_with(tag, t)))) return;
  if (starts_with(t, tag)) t = ltrim(t.substr(tag.size()));
  if (t.empty() || t[0] != '{') {
    m.content += hold_back(s, partial, {});
    return;
  }
  std::vector<ToolCall> calls;
  size_t i = 0;
  while (true) {
    bool is_call = false;
    const size_t end = read_call_object(t, i, calls, &is_call);
    if (end == npos) {
      if (partial) {
        if (is_call) m.tool_calls = std::move(calls);
        return;  // a cut object: hold it back until we know what it is
      }
      break;
    }
    if (!is_call) break;
    i = skip_ws(t, end);
    if (i < t.size() && t[i] == ';') i = skip_ws(t, i + 1);
    if (i >= t.size()) {
      m.tool_calls = std::move(calls);
      return;
    }
    if (t[i] != '{') break;
  }
  // Not (only) tool calls: what came before stays calls; a reply that is no call is content.
  if (!calls.empty()) m.tool_calls = std::move(calls);
  else m.content += hold_back(s, partial, {});
}

void parse_mistral(std::string_view s, bool partial, ParsedMessage& m) {
  constexpr std::string_view tc = "[TOOL_CALLS]", args = "[ARGS]", call_id = "[CALL_ID]";
  size_t k = s.find(tc);
  if (k == npos) {
    m.content += hold_back(s, partial, {tc});
    return;
  }
  m.content += rtrim(s.substr(0, k));
  while (k != npos) {
    size_t i = skip_ws(s, k + tc.size());
    if (i >= s.size()) return;
    if (s[i] == '[') {  // v3: a JSON array of call objects
      i = skip_ws(s, i + 1);
      while (i < s.size() && s[i] == '{') {
        const size_t end = read_call_object(s, i, m.tool_calls);
        if (end == npos) return;
        i = skip_ws(s, end);
        if (i < s.size() && s[i] == ',') i = skip_ws(s, i + 1);
      }
      k = s.find(tc, i);
      continue;
    }
    // v11+: NAME[CALL_ID]id[ARGS]{...}
    const size_t a = s.find(args, i);
    if (a == npos) return;
    std::string_view name = s.substr(i, a - i);
    if (size_t c = name.find(call_id); c != npos) name = name.substr(0, c);
    ToolCall call;
    call.name = std::string(rtrim(name));
    const size_t v = skip_ws(s, a + args.size());
    if (v >= s.size()) {
      m.tool_calls.push_back(call);
      return;
    }
    const size_t end = scan_value(s, v);
    call.arguments = std::string(s.substr(v, end == npos ? npos : end - v));
    m.tool_calls.push_back(std::move(call));
    if (end == npos) return;
    k = s.find(tc, end);
  }
}

void parse_harmony(std::string_view s, bool partial, ParsedMessage& m) {
  constexpr std::string_view msg = "<|message|>", channel = "<|channel|>";
  static constexpr std::string_view ends[] = {"<|end|>", "<|start|>", "<|call|>", "<|return|>"};
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t h = s.find(msg, pos);
    if (h == npos) {
      // A reply that never opens a channel is plain content.
      if (!partial && s.find(channel, pos) == npos && pos == 0) m.content += s;
      return;
    }
    const std::string_view header = s.substr(pos, h - pos);
    std::string ch;
    if (size_t c = header.find(channel); c != npos) {
      size_t e = c + channel.size();
      while (e < header.size() && !is_ws(header[e]) && header[e] != '<') ch += header[e++];
    }
    std::string recipient;
    if (size_t t = header.find("to="); t != npos) {
      size_t e = t + 3;
      while (e < header.size() && !is_ws(header[e]) && header[e] != '<') recipient += header[e++];
    }
    const size_t b = h + msg.size();
    size_t body_end = npos, next = npos;
    for (auto e : ends)
      if (size_t f = s.find(e, b); f != npos && f < body_end) {
        body_end = f;
        next = f + e.size();
      }
    std::string_view body = s.substr(b, body_end == npos ? npos : body_end - b);
    const bool cut = body_end == npos && partial;
    if (cut) {
      size_t held = 0;
      for (auto e : ends) held = std::max(held, partial_marker_suffix(body, e));
      body = body.substr(0, body.size() - held);
    }
    if (starts_with(recipient, "functions.")) {
      ToolCall c;
      c.name = recipient.substr(10);
      c.arguments = std::string(cut ? body : body);
      m.tool_calls.push_back(std::move(c));
    } else if (ch == "analysis") {
      m.reasoning += cut ? rtrim(body) : body;
    } else {
      m.content += cut ? rtrim(body) : body;
    }
    if (body_end == npos) return;
    pos = next;
    if (starts_with(s.substr(pos), "<|start|>")) pos += 9;
  }
}

void parse_generic(std::string_view s, bool partial, ParsedMessage& m) {
  const std::string_view t = ltrim(s);
  if (t.empty()) return;
  if (t[0] == '{') {
    const size_t end = scan_value(t, 0);
    if (end == npos && partial) return;  // undecided until the object is complete
    if (end != npos && skip_ws(t, end) == t.size()) {
      try {
        const json j = json::parse(t.substr(0, end));
        if (auto it = j.find("tool_calls"); it != j.end() && it->is_array()) {
          for (const auto& c : *it) {
            if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) throw std::runtime_error("not a call");
            ToolCall call;
            call.name = c["name"].get<std::string>();
            const json& a = c.contains("arguments") ? c["arguments"] : json::object();
            call.arguments = a.is_string() ? a.get<std::string>() : a.dump();
            m.tool_calls.push_back(std::move(call));
          }
          return;
        }
      } catch (const std::exception&) {
        m.tool_calls.clear();
      }
    }
  }
  m.content += hold_back(s, partial, {});
}

}  // namespace

const char* tool_format_name(ToolFormat f) {
  switch (f) {
    case ToolFormat::Hermes: return "hermes";
    case ToolFormat::Llama3: return "llama3";
    case ToolFormat::Mistral: return "mistral";
    case ToolFormat::Harmony: return "harmony";
    case ToolFormat::Generic: return "generic";
  }
  return "?";
}

ChatFormat detect_chat_format(std::string_view src) {
  ChatFormat f;
  auto has = [&](std::string_view x) { return src.find(x) != npos; };
  if (has("<|channel|>")) {
    f.tools = ToolFormat::Harmony;
    f.needs_special_tokens = true;
  } else if (has("<tool_call>")) {
    f.tools = ToolFormat::Hermes;
  } else if (has("[TOOL_CALLS]")) {
    f.tools = ToolFormat::Mistral;
    f.needs_special_tokens = true;
  } else if (has("<|start_header_id|>") && (has("ipython") || has("<|python_tag|>"))) {
    f.tools = ToolFormat::Llama3;
    f.needs_special_tokens = true;
  }
  f.think_tags = f.tools != ToolFormat::Harmony && has("<think>") && has("</think>");
  return f;
}

bool prompt_opens_reasoning(const ChatFormat& format, std::string_view prompt) {
  if (!format.think_tags) return false;
  const size_t o = prompt.rfind("<think>");
  return o != npos && prompt.find("</think>", o) == npos;
}

ParsedMessage parse_reply(const ChatFormat& format, std::string_view s, bool partial, bool in_reasoning) {
  ParsedMessage m;
  if (format.think_tags) {
    constexpr std::string_view open = "<think>", close = "</think>";
    const std::string_view t = ltrim(s);
    if (!in_reasoning && partial && t.size() < open.size() && starts_with(open, t)) return m;
    if (in_reasoning || starts_with(t, open)) {
      const std::string_view r = in_reasoning ? s : t.substr(open.size());
      const size_t c = r.find(close);
      if (c == npos) {
        m.reasoning = std::string(ltrim(partial ? hold_back(r, true, {close}) : rtrim(r)));
        return m;
      }
      m.reasoning = std::string(ltrim(rtrim(r.substr(0, c))));
      s = ltrim(r.substr(c + close.size()));
    }
  }
  if (!format.parse_tools && format.tools != ToolFormat::Harmony) {
    m.content += hold_back(s, partial, {});
    return m;
  }
  switch (format.tools) {
    case ToolFormat::Hermes: parse_hermes(s, partial, m); break;
    case ToolFormat::Llama3: parse_llama3(s, partial, m); break;
    case ToolFormat::Mistral: parse_mistral(s, partial, m); break;
    case ToolFormat::Harmony: parse_harmony(s, partial, m); break;
    case ToolFormat::Generic: parse_generic(s, partial, m); break;
  }
  return m;
}

std::string new_tool_call_id(ToolFormat format) {
  static constexpr char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int> d(0, 61);
  std::string id = format == ToolFormat::Mistral ? "" : "call_";
  for (int i = 0, n = format == ToolFormat::Mistral ? 9 : 24; i < n; ++i) id += alnum[d(rng)];
  return id;
}

std::string generic_tool_prompt(const json& tools, bool required) {
  std::string p =
      "You can call these tools (JSON schemas of their parameters):\n" + tools.dump(2) +
      "\n\nTo call tools, reply with only this JSON and nothing else:\n"
      "{\"tool_calls\": [{\"name\": \"<tool name>\", \"arguments\": {<arguments>}}]}\n";
  p += required ? "You must call at least one tool." : "Otherwise answer the user normally.";
  return p;
}

ReplyStream::ReplyStream(ChatFormat format, bool in_reasoning, std::string id_prefix)
    : format_(format), in_reasoning_(in_reasoning), id_prefix_(std::move(id_prefix)) {}

std::vector<ReplyDelta> ReplyStream::diff(const ParsedMessage& now) {
  std::vector<ReplyDelta> out;
  auto grow = [&](std::string& sent, const std::string& cur, ReplyDelta::Kind kind, int index) {
    if (cur.size() > sent.size() && cur.compare(0, sent.size(), sent) == 0) {
      out.push_back({kind, cur.substr(sent.size()), index, "", ""});
      sent = cur;
    }
  };
  grow(sent_.reasoning, now.reasoning, ReplyDelta::Reasoning, 0);
  grow(sent_.content, now.content, ReplyDelta::Content, 0);
  for (size_t i = 0; i < now.tool_calls.size(); ++i) {
    const int index = static_cast<int>(i);
    if (i >= sent_.tool_calls.size()) {
      ToolCall c;
      c.id = id_prefix_.empty() ? new_tool_call_id(format_.tools) : id_prefix_ + std::to_string(i);
      c.name = now.tool_calls[i].name;
      sent_.tool_calls.push_back(c);
      out.push_back({ReplyDelta::ToolCallStart, "", index, c.id, c.name});
    }
    grow(sent_.tool_calls[i].arguments, now.tool_calls[i].arguments, ReplyDelta::ToolCallArguments, index);
  }
  return out;
}

std::vector<ReplyDelta> ReplyStream::feed(std::string_view piece) {
  text_ += piece;
  return diff(parse_reply(format_, text_, true, in_reasoning_));
}

std::vector<ReplyDelta> ReplyStream::finish() {
  ParsedMessage m = parse_reply(format_, text_, false, in_reasoning_);
  for (auto& c : m.tool_calls)
    if (c.arguments.empty()) c.arguments = "{}";
  return diff(m);
}

}  // namespace lp::text
