// tokenizer.json (+ tokenizer_config.json) -> TokenizerModelData. Every structural problem is an
// lp::Error naming the file and the JSON field.
#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "text/tokenizer/tokenizer.h"

namespace lp::text {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxVocab = 16u << 20;  // sanity bound on ids from untrusted files

struct Ctx {
  std::string file;
  [[noreturn]] void bad(const std::string& field, const std::string& what) const {
    fail("{}: field '{}': {}", file, field, what);
  }
  const json& obj(const json& j, const std::string& field) const {
    if (!j.is_object()) bad(field, fmt::format("expected an object, got {}", j.type_name()));
    return j;
  }
  const json* get(const json& j, const char* key) const {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  std::string str(const json& j, const char* key, const std::string& path, const std::string& def = {}) const {
    const json* v = get(j, key);
    if (!v) return def;
    if (!v->is_string()) bad(path + "." + key, fmt::format("expected a string, got {}", v->type_name()));
    return v->get<std::string>();
  }
  std::string req_str(const json& j, const char* key, const std::string& path) const {
    const json* v = get(j, key);
    if (!v) bad(path + "." + key, "missing");
    return str(j, key, path);
  }
  bool boolean(const json& j, const char* key, const std::string& path, bool def) const {
    const json* v = get(j, key);
    if (!v) return def;
    if (!v->is_boolean()) bad(path + "." + key, fmt::format("expected a boolean, got {}", v->type_name()));
    return v->get<bool>();
  }
  int64_t integer(const json& j, const char* key, const std::string& path, int64_t def) const {
    const json* v = get(j, key);
    if (!v) return def;
    if (!v->is_number_integer()) bad(path + "." + key, fmt::format("expected an integer, got {}", v->type_name()));
    return v->get<int64_t>();
  }
  TokenId id(const json& v, const std::string& path) const {
    if (!v.is_number_integer()) bad(path, fmt::format("expected a token id, got {}", v.type_name()));
    int64_t x = v.get<int64_t>();
    if (x < 0 || static_cast<size_t>(x) >= kMaxVocab) bad(path, fmt::format("token id {} out of range", x));
    return static_cast<TokenId>(x);
  }
  // Split/Replace patterns: {"String": "..."} or {"Regex": "..."}.
  std::pair<std::string, bool> pattern(const json& j, const std::string& path) const {
    const json* p = get(j, "pattern");
    if (!p || !p->is_object()) bad(path + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
    if (auto s = get(*p, "String")) {
      if (!s->is_string()) bad(path + ".pattern.String", "expected a string");
      return {s->get<std::string>(), false};
    }
    if (auto r = get(*p, "Regex")) {
      if (!r->is_string()) bad(path + ".pattern.Regex", "expected a string");
      return {r->get<std::string>(), true};
    }
    bad(path + ".pattern", "expected {\"String\": ...} or {\"Regex\": ...}");
  }
};

void parse_normalizer(const Ctx& c, const json& j, const std::string& path, std::vector<NormalizerStep>& out) {
  c.obj(j, path);
  std::string type = c.req_str(j, "type", path);
  using K = NormalizerStep::Kind;
  NormalizerStep st;
  if (type == "Sequence") {
    const json* list = c.get(j, "normalizers");
    if (!list || !list->is_array()) c.bad(path + ".normalizers", "expected an array");
    for (size_t k = 0; k < list->size(); ++k) parse_normalizer(c, (*list)[k], fmt::format("{}.normalizers[{}]", path, k), out);
    return;
  }
  if (type == "NFC") st.kind = K::Nfc;
  else if (type == "NFKC") st.kind = K::Nfkc;
  else if (type == "NFD") st.kind = K::Nfd;
  else if (type == "NFKD") st.kind = K::Nfkd;
  else if (type == "Lowercase") st.kind = K::Lowercase;
  else if (type == "Prepend") {
    st.kind = K::Prepend;
    st.content = c.req_str(j, "prepend", path);
  } else if (type == "Replace") {
    st.kind = K::Replace;
    std::tie(st.pattern, st.is_regex) = c.pattern(j, path);
    st.content = c.req_str(j, "content", path);
  } else if (type == "Strip") {
    st.kind = K::Strip;
    st.strip_left = c.boolean(j, "strip_left", path, true);
    st.strip_right = c.boolean(j, "strip_right", path, true);
  } else {
    c.bad(path + ".type", fmt::format("unsupported normalizer '{}'", type));
  }
  out.push_back(std::move(st));
}

PreTokenizerStep::Behavior parse_behavior(const Ctx& c, const std::string& b, const std::string& path) {
  using B = PreTokenizerStep::Behavior;
  if (b == "Removed") return B::Removed;
  if (b == "Isolated") return B::Isolated;
  if (b == "MergedWithPrevious") return B::MergedWithPrevious;
  if (b == "MergedWithNext") return B::MergedWithNext;
  if (b == "Contiguous") return B::Contiguous;
  c.bad(path, fmt::format("unknown split behavior '{}'", b));
}

std::string prepend_scheme(const Ctx& c, const json& j, const std::string& path) {
  std::string scheme = c.str(j, "prepend_scheme", path, "");
  if (scheme.empty()) scheme = c.boolean(j, "add_prefix_space", path, true) ? "always" : "never";
  if (scheme != "always" && scheme != "first" && scheme != "never")
    c.bad(path + ".prepend_scheme", fmt::format("unknown value '{}'", scheme));
  return scheme;
}

std::string replacement(const Ctx& c, const json& j, const std::string& path) {
  std::string r = c.str(j, "replacement", path, "\xE2\x96\x81");
  if (r.empty()) c.bad(path + ".replacement", "empty");
  return r;
}

void parse_pre(const Ctx& c, const json& j, const std::string& path, std::vector<PreTokenizerStep>& out) {
  c.obj(j, path);
  std::string type = c.req_str(j, "type", path);
  using K = PreTokenizerStep::Kind;
  PreTokenizerStep st;
  if (type == "Sequence") {
    const json* list = c.get(j, "pretokenizers");
    if (!list || !list->is_array()) c.bad(path + ".pretokenizers", "expected an array");
    for (size_t k = 0; k < list->size(); ++k) parse_pre(c, (*list)[k], fmt::format("{}.pretokenizers[{}]", path, k), out);
    return;
  }
  if (type == "Split") {
    st.kind = K::Split;
    std::tie(st.pattern, st.is_regex) = c.pattern(j, path);
    st.behavior = parse_behavior(c, c.req_str(j, "behavior", path), path + ".behavior");
    st.invert = c.boolean(j, "invert", path, false);
  } else if (type == "ByteLevel") {
    st.kind = K::ByteLevel;
    st.add_prefix_space = c.boolean(j, "add_prefix_space", path, true);
    st.use_regex = c.boolean(j, "use_regex", path, true);
  } else if (type == "Digits") {
    st.kind = K::Digits;
    st.individual_digits = c.boolean(j, "individual_digits", path, false);
  } else if (type == "Metaspace") {
    st.kind = K::Metaspace;
    st.replacement = replacement(c, j, path);
    st.prepend_scheme = prepend_scheme(c, j, path);
    st.split = c.boolean(j, "split", path, true);
  } else if (type == "Whitespace") {
    st.kind = K::Whitespace;
  } else if (type == "WhitespaceSplit") {
    st.kind = K::WhitespaceSplit;
  } else {
    c.bad(path + ".type", fmt::format("unsupported pre-tokenizer '{}'", type));
  }
  out.push_back(std::move(st));
}

void parse_decoder(const Ctx& c, const json& j, const std::string& path, std::vector<DecoderStep>& out) {
  c.obj(j, path);
  std::string type = c.req_str(j, "type", path);
  using K = DecoderStep::Kind;
  DecoderStep st;
  if (type == "Sequence") {
    const json* list = c.get(j, "decoders");
    if (!list || !list->is_array()) c.bad(path + ".decoders", "expected an array");
    for (size_t k = 0; k < list->size(); ++k) parse_decoder(c, (*list)[k], fmt::format("{}.decoders[{}]", path, k), out);
    return;
  }
  if (type == "ByteLevel") st.kind = K::ByteLevel;
  else if (type == "ByteFallback") st.kind = K::ByteFallback;
  else if (type == "Fuse") st.kind = K::Fuse;
  else if (type == "Replace") {
    st.kind = K::Replace;
    bool is_regex;
    std::tie(st.pattern, is_regex) = c.pattern(j, path);
    if (is_regex) c.bad(path + ".pattern", "regex Replace decoders are not supported");
    st.content = c.req_str(j, "content", path);
  } else if (type == "Strip") {
    st.kind = K::Strip;
    st.content = c.req_str(j, "content", path);
    st.strip_start = static_cast<int>(c.integer(j, "start", path, 0));
    st.strip_stop = static_cast<int>(c.integer(j, "stop", path, 0));
  } else if (type == "Metaspace") {
    st.kind = K::Metaspace;
    st.replacement = replacement(c, j, path);
    st.prepend = prepend_scheme(c, j, path) != "never";
  } else {
    c.bad(path + ".type", fmt::format("unsupported decoder '{}'", type));
  }
  out.push_back(std::move(st));
}

json parse_json(std::string_view text, const std::string& name) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", name, e.what());
  }
}

using lp::read_file;

// bos_token / eos_token entries: "text" or {"content": "text", ...}.
std::optional<std::string> config_token(const Ctx& c, const json& cfg, const char* key) {
  const json* v = c.get(cfg, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) return c.req_str(*v, "content", key);
  c.bad(key, "expected a string or an object with 'content'");
}

void apply_post_processor(const Ctx& c, const json& pp, const std::string& path, TokenizerModelData& d,
                          const std::function<std::optional<TokenId>(const std::string&)>& find) {
  std::string type = c.req_str(pp, "type", path);
  if (type == "Sequence") {
    const json* list = c.get(pp, "processors");
    if (!list || !list->is_array()) c.bad(path + ".processors", "expected an array");
    for (size_t k = 0; k < list->size(); ++k)
      apply_post_processor(c, (*list)[k], fmt::format("{}.processors[{}]", path, k), d, find);
    return;
  }
  if (type != "TemplateProcessing") return;  // ByteLevel/others add nothing for single sequences we support
  const json* single = c.get(pp, "single");
  if (!single || !single->is_array()) c.bad(path + ".single", "expected an array");
  bool seen_sequence = false;
  d.add_bos = d.add_eos = false;
  for (size_t k = 0; k < single->size(); ++k) {
    const json& item = (*single)[k];
    std::string ipath = fmt::format("{}.single[{}]", path, k);
    c.obj(item, ipath);
    if (c.get(item, "Sequence")) {
      seen_sequence = true;
      continue;
    }
    const json* sp = c.get(item, "SpecialToken");
    if (!sp) c.bad(ipath, "expected Sequence or SpecialToken");
    std::string name = c.req_str(*sp, "id", ipath + ".SpecialToken");
    std::optional<TokenId> id;
    if (const json* st = c.get(pp, "special_tokens"); st && st->is_object()) {
      if (const json* entry = c.get(*st, name.c_str()); entry && entry->is_object()) {
        const json* ids = c.get(*entry, "ids");
        if (ids && ids->is_array() && ids->size() == 1) id = c.id((*ids)[0], path + ".special_tokens." + name + ".ids[0]");
      }
    }
    if (!id) id = find(name);
    if (!id) c.bad(ipath, fmt::format("special token '{}' is not in the vocabulary", name));
    if (!seen_sequence) {
      d.add_bos = true;
      d.bos_id = *id;
    } else {
      d.add_eos = true;
      if (!d.eos_id) d.eos_id = *id;
    }
  }
}

}  // namespace

namespace {
Tokenizer load_hf(std::string_view tokenizer_json, std::string_view tokenizer_config, const std::string& tok_name,
                  const std::string& cfg_name, std::string chat_template_file);
}

Tokenizer Tokenizer::from_hf(const std::filesystem::path& tokenizer_json, const std::filesystem::path& tokenizer_config) {
  std::string tj = read_file(tokenizer_json);
  std::filesystem::path cfg_path = tokenizer_config;
  if (cfg_path.empty()) {
    auto sibling = tokenizer_json.parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(sibling)) cfg_path = sibling;
  }
  std::string cfg = cfg_path.empty() ? std::string() : read_file(cfg_path);
  // Newer checkpoints keep the template in its own file.
  std::string jinja;
  auto jinja_path = tokenizer_json.parent_path() / "chat_template.jinja";
  if (std::filesystem::exists(jinja_path)) jinja = read_file(jinja_path);
  return load_hf(tj, cfg, tokenizer_json.string(), cfg_path.string(), std::move(jinja));
}

Tokenizer Tokenizer::from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config, std::string name) {
  return load_hf(tokenizer_json, tokenizer_config, name, "tokenizer_config.json", {});
}

namespace {
Tokenizer load_hf_checked(std::string_view tokenizer_json, std::string_view tokenizer_config, const std::string& tok_name,
                          const std::string& cfg_name, std::string chat_template_file);
}

namespace {
// A JSON access this loader did not foresee still becomes an lp::Error naming the file.
Tokenizer load_hf(std::string_view tokenizer_json, std::string_view tokenizer_config, const std::string& tok_name,
                  const std::string& cfg_name, std::string chat_template_file) {
  try {
    return load_hf_checked(tokenizer_json, tokenizer_config, tok_name, cfg_name, std::move(chat_template_file));
  } catch (const json::exception& e) {
    fail("{}: malformed tokenizer: {}", tok_name, e.what());
  }
}

Tokenizer load_hf_checked(std::string_view tokenizer_json, std::string_view tokenizer_config, const std::string& tok_name,
                          const std::string& cfg_name, std::string chat_template_file) {
  Ctx c{tok_name};
  json root = parse_json(tokenizer_json, tok_name);
  c.obj(root, "<root>");
  TokenizerModelData d;
  d.source = tok_name;

  const json* model = c.get(root, "model");
  if (!model) c.bad("model", "missing");
  c.obj(*model, "model");
  std::string mtype = c.str(*model, "type", "model", "BPE");
  if (mtype != "BPE") c.bad("model.type", fmt::format("unsupported model type '{}' (only BPE)", mtype));
  const json* vocab = c.get(*model, "vocab");
  if (!vocab || !vocab->is_object()) c.bad("model.vocab", "expected an object of token -> id");
  size_t n = 0;
  for (auto it = vocab->begin(); it != vocab->end(); ++it)
    n = std::max(n, static_cast<size_t>(c.id(it.value(), "model.vocab[\"" + it.key() + "\"]")) + 1);
  const json* added = c.get(root, "added_tokens");
  if (added && !added->is_array()) c.bad("added_tokens", "expected an array");
  if (added)
    for (size_t k = 0; k < added->size(); ++k) {
      std::string p = fmt::format("added_tokens[{}]", k);
      c.obj((*added)[k], p);
      const json* idv = c.get((*added)[k], "id");
      if (!idv) c.bad(p + ".id", "missing");
      n = std::max(n, static_cast<size_t>(c.id(*idv, p + ".id")) + 1);
    }
  d.tokens.assign(n, std::string());
  d.token_types.assign(n, TokenType::Unused);
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    auto id = static_cast<size_t>(it.value().get<int64_t>());
    d.tokens[id] = it.key();
    d.token_types[id] = TokenType::Normal;
  }
  if (const json* merges = c.get(*model, "merges")) {
    if (!merges->is_array()) c.bad("model.merges", "expected an array");
    d.merges.reserve(merges->size());
    for (size_t k = 0; k < merges->size(); ++k) {
      const json& m = (*merges)[k];
      if (m.is_string()) {
        const std::string& s = m.get_ref<const std::string&>();
        size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          c.bad(fmt::format("model.merges[{}]", k), fmt::format("expected \"a b\", got \"{}\"", s));
        d.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        d.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        c.bad(fmt::format("model.merges[{}]", k), "expected \"a b\" or [\"a\", \"b\"]");
      }
    }
  }
  d.byte_fallback = c.boolean(*model, "byte_fallback", "model", false);
  d.ignore_merges = c.boolean(*model, "ignore_merges", "model", false);
  d.fuse_unk = c.boolean(*model, "fuse_unk", "model", false);
  if (std::string unk = c.str(*model, "unk_token", "model"); !unk.empty()) {
    auto it = vocab->find(unk);
    if (it == vocab->end()) c.bad("model.unk_token", fmt::format("'{}' is not in model.vocab", unk));
    d.unk_id = static_cast<TokenId>(it->get<int64_t>());
  }
  if (c.get(*model, "continuing_subword_prefix") && !c.str(*model, "continuing_subword_prefix", "model").empty())
    c.bad("model.continuing_subword_prefix", "not supported");
  if (c.get(*model, "end_of_word_suffix") && !c.str(*model, "end_of_word_suffix", "model").empty())
    c.bad("model.end_of_word_suffix", "not supported");

  if (added)
    for (size_t k = 0; k < added->size(); ++k) {
      const json& a = (*added)[k];
      std::string p = fmt::format("added_tokens[{}]", k);
      AddedToken t;
      t.id = c.id(a["id"], p + ".id");
      t.content = c.req_str(a, "content", p);
      t.special = c.boolean(a, "special", p, false);
      t.lstrip = c.boolean(a, "lstrip", p, false);
      t.rstrip = c.boolean(a, "rstrip", p, false);
      t.normalized = c.boolean(a, "normalized", p, !t.special);
      t.single_word = c.boolean(a, "single_word", p, false);
      auto id = static_cast<size_t>(t.id);
      if (d.tokens[id].empty()) d.tokens[id] = t.content;
      d.token_types[id] = t.special ? TokenType::Control : TokenType::UserDefined;
      d.added_tokens.push_back(std::move(t));
    }
  if (d.unk_id) d.token_types[static_cast<size_t>(*d.unk_id)] = TokenType::Unknown;
  if (d.byte_fallback)
    for (size_t id = 0; id < n; ++id) {
      const std::string& t = d.tokens[id];
      if (d.token_types[id] == TokenType::Normal && t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>')
        d.token_types[id] = TokenType::Byte;
    }

  if (const json* norm = c.get(root, "normalizer")) parse_normalizer(c, *norm, "normalizer", d.normalizers);
  if (const json* pre = c.get(root, "pre_tokenizer")) parse_pre(c, *pre, "pre_tokenizer", d.pre_tokenizers);
  if (const json* dec = c.get(root, "decoder")) parse_decoder(c, *dec, "decoder", d.decoders);
  for (const auto& st : d.pre_tokenizers) d.byte_level |= st.kind == PreTokenizerStep::Kind::ByteLevel;
  for (const auto& st : d.decoders) d.byte_level |= st.kind == DecoderStep::Kind::ByteLevel;

  auto find = [&](const std::string& text) -> std::optional<TokenId> {
    for (const auto& t : d.added_tokens)
      if (t.content == text) return t.id;
    auto it = vocab->find(text);
    if (it != vocab->end()) return static_cast<TokenId>(it->get<int64_t>());
    return std::nullopt;
  };
  bool template_pp = false;
  if (const json* pp = c.get(root, "post_processor")) {
    c.obj(*pp, "post_processor");
    apply_post_processor(c, *pp, "post_processor", d, find);
    template_pp = d.add_bos || d.add_eos;
    if (!template_pp) {
      std::string t = c.req_str(*pp, "type", "post_processor");
      template_pp = t == "TemplateProcessing";
    }
  }

  if (!tokenizer_config.empty()) {
    Ctx cc{cfg_name};
    json cfg = parse_json(tokenizer_config, cfg_name);
    cc.obj(cfg, "<root>");
    auto resolve = [&](const char* key) -> std::optional<TokenId> {
      auto text = config_token(cc, cfg, key);
      if (!text) return std::nullopt;
      auto id = find(*text);
      if (!id) cc.bad(key, fmt::format("token '{}' is not in the vocabulary", *text));
      return id;
    };
    if (auto id = resolve("bos_token")) d.bos_id = id;
    if (auto id = resolve("eos_token")) d.eos_id = id;
    if (auto id = resolve("pad_token")) d.pad_id = id;
    if (!template_pp) {
      // Without a TemplateProcessing post-processor, slow-tokenizer style flags decide.
      d.add_bos = cc.boolean(cfg, "add_bos_token", "<root>", false) && d.bos_id;
      d.add_eos = cc.boolean(cfg, "add_eos_token", "<root>", false) && d.eos_id;
    }
    if (const json* ct = cc.get(cfg, "chat_template")) {
      if (ct->is_string()) {
        d.chat_template = ct->get<std::string>();
      } else if (ct->is_array()) {
        for (size_t k = 0; k < ct->size(); ++k) {
          const json& e = (*ct)[k];
          std::string p = fmt::format("chat_template[{}]", k);
          cc.obj(e, p);
          if (cc.str(e, "name", p) == "default") d.chat_template = cc.req_str(e, "template", p);
        }
      } else {
        cc.bad("chat_template", "expected a string or a list of {name, template}");
      }
    }
  }
  if (!chat_template_file.empty()) d.chat_template = std::move(chat_template_file);
  return Tokenizer::from_data(std::move(d));
}
}  // namespace

}  // namespace lp::text
