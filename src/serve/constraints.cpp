#include "serve/constraints.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>

namespace lp::serve {

using nlohmann::json;

// ---- the vocabulary index ----

// A byte trie over token texts, flattened: node i's edges are [edge_start[i], edge_start[i+1]), the tokens
// spelled by the path to node i are [tok_start[i], tok_start[i+1]).
struct Trie {
  std::vector<uint32_t> edge_start, tok_start;
  std::vector<unsigned char> edge_byte;
  std::vector<uint32_t> edge_child, toks;

  static Trie build(const std::vector<std::string>& bytes, const std::vector<int32_t>& ids) {
    struct N {
      std::map<unsigned char, uint32_t> kids;
      std::vector<uint32_t> toks;
    };
    std::vector<N> nodes(1);
    for (int32_t id : ids) {
      uint32_t n = 0;
      for (unsigned char c : bytes[static_cast<size_t>(id)]) {
        auto it = nodes[n].kids.find(c);
        if (it == nodes[n].kids.end()) {
          nodes.emplace_back();
          it = nodes[n].kids.emplace(c, static_cast<uint32_t>(nodes.size() - 1)).first;
        }
        n = it->second;
      }
      nodes[n].toks.push_back(static_cast<uint32_t>(id));
    }
    Trie t;
    for (const auto& n : nodes) {
      t.edge_start.push_back(static_cast<uint32_t>(t.edge_byte.size()));
      for (const auto& [c, k] : n.kids) {
        t.edge_byte.push_back(c);
        t.edge_child.push_back(k);
      }
      t.tok_start.push_back(static_cast<uint32_t>(t.toks.size()));
      t.toks.insert(t.toks.end(), n.toks.begin(), n.toks.end());
    }
    t.edge_start.push_back(static_cast<uint32_t>(t.edge_byte.size()));
    t.tok_start.push_back(static_cast<uint32_t>(t.toks.size()));
    return t;
  }
};

class VocabIndex {
 public:
  int n_vocab = 0;
  std::vector<std::string> bytes;   // per token ("" for tokens never generated under a constraint)
  std::vector<char> eog;            // end-of-generation tokens
  Trie all;                         // every constrainable token
  Trie special_chars;               // tokens that are not "plain" string text
  std::vector<uint64_t> plain;      // bitset: tokens of whole UTF-8 characters, none of '"', '\', controls

  static std::shared_ptr<const VocabIndex> get(const Runtime& rt, bool with_special) {
    static std::mutex mu;
    static std::map<std::pair<uint64_t, bool>, std::shared_ptr<const VocabIndex>> cache;
    std::lock_guard lock(mu);
    if (cache.size() >= 8) cache.clear();
    auto& slot = cache[{rt.instance_id(), with_special}];
    if (!slot) slot = build(rt, with_special);
    return slot;
  }

 private:
  static std::shared_ptr<const VocabIndex> build(const Runtime& rt, bool with_special) {
    auto v = std::make_shared<VocabIndex>();
    v->n_vocab = rt.info().n_vocab;
    v->bytes.resize(static_cast<size_t>(v->n_vocab));
    v->eog.resize(static_cast<size_t>(v->n_vocab));
    v->plain.assign((static_cast<size_t>(v->n_vocab) + 63) / 64, 0);
    std::vector<int32_t> all, other;
    for (int32_t id = 0; id < v->n_vocab; ++id) {
      if (rt.is_end_of_generation(id)) {
        v->eog[static_cast<size_t>(id)] = 1;
        continue;
      }
      std::string b;
      try {
        b = rt.token_bytes(id);
      } catch (const std::exception&) {
        continue;  // ids past the tokenizer's vocabulary (padded embedding rows)
      }
      if (b.empty() || (!with_special && rt.is_special_token(id))) continue;
      v->bytes[static_cast<size_t>(id)] = b;
      all.push_back(id);
      if (text::is_plain_string_text(b)) v->plain[static_cast<size_t>(id) / 64] |= uint64_t{1} << (id % 64);
      else other.push_back(id);
    }
    v->all = Trie::build(v->bytes, all);
    v->special_chars = Trie::build(v->bytes, other);
    return v;
  }
};

// ---- the constraint ----

struct GrammarConstraint::Shared {
  std::shared_ptr<const text::Grammar> grammar;
  std::shared_ptr<const VocabIndex> vocab;
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<const std::vector<uint64_t>>> masks;  // state key -> allowed
};

GrammarConstraint::GrammarConstraint(std::shared_ptr<Shared> shared) : shared_(std::move(shared)), matcher_(shared_->grammar) {}

bool GrammarConstraint::allows(int32_t token) {
  const auto& v = *shared_->vocab;
  if (token < 0 || token >= v.n_vocab) return false;
  if (v.eog[static_cast<size_t>(token)]) return matcher_.can_end();
  const std::string& b = v.bytes[static_cast<size_t>(token)];
  return !b.empty() && matcher_.allows(b);
}

void GrammarConstraint::accept(int32_t token) {
  const auto& v = *shared_->vocab;
  if (v.eog[static_cast<size_t>(token)]) return;
  if (!matcher_.accept(v.bytes[static_cast<size_t>(token)])) throw std::runtime_error("constrained decoding: token not allowed by the grammar");
}

bool GrammarConstraint::complete() const { return matcher_.must_end(); }

namespace {

// Depth-first over the trie, carrying the matcher stacks; one buffer per depth keeps allocations down.
void walk(const text::GrammarMatcher& m, const Trie& t, uint32_t node, const text::GrammarMatcher::Stacks& cur,
          std::vector<text::GrammarMatcher::Stacks>& bufs, size_t depth, std::vector<uint64_t>& out) {
  if (bufs.size() <= depth) bufs.resize(depth + 1);
  for (uint32_t e = t.edge_start[node]; e < t.edge_start[node + 1]; ++e) {
    auto& next = bufs[depth];
    m.advance(cur, t.edge_byte[e], next);
    if (next.empty()) continue;
    const uint32_t child = t.edge_child[e];
    for (uint32_t k = t.tok_start[child]; k < t.tok_start[child + 1]; ++k) out[t.toks[k] / 64] |= uint64_t{1} << (t.toks[k] % 64);
    if (t.edge_start[child] != t.edge_start[child + 1]) {
      text::GrammarMatcher::Stacks mine = std::move(next);
      walk(m, t, child, mine, bufs, depth + 1, out);
      bufs[depth] = std::move(mine);
    }
  }
}

// Inside a JSON string with no length bound: every whole-character text keeps the matcher where it is, so the
// "plain" tokens are allowed as a block and only the others are walked.
bool in_string_loop(const text::GrammarMatcher& m) {
  const auto& s = m.stacks();
  if (s.empty()) return false;
  text::GrammarMatcher::Stacks a, b, c;
  for (std::string_view rep : {std::string_view("a"), std::string_view("\xC3\xA9"), std::string_view("\xE2\x82\xAC"), std::string_view("\xF0\x9F\x98\x80")}) {
    a = s;
    for (unsigned char ch : rep) {
      m.advance(a, ch, b);
      a.swap(b);
    }
    if (a != s) return false;
  }
  // Every top treats printable ASCII (but '"' and '\') alike, so "a" stands for all of it; multi-byte
  // characters go through the string rule's UTF-8 alternatives, which the representatives above walked.
  const auto& g = m.grammar();
  for (const auto& st : s) {
    if (st.empty()) continue;
    const auto& cls = g.byte_class(g.code()[st.back()].arg);
    const bool a_in = cls.test('a');
    for (unsigned x = 0x20; x < 0x80; ++x)
      if (x != '"' && x != '\\' && cls.test(x) != a_in) return false;
  }
  return true;
}

}  // namespace

const std::vector<uint64_t>& GrammarConstraint::current_mask() {
  const std::string key = matcher_.state_key();
  {
    std::lock_guard lock(shared_->mu);
    if (auto it = shared_->masks.find(key); it != shared_->masks.end()) {
      thread_local std::shared_ptr<const std::vector<uint64_t>> hold;
      hold = it->second;
      return *hold;
    }
  }
  const auto& v = *shared_->vocab;
  auto out = std::make_shared<std::vector<uint64_t>>((static_cast<size_t>(v.n_vocab) + 63) / 64, 0);
  std::vector<text::GrammarMatcher::Stacks> bufs;
  if (in_string_loop(matcher_)) {
    *out = v.plain;
    walk(matcher_, v.special_chars, 0, matcher_.stacks(), bufs, 0, *out);
  } else {
    walk(matcher_, v.all, 0, matcher_.stacks(), bufs, 0, *out);
  }
  std::lock_guard lock(shared_->mu);
  if (shared_->masks.size() >= 256) shared_->masks.clear();  // 19 KB each on a 151,936-token vocabulary
  auto& slot = shared_->masks[key];
  slot = out;
  thread_local std::shared_ptr<const std::vector<uint64_t>> hold;
  hold = slot;
  return *hold;
}

void GrammarConstraint::mask(float* logits, int n_vocab) {
  const auto& m = current_mask();
  const auto& v = *shared_->vocab;
  const bool end = matcher_.can_end();
  constexpr float ninf = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n_vocab; ++i) {
    const bool ok = i < v.n_vocab && (v.eog[static_cast<size_t>(i)] ? end : ((m[static_cast<size_t>(i) / 64] >> (i % 64)) & 1));
    if (!ok) logits[i] = ninf;
  }
}

std::vector<bool> GrammarConstraint::allowed_tokens() {
  const auto& m = current_mask();
  const auto& v = *shared_->vocab;
  std::vector<bool> out(static_cast<size_t>(v.n_vocab));
  for (int i = 0; i < v.n_vocab; ++i)
    out[static_cast<size_t>(i)] = v.eog[static_cast<size_t>(i)] ? matcher_.can_end() : ((m[static_cast<size_t>(i) / 64] >> (i % 64)) & 1);
  return out;
}

std::shared_ptr<GrammarConstraint> grammar_constraint(const Runtime& rt, bool with_special, const std::string& key,
                                                      const std::function<int(text::Grammar&)>& build) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<GrammarConstraint::Shared>> cache;  // a few recent grammars
  const std::string full_key = fmt::format("{}|{}|{}", rt.instance_id(), with_special, key);
  std::shared_ptr<GrammarConstraint::Shared> shared;
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(full_key); it != cache.end()) shared = it->second;
  }
  if (!shared) {
    auto g = std::make_shared<text::Grammar>();
    g->set_root(build(*g));
    g->finalize();
    shared = std::make_shared<GrammarConstraint::Shared>();
    shared->grammar = g;
    shared->vocab = VocabIndex::get(rt, with_special);
    std::lock_guard lock(mu);
    if (cache.size() >= 16) cache.clear();  // with at most 256 masks each: bounded memory
    cache[full_key] = shared;
  }
  return std::make_shared<GrammarConstraint>(shared);
}

// ---- tool calls under tool_choice auto: free text until the call marker ----

namespace {

bool all_ws(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}
std::string_view ltrim_ws(std::string_view s) {
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r')) s.remove_prefix(1);
  return s;
}
constexpr std::string_view kThinkOpen = "<think>", kThinkClose = "</think>";

// Longest suffix of s that is a proper prefix of one of the markers.
size_t held_suffix(std::string_view s, const std::vector<std::string>& markers) {
  size_t best = 0;
  for (const auto& m : markers)
    for (size_t n = std::min(s.size(), m.size() - 1); n > best; --n)
      if (s.substr(s.size() - n) == std::string_view(m).substr(0, n)) {
        best = n;
        break;
      }
  return best;
}

// The model writes what it likes (content, reasoning, or the end) until the template's call marker appears;
// from the marker on, the call grammar (which starts with the marker) decides every byte. Markers are found
// anywhere in the reply (Hermes <tool_call>, Mistral [TOOL_CALLS], harmony to=functions.) or only where the
// reply starts, after any <think> block (Llama 3's JSON call and the fallback's JSON object, as the parser
// reads them). A token that would complete a marker is allowed only if the grammar takes what follows.
class TriggeredConstraint : public TokenConstraint {
 public:
  struct Shared {
    std::shared_ptr<GrammarConstraint::Shared> call;
    std::vector<std::string> anywhere, at_start;
    bool think_tags = false;
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const std::vector<uint64_t>>> masks;
  };
  TriggeredConstraint(std::shared_ptr<Shared> s, bool in_reasoning) : s_(std::move(s)), in_think_(in_reasoning) {
    update_start();
  }

  bool allows(int32_t token) override {
    if (call_) return call_->allows(token);
    const auto& v = *s_->call->vocab;
    if (token < 0 || token >= v.n_vocab) return false;
    return free_allows(v.bytes[static_cast<size_t>(token)]);
  }
  void mask(float* logits, int n_vocab) override {
    if (call_) return call_->mask(logits, n_vocab);
    const auto& m = free_mask();
    const auto& v = *s_->call->vocab;
    constexpr float ninf = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < n_vocab; ++i)
      if (i >= v.n_vocab || !((m[static_cast<size_t>(i) / 64] >> (i % 64)) & 1)) logits[i] = ninf;
  }
  void accept(int32_t token) override {
    if (call_) return call_->accept(token);
    const auto& v = *s_->call->vocab;
    if (v.eog[static_cast<size_t>(token)]) return;
    const std::string& b = v.bytes[static_cast<size_t>(token)];
    if (in_think_) {
      const std::string t = tail_ + b;
      const size_t c = t.find(kThinkClose);
      text_ += b;
      if (c == std::string::npos) {
        tail_ = t.substr(t.size() - held_suffix(t, {std::string(kThinkClose)}));
        return;
      }
      in_think_ = false;
      think_seen_ = true;
      start_ = text_.size() - (t.size() - c - kThinkClose.size());
      tail_.clear();
      update_start();
      return;
    }
    const std::string t = tail_ + b;
    if (const size_t pos = find_marker(t, b); pos != std::string::npos) {
      call_ = std::make_shared<GrammarConstraint>(s_->call);
      const std::string from = at_start_ && pos == kAtStart ? std::string(ltrim_ws(reply_from_start() + b)) : t.substr(pos);
      if (!call_->accept_text(from)) throw std::runtime_error("constrained decoding: tool-call marker not allowed by the grammar");
      return;
    }
    text_ += b;
    if (s_->think_tags && !think_seen_ && ltrim_ws(text_).substr(0, kThinkOpen.size()) == kThinkOpen) {
      in_think_ = true;
      think_seen_ = true;
      const std::string_view rest = ltrim_ws(text_).substr(kThinkOpen.size());
      tail_ = std::string(rest.substr(rest.size() - held_suffix(rest, {std::string(kThinkClose)})));
      if (rest.find(kThinkClose) != std::string_view::npos) {  // opened and closed in one token
        in_think_ = false;
        start_ = text_.size() - (rest.size() - rest.find(kThinkClose) - kThinkClose.size());
        tail_.clear();
      }
      update_start();
      return;
    }
    tail_ = t.substr(t.size() - held_suffix(t, s_->anywhere));
    update_start();
  }
  bool complete() const override { return call_ && call_->complete(); }
  // n > 1: each choice gets its own state (the shared mask caches stay shared).
  std::shared_ptr<TokenConstraint> clone() const override {
    auto c = std::make_shared<TriggeredConstraint>(*this);
    if (call_) c->call_ = std::make_shared<GrammarConstraint>(*call_);
    return c;
  }

 private:
  static constexpr size_t kAtStart = std::string::npos - 1;

  std::string reply_from_start() const { return text_.substr(start_); }
  void update_start() {
    const std::string_view r = ltrim_ws(std::string_view(text_).substr(start_));
    bool partial = r.empty();
    for (const auto& m : s_->at_start) partial |= r.size() < m.size() && std::string_view(m).substr(0, r.size()) == r;
    at_start_ = !in_think_ && !s_->at_start.empty() && partial;
  }

  // Where the first marker starts in tail_ + b (kAtStart: an at-start marker), or npos.
  size_t find_marker(const std::string& t, std::string_view b) const {
    if (at_start_) {
      const std::string r(ltrim_ws(reply_from_start() + std::string(b)));
      for (const auto& m : s_->at_start)
        if (r.compare(0, m.size(), m) == 0) return kAtStart;
    }
    size_t best = std::string::npos;
    for (const auto& m : s_->anywhere) best = std::min(best, t.find(m));
    return best;
  }

  bool free_allows(const std::string& b) const {
    if (b.empty()) return true;  // end of generation, or a token without text
    if (in_think_) {
      const std::string t = tail_ + b;
      const size_t c = t.find(kThinkClose);
      return c == std::string::npos || all_ws(std::string_view(t).substr(c + kThinkClose.size()));
    }
    const std::string t = tail_ + b;
    const size_t pos = find_marker(t, b);
    if (pos == std::string::npos) return true;
    const std::string from = pos == kAtStart ? std::string(ltrim_ws(reply_from_start() + b)) : t.substr(pos);
    return text::GrammarMatcher(s_->call->grammar).allows(from);
  }

  const std::vector<uint64_t>& free_mask() {
    const std::string key = fmt::format("{}|{}|{}", in_think_, at_start_ ? std::string(ltrim_ws(reply_from_start())) : "-", tail_);
    std::lock_guard lock(s_->mu);
    auto& slot = s_->masks[key];
    if (!slot) {
      const auto& v = *s_->call->vocab;
      auto out = std::make_shared<std::vector<uint64_t>>((static_cast<size_t>(v.n_vocab) + 63) / 64, 0);
      for (int i = 0; i < v.n_vocab; ++i)
        if (free_allows(v.bytes[static_cast<size_t>(i)])) (*out)[static_cast<size_t>(i) / 64] |= uint64_t{1} << (i % 64);
      if (s_->masks.size() > 64) {
        s_->masks.clear();
        s_->masks[key] = out;
        hold_ = out;
        return *hold_;
      }
      slot = out;
    }
    hold_ = slot;
    return *hold_;
  }

  std::shared_ptr<Shared> s_;
  std::shared_ptr<GrammarConstraint> call_;  // set once the marker appeared
  std::string text_;                         // the free text so far
  size_t start_ = 0;                         // where the reply starts in text_ (after a <think> block)
  std::string tail_;                         // a suffix of text_ that may still become a marker
  bool in_think_ = false, think_seen_ = false, at_start_ = false;
  std::shared_ptr<const std::vector<uint64_t>> hold_;
};

}  // namespace

// ---- requests ----

namespace {

struct ToolRule {
  std::string name;
  int args;
};

// rule ::= item | item sep rule (one or more), or just item.
int repeat(text::Grammar& g, int item, std::string_view sep, bool many) {
  if (!many) return item;
  const int r = g.add_rule();
  g.add_alt(r, {g.ref(item)});
  text::Grammar::Seq s{g.ref(item)};
  g.literal(s, sep);
  s.push_back(g.ref(r));
  g.add_alt(r, s);
  return r;
}

// The text a model of `format` writes for its calls of `tools` (one, or one or more when `many` and the format
// has a list form). from_marker: the text starts at the marker the parser looks for (tool_choice auto).
int calls_rule(text::Grammar& g, const ChatPrompt& p, const std::string& source, const std::vector<ToolRule>& tools,
               bool many, bool from_marker) {
  const int item = g.add_rule();
  auto alt = [&](const std::string& before, int args, const std::string& after) {
    text::Grammar::Seq s;
    g.literal(s, before);
    s.push_back(g.ref(args));
    g.literal(s, after);
    g.add_alt(item, s);
  };
  const bool v11 = source.find("[ARGS]") != std::string::npos;
  for (const auto& t : tools) {
    const std::string qname = json(t.name).dump();
    switch (p.format.tools) {
      case text::ToolFormat::Hermes: alt("<tool_call>\n{\"name\": " + qname + ", \"arguments\": ", t.args, "}\n</tool_call>"); break;
      case text::ToolFormat::Llama3: alt("{\"name\": " + qname + ", \"parameters\": ", t.args, "}"); break;
      case text::ToolFormat::Mistral:
        if (v11) alt("[TOOL_CALLS]" + t.name + "[ARGS]", t.args, "");
        else alt("{\"name\": " + qname + ", \"arguments\": ", t.args, "}");
        break;
      case text::ToolFormat::Harmony:
        if (from_marker) {
          for (const char* h : {" <|constrain|>json<|message|>", "<|channel|>commentary <|constrain|>json<|message|>",
                                "<|channel|>commentary json<|message|>"})
            alt("to=functions." + t.name + h, t.args, "");
        } else {
          alt("<|channel|>commentary to=functions." + t.name + " <|constrain|>json<|message|>", t.args, "");
        }
        break;
      case text::ToolFormat::Generic: alt("{\"name\": " + qname + ", \"arguments\": ", t.args, "}"); break;
    }
  }
  auto wrap = [&](const std::string& before, int inner, const std::string& after) {
    const int r = g.add_rule();
    text::Grammar::Seq s;
    g.literal(s, before);
    s.push_back(g.ref(inner));
    g.literal(s, after);
    g.add_alt(r, s);
    return r;
  };
  switch (p.format.tools) {
    case text::ToolFormat::Hermes: return repeat(g, item, "\n", many);
    case text::ToolFormat::Llama3:  // one call per reply (the Llama 3.1 template has no parallel calls)
      if (from_marker) {
        const int r = wrap("<|python_tag|>", item, "");
        g.add_alt(r, {g.ref(item)});
        return r;
      }
      return item;
    case text::ToolFormat::Mistral:
      if (v11) return repeat(g, item, "", many);
      return wrap("[TOOL_CALLS][", repeat(g, item, ", ", many), "]");
    case text::ToolFormat::Harmony: return item;  // <|call|> ends the turn: one call
    case text::ToolFormat::Generic: return wrap("{\"tool_calls\": [", repeat(g, item, ", ", many), "]}");
  }
  return item;
}

int schema_rule(text::Grammar& g, const nlohmann::ordered_json& schema, const std::string& param) {
  try {
    return text::compile_json_schema(g, schema);
  } catch (const text::SchemaError& e) {
    throw ApiError::invalid(param, fmt::format("'{}': {}", param, e.what()));
  }
}

bool is_strict(const nlohmann::ordered_json& tool) {
  const auto& fn = tool["function"];
  return fn.contains("strict") && fn["strict"].is_boolean() && fn["strict"].get<bool>();
}

// The tools a call may name, with their argument rules: every tool's schema (all_schemas), else only strict
// tools' schemas and any JSON object for the others.
std::vector<ToolRule> tool_rules(text::Grammar& g, const GenerationRequest& r, bool all_schemas) {
  std::vector<ToolRule> out;
  for (size_t i = 0; i < r.tools.size(); ++i) {
    const auto& fn = r.tools[i]["function"];
    const std::string name = fn["name"].get<std::string>();
    if (r.tool_choice == ToolChoice::Named && name != r.tool_name) continue;
    if (!all_schemas && !is_strict(r.tools[i])) {
      out.push_back({name, text::json_object_rule(g)});
      continue;
    }
    const nlohmann::ordered_json params = fn.contains("parameters") ? fn["parameters"] : nlohmann::ordered_json{{"type", "object"}};
    out.push_back({name, schema_rule(g, params, fmt::format("tools[{}].function.parameters", i))});
  }
  return out;
}

}  // namespace

namespace {
std::mutex wrapper_mu;
ConstraintWrapper& test_wrapper() {
  static ConstraintWrapper w;
  return w;
}
void configure(const Runtime& rt, GenerationRequest& r, const ChatPrompt* chat);
}  // namespace

void set_constraint_wrapper_for_tests(ConstraintWrapper w) {
  std::lock_guard lock(wrapper_mu);
  test_wrapper() = std::move(w);
}

void configure_generation(const Runtime& rt, GenerationRequest& r, const ChatPrompt* chat) {
  configure(rt, r, chat);
  std::lock_guard lock(wrapper_mu);
  if (test_wrapper()) r.config.constraint = test_wrapper()(r.config.constraint);
}

namespace {
void configure(const Runtime& rt, GenerationRequest& r, const ChatPrompt* chat) {
  InferenceConfig& c = r.config;
  c.logprobs = r.top_logprobs;
  if (!chat) return;
  const text::ChatFormat& f = chat->format;
  c.decode_special = f.needs_special_tokens && (f.parse_tools || f.tools == text::ToolFormat::Harmony);
  const bool forced = f.parse_tools && (r.tool_choice == ToolChoice::Required || r.tool_choice == ToolChoice::Named);
  const bool has_format = !r.response_format.is_null();
  bool any_strict = false;
  if (f.parse_tools)
    for (const auto& t : r.tools) any_strict |= is_strict(t);
  // tool_choice auto with a strict tool or parallel_tool_calls false: free text, then constrained calls.
  const bool triggered = f.parse_tools && r.tool_choice == ToolChoice::Auto && !has_format && (any_strict || !r.parallel_tool_calls);
  if (!forced && !has_format && !triggered) return;
  const std::string source = rt.chat_template_info().source;
  // The prefix the reply must start with: close a <think> block the prompt opened; Harmony's answer channel.
  std::string prefix;
  if (chat->in_reasoning && !triggered) prefix = "</think>\n\n";
  auto build = [&](text::Grammar& g) {
    if (triggered) return calls_rule(g, *chat, source, tool_rules(g, r, false), r.parallel_tool_calls, true);
    const int root = g.add_rule();
    std::vector<int> alts;
    if (f.parse_tools && r.tool_choice != ToolChoice::None)
      alts.push_back(calls_rule(g, *chat, source, tool_rules(g, r, true), r.parallel_tool_calls, false));
    if (!forced && has_format) {
      int body;
      if (r.response_format["type"] == "json_object") body = text::json_object_rule(g);
      else body = schema_rule(g, r.response_format["schema"], "response_format.json_schema.schema");
      if (f.tools == text::ToolFormat::Harmony) {
        const int h = g.add_rule();
        text::Grammar::Seq s;
        g.literal(s, "<|channel|>final<|message|>");
        s.push_back(g.ref(body));
        g.add_alt(h, s);
        body = h;
      }
      alts.push_back(body);
    }
    for (int a : alts) {
      text::Grammar::Seq s;
      g.literal(s, prefix);
      s.push_back(g.ref(a));
      g.add_alt(root, s);
    }
    return root;
  };
  json key = {{"format", text::tool_format_name(f.tools)}, {"prefix", prefix}, {"choice", static_cast<int>(r.tool_choice)},
              {"name", r.tool_name}, {"tools", forced || triggered || (f.parse_tools && has_format) ? json::parse(r.tools.dump()) : json()},
              {"response_format", forced ? json() : json::parse(r.response_format.dump())},
              {"parallel", r.parallel_tool_calls}, {"triggered", triggered}};
  if (f.tools == text::ToolFormat::Mistral) key["args_form"] = source.find("[ARGS]") != std::string::npos;
  std::shared_ptr<GrammarConstraint> g;
  try {
    g = grammar_constraint(rt, c.decode_special, key.dump(), build);
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const ApiError*>(&e)) throw;
    throw ApiError::invalid(forced || triggered ? "tools" : "response_format", e.what());
  }
  if (!triggered) {
    c.constraint = g;
    return;
  }
  // One Shared per grammar: the free-text masks are cached with it.
  static std::mutex mu;
  static std::map<const void*, std::shared_ptr<TriggeredConstraint::Shared>> shared_of;  // the entry holds its key
  std::shared_ptr<TriggeredConstraint::Shared> ts;
  {
    std::lock_guard lock(mu);
    if (auto it = shared_of.find(g->shared().get()); it != shared_of.end()) ts = it->second;
    if (!ts) {
      if (shared_of.size() >= 16) shared_of.clear();
      ts = std::make_shared<TriggeredConstraint::Shared>();
      ts->call = g->shared();
      ts->think_tags = f.think_tags;
      switch (f.tools) {
        case text::ToolFormat::Hermes: ts->anywhere = {"<tool_call>"}; break;
        case text::ToolFormat::Llama3: ts->at_start = {"{", "<|python_tag|>"}; break;
        case text::ToolFormat::Mistral: ts->anywhere = {"[TOOL_CALLS]"}; break;
        case text::ToolFormat::Harmony: ts->anywhere = {"to=functions."}; break;
        case text::ToolFormat::Generic: ts->at_start = {"{"}; break;
      }
      shared_of[g->shared().get()] = ts;
    }
  }
  c.constraint = std::make_shared<TriggeredConstraint>(ts, chat->in_reasoning);
}
}  // namespace

// ---- logprobs ----

namespace {
TokenText token_text_of(const Runtime& rt) {
  return [&rt](int32_t id) {
    try {
      return rt.token_bytes(id);
    } catch (const std::exception&) {
      return std::string();
    }
  };
}
}  // namespace

json response_logprobs(const Runtime& rt, std::span<const TokenLogprob> lps, bool chat) {
  return chat ? chat_logprobs(lps, token_text_of(rt)) : completion_logprobs(lps, token_text_of(rt));
}

void StreamLogprobs::attach(json& chunk) {
  if (!on_ || !chunk.contains("choices") || chunk["choices"].empty()) return;
  if (chat_) {
    chunk["choices"][0]["logprobs"] = chat_logprobs(pending_, token_text_of(rt_));
  } else {
    chunk["choices"][0]["logprobs"] = completion_logprobs(pending_, token_text_of(rt_), offset_);
    for (const auto& t : pending_) offset_ += token_text_of(rt_)(t.token).size();
  }
  pending_.clear();
}

}  // namespace lp::serve
