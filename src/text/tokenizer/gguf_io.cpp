// GGUF tokenizer metadata: reading tokenizer.ggml.* into TokenizerModelData (llama.cpp semantics) and
// producing those keys from an HF tokenizer for the GGUF writer.
#include <fmt/format.h>

#include <limits>
#include <unordered_map>

#include "core/error.h"
#include "formats/gguf.h"
#include "text/tokenizer/tokenizer.h"

namespace lp::text {

// Not a llama.cpp key: records tokenizer.json's Unicode normalizer (llama.cpp has no such step).
constexpr const char* kNormalizerKey = "llama_pajamas.tokenizer.normalizer";


namespace {

DecoderStep decoder(DecoderStep::Kind k) {
  DecoderStep st;
  st.kind = k;
  return st;
}
NormalizerStep normalizer(NormalizerStep::Kind k, std::string pattern, std::string content) {
  NormalizerStep st;
  st.kind = k;
  st.pattern = std::move(pattern);
  st.content = std::move(content);
  return st;
}

constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Signature of a byte-level pre-tokenizer: the regexes it applies, in order ("<gpt2>" for ByteLevel's own).
std::vector<std::string> regex_signature(const TokenizerModelData& d, bool* plain) {
  std::vector<std::string> sig;
  *plain = true;
  for (const auto& st : d.pre_tokenizers) {
    using K = PreTokenizerStep::Kind;
    if (st.kind == K::Split) {
      if (!st.is_regex || st.invert || st.behavior != PreTokenizerStep::Behavior::Isolated) *plain = false;
      sig.push_back(st.pattern);
    } else if (st.kind == K::ByteLevel) {
      if (st.add_prefix_space) *plain = false;
      if (st.use_regex) sig.push_back(kGpt2);
    } else {
      *plain = false;  // Digits, Metaspace, ... have no llama.cpp name here
      sig.push_back("<step>");
    }
  }
  return sig;
}

struct KnownPre {
  const char* name;
  std::vector<std::string> regexes;
};

const std::vector<KnownPre>& known_pres() {
  static const std::vector<KnownPre> k = {
      {"qwen2", {kQwen2}},
      {"llama-bpe", {kLlama3}},
      {"gpt-4o", {kO200k}},
      {"gpt2", {kGpt2}},
  };
  return k;
}

// llama.cpp's fallback regex list for BPE vocabularies with an unknown/default pre-tokenizer.
const std::vector<std::string>& default_pre() {
  static const std::vector<std::string> v = {
      R"([\p{P}\$\+<=>\^~\|]+)",
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
      R"(\p{N}+)",
      R"([0-9][0-9][0-9])",
  };
  return v;
}

// convert_hf_to_gguf.py's does_token_look_special().
bool looks_special(std::string_view t) {
  auto starts = [&](std::string_view p) { return t.substr(0, p.size()) == p; };
  auto ends = [&](std::string_view p) { return t.size() >= p.size() && t.substr(t.size() - p.size()) == p; };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || (starts("<|") && ends("|>")) ||
         (starts("<\xEF\xBD\x9C") && ends("\xEF\xBD\x9C>")) || starts("<start_of_") || starts("<end_of_");
}

}  // namespace

std::vector<std::string> gguf_pre_regexes(std::string_view pre) {
  for (const auto& k : known_pres())
    if (pre == k.name) return k.regexes;
  if (pre == "llama3" || pre == "llama-v3") return {kLlama3};
  if (pre == "qwen35") return {};
  if (pre == "default") return default_pre();
  return {};
}

std::string detect_gguf_pre(const TokenizerModelData& d, std::string* warning) {
  if (warning) warning->clear();
  if (!d.byte_level) return "default";  // SPM-style vocabularies: llama.cpp ignores .pre
  bool plain = true;
  auto sig = regex_signature(d, &plain);
  if (plain)
    for (const auto& k : known_pres())
      if (sig == k.regexes) return k.name;
  if (warning) {
    std::string list;
    for (const auto& s : sig) list += (list.empty() ? "" : " ; ") + s;
    *warning = fmt::format(
        "tokenizer pre-tokenizer regex set is not one llama.cpp knows (regexes: {}); writing tokenizer.ggml.pre = "
        "\"default\", llama.cpp will split text differently from Hugging Face",
        list.empty() ? "<none>" : list);
  }
  return "default";
}

Tokenizer Tokenizer::from_gguf(const formats::GgufFile& g) {
  TokenizerModelData d;
  d.source = g.path();
  const std::string model = g.get_string_or("tokenizer.ggml.model", "");
  if (model.empty()) fail("{}: missing metadata key 'tokenizer.ggml.model'", g.path());
  if (model != "gpt2" && model != "llama")
    fail("{}: tokenizer.ggml.model '{}' is not supported (gpt2, llama)", g.path(), model);
  d.tokens = g.get("tokenizer.ggml.tokens").strings("tokenizer.ggml.tokens");
  const size_t n = d.tokens.size();
  if (n == 0) fail("{}: tokenizer.ggml.tokens is empty", g.path());
  d.token_types.assign(n, TokenType::Normal);
  if (const auto* tt = g.find("tokenizer.ggml.token_type")) {
    auto v = tt->as_i32_array("tokenizer.ggml.token_type");
    if (v.size() != n) fail("{}: tokenizer.ggml.token_type has {} entries, tokens has {}", g.path(), v.size(), n);
    for (size_t i = 0; i < n; ++i) {
      if (v[i] < 1 || v[i] > 6) fail("{}: tokenizer.ggml.token_type[{}] = {} is not a token type", g.path(), i, v[i]);
      d.token_types[i] = static_cast<TokenType>(v[i]);
    }
  }
  if (const auto* sc = g.find("tokenizer.ggml.scores")) {
    d.scores = sc->as_f32_array("tokenizer.ggml.scores");
    if (d.scores.size() != n) fail("{}: tokenizer.ggml.scores has {} entries, tokens has {}", g.path(), d.scores.size(), n);
  }
  auto opt_id = [&](const char* key) -> std::optional<TokenId> {
    const auto* v = g.find(key);
    if (!v) return std::nullopt;
    uint32_t id = v->as_u32(key);
    if (id >= n) return std::nullopt;  // llama.cpp treats out-of-range ids as absent
    return static_cast<TokenId>(id);
  };
  d.bos_id = opt_id("tokenizer.ggml.bos_token_id");
  d.eos_id = opt_id("tokenizer.ggml.eos_token_id");
  d.pad_id = opt_id("tokenizer.ggml.padding_token_id");
  d.unk_id = opt_id("tokenizer.ggml.unknown_token_id");
  d.chat_template = g.get_string_or("tokenizer.chat_template", "");

  using NK = NormalizerStep::Kind;
  using DK = DecoderStep::Kind;
  if (model == "gpt2") {
    d.kind = ModelKind::Bpe;
    d.byte_level = true;
    const auto& merges = g.get("tokenizer.ggml.merges").strings("tokenizer.ggml.merges");
    d.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      size_t sp = merges[i].find(' ', 1);
      if (sp == std::string::npos) fail("{}: tokenizer.ggml.merges[{}] = '{}' is not \"a b\"", g.path(), i, merges[i]);
      d.merges.emplace_back(merges[i].substr(0, sp), merges[i].substr(sp + 1));
    }
    d.gguf_pre = g.get_string_or("tokenizer.ggml.pre", "default");
    auto regexes = gguf_pre_regexes(d.gguf_pre);
    if (regexes.empty()) fail("{}: tokenizer.ggml.pre '{}' is not supported", g.path(), d.gguf_pre);
    for (const auto& r : regexes) {
      PreTokenizerStep st;
      st.kind = PreTokenizerStep::Kind::Split;
      st.pattern = r;
      d.pre_tokenizers.push_back(st);
    }
    PreTokenizerStep bl;
    bl.kind = PreTokenizerStep::Kind::ByteLevel;
    bl.use_regex = false;
    d.pre_tokenizers.push_back(bl);
    d.ignore_merges = d.gguf_pre == "llama-bpe" || d.gguf_pre == "llama3" || d.gguf_pre == "llama-v3";
    d.decoders.push_back(decoder(DK::ByteLevel));
    d.add_bos = g.get_bool_or("tokenizer.ggml.add_bos_token", false);
    // Our extension key (llama.cpp ignores it): the Unicode normalization tokenizer.json applies before the
    // pre-tokenizer, so a GGUF we wrote tokenizes exactly like the tokenizer.json it came from.
    const std::string norm = g.get_string_or(kNormalizerKey, "");
    if (norm == "NFC") d.normalizers.push_back(normalizer(NK::Nfc, "", ""));
    else if (norm == "NFKC") d.normalizers.push_back(normalizer(NK::Nfkc, "", ""));
    else if (norm == "NFD") d.normalizers.push_back(normalizer(NK::Nfd, "", ""));
    else if (norm == "NFKD") d.normalizers.push_back(normalizer(NK::Nfkd, "", ""));
    else if (!norm.empty()) fail("{}: {} '{}' is not NFC, NFKC, NFD or NFKD", g.path(), kNormalizerKey, norm);
  } else {
    d.kind = ModelKind::Spm;
    d.byte_fallback = true;
    if (d.scores.empty()) fail("{}: tokenizer.ggml.scores is required for tokenizer.ggml.model 'llama'", g.path());
    bool space_prefix = g.get_bool_or("tokenizer.ggml.add_space_prefix", true);
    if (space_prefix) d.normalizers.push_back(normalizer(NK::Prepend, "", "\xE2\x96\x81"));
    d.normalizers.push_back(normalizer(NK::Replace, " ", "\xE2\x96\x81"));
    DecoderStep rep = decoder(DK::Replace);
    rep.pattern = "\xE2\x96\x81";
    rep.content = " ";
    d.decoders.push_back(rep);
    d.decoders.push_back(decoder(DK::ByteFallback));
    d.decoders.push_back(decoder(DK::Fuse));
    if (space_prefix) {
      DecoderStep strip = decoder(DK::Strip);
      strip.content = " ";
      strip.strip_start = 1;
      d.decoders.push_back(strip);
    }
    d.add_bos = g.get_bool_or("tokenizer.ggml.add_bos_token", true);
  }
  d.add_eos = g.get_bool_or("tokenizer.ggml.add_eos_token", false);
  // Control, user-defined and unknown tokens are matched in text before the model runs (llama.cpp).
  for (size_t i = 0; i < n; ++i) {
    TokenType t = d.token_types[i];
    if (t != TokenType::Control && t != TokenType::UserDefined && t != TokenType::Unknown) continue;
    AddedToken a;
    a.id = static_cast<TokenId>(i);
    a.content = d.tokens[i];
    a.special = t != TokenType::UserDefined;
    d.added_tokens.push_back(std::move(a));
  }
  return from_data(std::move(d));
}

GgufTokenizerMeta gguf_tokenizer_metadata(const Tokenizer& tok) {
  const TokenizerModelData& d = tok.data();
  GgufTokenizerMeta meta;
  auto put = [&](std::string key, formats::GgufValue v) { meta.entries.push_back({std::move(key), std::move(v)}); };
  const bool spm = !d.byte_level;
  put("tokenizer.ggml.model", std::string(spm ? "llama" : "gpt2"));
  std::string warning;
  put("tokenizer.ggml.pre", spm ? std::string("default") : detect_gguf_pre(d, &warning));
  if (!warning.empty()) meta.warnings.push_back(warning);

  std::vector<std::string> tokens(d.tokens.size());
  std::vector<int32_t> types(d.tokens.size());
  for (size_t i = 0; i < d.tokens.size(); ++i) {
    tokens[i] = d.tokens[i].empty() ? fmt::format("[PAD{}]", i) : d.tokens[i];
    types[i] = static_cast<int32_t>(i < d.token_types.size() ? d.token_types[i] : TokenType::Normal);
    // llama.cpp's converter also marks added tokens that look like control tokens as control.
    if (types[i] == static_cast<int32_t>(TokenType::UserDefined) && looks_special(tokens[i]))
      types[i] = static_cast<int32_t>(TokenType::Control);
  }
  put("tokenizer.ggml.tokens", std::move(tokens));
  put("tokenizer.ggml.token_type", std::move(types));

  if (spm) {
    // llama.cpp's SPM merges the pair whose concatenation scores highest; a token's score is minus the
    // rank of the first merge producing it, which replays HF's merge order.
    std::vector<float> scores(d.tokens.size(), -1e9f);
    if (!d.scores.empty() && d.scores.size() == d.tokens.size()) {
      scores = d.scores;
    } else {
      std::unordered_map<std::string, int32_t> rank_of;
      rank_of.reserve(d.merges.size());
      for (size_t r = 0; r < d.merges.size(); ++r)
        rank_of.try_emplace(d.merges[r].first + d.merges[r].second, static_cast<int32_t>(r));
      for (size_t i = 0; i < d.tokens.size(); ++i) {
        auto it = rank_of.find(d.tokens[i]);
        if (it != rank_of.end()) scores[i] = -static_cast<float>(it->second);
        else if (d.tokens[i].size() <= 4) scores[i] = 0.0f;  // single characters
      }
    }
    put("tokenizer.ggml.scores", std::move(scores));
    bool prefix = false;
    for (const auto& st : d.normalizers) prefix |= st.kind == NormalizerStep::Kind::Prepend;
    for (const auto& st : d.pre_tokenizers)
      prefix |= st.kind == PreTokenizerStep::Kind::Metaspace && st.prepend_scheme != "never";
    put("tokenizer.ggml.add_space_prefix", prefix);
  } else {
    std::vector<std::string> merges;
    merges.reserve(d.merges.size());
    for (const auto& [a, b] : d.merges) merges.push_back(a + " " + b);
    put("tokenizer.ggml.merges", std::move(merges));
    for (const auto& st : d.normalizers) {
      using NK = NormalizerStep::Kind;
      const char* form = st.kind == NK::Nfc ? "NFC" : st.kind == NK::Nfkc ? "NFKC" : st.kind == NK::Nfd ? "NFD" : st.kind == NK::Nfkd ? "NFKD" : nullptr;
      if (form) {
        put(kNormalizerKey, std::string(form));
        break;
      }
    }
  }
  if (d.bos_id) put("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*d.bos_id));
  if (d.eos_id) put("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*d.eos_id));
  if (d.unk_id) put("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(*d.unk_id));
  if (d.pad_id) put("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(*d.pad_id));
  put("tokenizer.ggml.add_bos_token", d.add_bos);
  put("tokenizer.ggml.add_eos_token", d.add_eos);
  if (!d.chat_template.empty()) put("tokenizer.chat_template", d.chat_template);
  return meta;
}

}  // namespace lp::text
