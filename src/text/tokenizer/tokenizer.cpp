#include "text/tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "formats/gguf.h"
#include "text/tokenizer/tokenizer_impl.h"
#include "text/tokenizer/unicode.h"

namespace lp::text {

std::string utf8_lossy(std::string_view bytes) { return uni::lossy(bytes); }

Tokenizer::Impl::Impl(TokenizerModelData d) : data(std::move(d)) {
  const size_t n = data.tokens.size();
  if (data.token_types.size() < n) data.token_types.resize(n, TokenType::Normal);
  vocab.reserve(n * 2);
  for (size_t id = 0; id < n; ++id) {
    if (!data.tokens[id].empty()) vocab.try_emplace(data.tokens[id], static_cast<TokenId>(id));
  }
  added_index.assign(n, -1);
  for (size_t k = 0; k < data.added_tokens.size(); ++k) {
    const auto& t = data.added_tokens[k];
    if (t.id < 0 || static_cast<size_t>(t.id) >= n) fail("{}: added token '{}' has id {} outside the vocabulary", data.source, t.content, t.id);
    added_index[static_cast<size_t>(t.id)] = static_cast<int>(k);
    (t.normalized ? norm_matcher : raw_matcher).add(t.content, static_cast<int>(k));
  }
  normalizer = std::make_unique<Normalizer>(data.normalizers);
  pre = std::make_unique<PreTokenizer>(data.pre_tokenizers);
  model = std::make_unique<SubwordModel>(data, vocab);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_data(TokenizerModelData data) { return Tokenizer(std::make_unique<Impl>(std::move(data))); }

Tokenizer Tokenizer::load(const std::filesystem::path& model) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(model, ec)) {
    fs::path tj = model / "tokenizer.json";
    if (!fs::exists(tj)) fail("{}: no tokenizer.json in the model folder", model.string());
    return from_hf(tj);
  }
  if (model.extension() == ".json") return from_hf(model);
  return from_gguf(formats::GgufFile::open(model.string()));
}

// Text between added tokens: normalize, split on normalized added tokens, pre-tokenize, run the model.
void Tokenizer::Impl::encode_segment(std::string_view text, bool first_segment, bool parse_special,
                                     std::vector<TokenId>& out) const {
  std::string normalized = normalizer->empty() ? std::string(text) : normalizer->apply(std::string(text));
  std::vector<AddedTokenMatcher::Piece> pieces;
  if (norm_matcher.empty()) {
    pieces.push_back({0, normalized.size(), -1});
  } else {
    pieces = norm_matcher.split(normalized, data.added_tokens,
                                [&](int idx) { return !parse_special && data.added_tokens[idx].special; });
  }
  std::vector<std::string> words;
  for (const auto& p : pieces) {
    if (p.token_index >= 0) {
      out.push_back(data.added_tokens[static_cast<size_t>(p.token_index)].id);
      continue;
    }
    words.clear();
    pre->apply(std::string_view(normalized).substr(p.begin, p.end - p.begin), first_segment && p.begin == 0, words);
    for (const auto& w : words) model->encode_word(w, out);
  }
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, const EncodeOptions& opt) const {
  const Impl& im = *impl_;
  std::string repaired;
  for (size_t i = 0; i < text.size();) {
    size_t len = uni::valid_seq_len(text, i);
    if (!len) {  // invalid UTF-8: tokenize what Rust's from_utf8_lossy would see
      repaired = uni::lossy(text);
      text = repaired;
      break;
    }
    i += len;
  }
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  if (opt.add_special && im.data.add_bos && im.data.bos_id) out.push_back(*im.data.bos_id);
  auto pieces = im.raw_matcher.split(text, im.data.added_tokens,
                                     [&](int idx) { return !opt.parse_special && im.data.added_tokens[idx].special; });
  for (const auto& p : pieces) {
    if (p.token_index >= 0) {
      out.push_back(im.data.added_tokens[static_cast<size_t>(p.token_index)].id);
    } else {
      im.encode_segment(text.substr(p.begin, p.end - p.begin), p.begin == 0, opt.parse_special, out);
    }
  }
  if (opt.add_special && im.data.add_eos && im.data.eos_id) out.push_back(*im.data.eos_id);
  return out;
}

namespace {

bool parse_byte_token(std::string_view t, uint8_t* byte) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return false;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(t[3]), lo = hex(t[4]);
  if (hi < 0 || lo < 0) return false;
  *byte = static_cast<uint8_t>(hi * 16 + lo);
  return true;
}

// ByteLevel decoding of one token: GPT-2 chars back to bytes; a token with foreign chars keeps its bytes.
std::string byte_level_unmap(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  size_t i = 0;
  while (i < t.size()) {
    size_t len = uni::valid_seq_len(t, i);
    if (!len) return std::string(t);
    int b = uni::char_to_byte(uni::decode_at(t, i, len));
    if (b < 0) return std::string(t);
    out += static_cast<char>(b);
    i += len;
  }
  return out;
}

std::string replace_all_str(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  size_t pos = 0, hit;
  while ((hit = s.find(from, pos)) != std::string_view::npos) {
    out.append(s.substr(pos, hit - pos)).append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

std::string strip_chars(std::string_view t, std::string_view c, int start, int stop) {
  size_t b = 0, e = t.size();
  for (int k = 0; k < start && !c.empty() && t.substr(b, c.size()) == c && b + c.size() <= e; ++k) b += c.size();
  for (int k = 0; k < stop && !c.empty() && e >= b + c.size() && t.substr(e - c.size(), c.size()) == c; ++k)
    e -= c.size();
  return std::string(t.substr(b, e - b));
}

}  // namespace

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  const Impl& im = *impl_;
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (TokenId id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= im.data.tokens.size()) continue;  // HF drops unknown ids
    if (skip_special && is_special(id)) continue;
    toks.push_back(im.data.tokens[static_cast<size_t>(id)]);
  }
  if (im.data.decoders.empty()) {
    std::string out;
    for (size_t k = 0; k < toks.size(); ++k) out.append(k ? " " : "").append(toks[k]);
    return out;
  }
  using K = DecoderStep::Kind;
  for (const auto& st : im.data.decoders) {
    switch (st.kind) {
      case K::ByteLevel: {
        std::string bytes;
        for (auto& t : toks) bytes += byte_level_unmap(t);
        toks.assign(1, uni::lossy(bytes));
        break;
      }
      case K::Replace:
        for (auto& t : toks) t = replace_all_str(t, st.pattern, st.content);
        break;
      case K::ByteFallback: {
        std::vector<std::string> next;
        std::string pending;
        auto flush = [&] {
          if (pending.empty()) return;
          if (uni::lossy(pending) == pending) next.push_back(pending);
          else for (size_t k = 0; k < pending.size(); ++k) next.push_back("\xEF\xBF\xBD");
          pending.clear();
        };
        for (auto& t : toks) {
          uint8_t b;
          if (parse_byte_token(t, &b)) {
            pending += static_cast<char>(b);
          } else {
            flush();
            next.push_back(std::move(t));
          }
        }
        flush();
        toks = std::move(next);
        break;
      }
      case K::Fuse: {
        std::string all;
        for (auto& t : toks) all += t;
        toks.assign(1, std::move(all));
        break;
      }
      case K::Strip:
        for (auto& t : toks) t = strip_chars(t, st.content, st.strip_start, st.strip_stop);
        break;
      case K::Metaspace:
        for (size_t k = 0; k < toks.size(); ++k) {
          toks[k] = replace_all_str(toks[k], st.replacement, " ");
          if (k == 0 && st.prepend && !toks[k].empty() && toks[k][0] == ' ') toks[k].erase(0, 1);
        }
        break;
    }
  }
  std::string out;
  for (auto& t : toks) out += t;
  return out;
}

size_t Tokenizer::vocab_size() const { return impl_->data.tokens.size(); }

const std::string& Tokenizer::token_text(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->data.tokens.size())
    fail("tokenizer: token id {} outside the vocabulary (size {})", id, impl_->data.tokens.size());
  return impl_->data.tokens[static_cast<size_t>(id)];
}

std::optional<TokenId> Tokenizer::find_token(std::string_view text) const {
  auto it = impl_->vocab.find(text);
  if (it == impl_->vocab.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::is_special(TokenId id) const {
  const Impl& im = *impl_;
  if (id < 0 || static_cast<size_t>(id) >= im.data.tokens.size()) return false;
  int k = im.added_index[static_cast<size_t>(id)];
  if (k >= 0) return im.data.added_tokens[static_cast<size_t>(k)].special;
  return im.data.token_types[static_cast<size_t>(id)] == TokenType::Control;
}

std::optional<TokenId> Tokenizer::bos_id() const { return impl_->data.bos_id; }
std::optional<TokenId> Tokenizer::eos_id() const { return impl_->data.eos_id; }
std::optional<TokenId> Tokenizer::pad_id() const { return impl_->data.pad_id; }
std::vector<TokenId> Tokenizer::end_of_generation_ids() const {
  std::vector<TokenId> out;
  if (impl_->data.eos_id) out.push_back(*impl_->data.eos_id);
  static constexpr const char* kEnd[] = {"<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<|eot_id|>", "<|eom_id|>",
                                         "<|return|>", "<|call|>", "<|end|>", "<eos>", "</s>", "<|end_of_text|>"};
  for (const char* text : kEnd) {
    auto id = find_token(text);
    if (id && is_special(*id) && std::find(out.begin(), out.end(), *id) == out.end()) out.push_back(*id);
  }
  return out;
}

const std::string& Tokenizer::chat_template() const { return impl_->data.chat_template; }
const TokenizerModelData& Tokenizer::data() const { return impl_->data; }

std::string Tokenizer::token_bytes(TokenId id) const {
  const Impl& im = *impl_;
  if (id < 0 || static_cast<size_t>(id) >= im.data.tokens.size()) return {};
  std::string t = im.data.tokens[static_cast<size_t>(id)];
  using K = DecoderStep::Kind;
  for (const auto& st : im.data.decoders) {
    switch (st.kind) {
      case K::ByteLevel: t = byte_level_unmap(t); break;
      case K::Replace: t = replace_all_str(t, st.pattern, st.content); break;
      case K::ByteFallback: {
        uint8_t b;
        if (parse_byte_token(t, &b)) t.assign(1, static_cast<char>(b));
        break;
      }
      case K::Metaspace: t = replace_all_str(t, st.replacement, " "); break;
      case K::Fuse:
      case K::Strip: break;  // context-dependent; handled by StreamingDecoder via strips_leading_space()
    }
  }
  return t;
}

bool Tokenizer::strips_leading_space() const {
  bool fused = false;
  for (const auto& st : impl_->data.decoders) {
    if (st.kind == DecoderStep::Kind::Fuse) fused = true;
    if (st.kind == DecoderStep::Kind::Strip && fused && st.content == " " && st.strip_start > 0) return true;
    if (st.kind == DecoderStep::Kind::Metaspace && st.prepend) return true;
  }
  return false;
}

StreamingDecoder::StreamingDecoder(const Tokenizer& tok, bool skip_special) : tok_(&tok), skip_special_(skip_special) {}

void StreamingDecoder::reset() {
  first_ = true;
  pending_.clear();
}

std::string StreamingDecoder::push(TokenId id) {
  if (skip_special_ && tok_->is_special(id)) return {};
  std::string bytes = tok_->token_bytes(id);
  if (tok_->data().decoders.empty() && !first_) bytes.insert(bytes.begin(), ' ');
  if (first_ && !bytes.empty()) {
    if (tok_->strips_leading_space() && bytes[0] == ' ') bytes.erase(0, 1);
    first_ = false;
  }
  pending_ += bytes;
  size_t held = 0;
  std::string out = uni::lossy(pending_, /*hold_incomplete=*/true, &held);
  pending_.erase(0, pending_.size() - held);
  return out;
}

std::string StreamingDecoder::flush() {
  std::string out = uni::lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace lp::text
