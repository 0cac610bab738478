#include "text/tokenizer/pipeline.h"

#include <algorithm>

#include "core/error.h"
#include "text/tokenizer/unicode.h"

namespace lp::text {

namespace {

// GPT-2's regex, applied by the ByteLevel pre-tokenizer when use_regex is set.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// HF Whitespace pre-tokenizer.
constexpr const char* kWhitespacePattern = R"(\w+|[^\w\s]+)";

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos)).append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

void literal_matches(std::string_view s, std::string_view pat, std::vector<std::pair<size_t, size_t>>& out) {
  if (pat.empty()) return;
  size_t pos = 0;
  while ((pos = s.find(pat, pos)) != std::string_view::npos) {
    out.emplace_back(pos, pos + pat.size());
    pos += pat.size();
  }
}

// Ranges of characters satisfying `pred`, one per character.
template <typename Pred>
void char_matches(std::string_view s, Pred pred, std::vector<std::pair<size_t, size_t>>& out) {
  size_t i = 0;
  while (i < s.size()) {
    size_t len = uni::valid_seq_len(s, i);
    if (!len) len = 1;
    char32_t cp = uni::decode_at(s, i, len);
    if (pred(cp)) out.emplace_back(i, i + len);
    i += len;
  }
}

}  // namespace

std::string byte_level_map(std::string_view bytes) {
  const auto& table = uni::byte_to_chars();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += table[static_cast<uint8_t>(c)];
  return out;
}

void split_with_behavior(std::string_view s, const std::vector<std::pair<size_t, size_t>>& matches,
                         PreTokenizerStep::Behavior behavior, bool invert, std::vector<std::string>& out) {
  using B = PreTokenizerStep::Behavior;
  struct Seg { size_t b, e; bool m; };
  std::vector<Seg> segs;
  segs.reserve(matches.size() * 2 + 1);
  size_t pos = 0;
  for (auto [b, e] : matches) {
    if (b > pos) segs.push_back({pos, b, invert});
    segs.push_back({b, e, !invert});
    pos = e;
  }
  if (pos < s.size()) segs.push_back({pos, s.size(), invert});

  std::vector<std::pair<size_t, size_t>> ranges;
  ranges.reserve(segs.size());
  bool prev_match = false;
  switch (behavior) {
    case B::Removed:
      for (auto& g : segs)
        if (!g.m) ranges.emplace_back(g.b, g.e);
      break;
    case B::Isolated:
      for (auto& g : segs) ranges.emplace_back(g.b, g.e);
      break;
    case B::MergedWithPrevious:
      for (auto& g : segs) {
        if (g.m && !prev_match && !ranges.empty()) ranges.back().second = g.e;
        else ranges.emplace_back(g.b, g.e);
        prev_match = g.m;
      }
      break;
    case B::MergedWithNext:
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->m && !prev_match && !ranges.empty()) ranges.back().first = it->b;
        else ranges.emplace_back(it->b, it->e);
        prev_match = it->m;
      }
      std::reverse(ranges.begin(), ranges.end());
      break;
    case B::Contiguous:
      for (size_t k = 0; k < segs.size(); ++k) {
        if (k > 0 && segs[k].m == prev_match) ranges.back().second = segs[k].e;
        else ranges.emplace_back(segs[k].b, segs[k].e);
        prev_match = segs[k].m;
      }
      break;
  }
  for (auto [b, e] : ranges)
    if (e > b) out.emplace_back(s.substr(b, e - b));
}

Normalizer::Normalizer(const std::vector<NormalizerStep>& steps) : steps_(steps) {
  for (auto& st : steps_) {
    regexes_.push_back(st.kind == NormalizerStep::Kind::Replace && st.is_regex ? std::make_unique<Regex>(st.pattern)
                                                                              : nullptr);
  }
}

std::string Normalizer::apply(std::string s) const {
  using K = NormalizerStep::Kind;
  for (size_t k = 0; k < steps_.size(); ++k) {
    const auto& st = steps_[k];
    switch (st.kind) {
      case K::Nfc: s = uni::normalize(s, uni::NormForm::Nfc); break;
      case K::Nfkc: s = uni::normalize(s, uni::NormForm::Nfkc); break;
      case K::Nfd: s = uni::normalize(s, uni::NormForm::Nfd); break;
      case K::Nfkd: s = uni::normalize(s, uni::NormForm::Nfkd); break;
      case K::Lowercase: s = uni::to_lower(s); break;
      case K::Prepend:
        if (!s.empty()) s = st.content + s;
        break;
      case K::Replace:
        if (regexes_[k]) {
          std::vector<std::pair<size_t, size_t>> m;
          regexes_[k]->find_all(s, m);
          std::string out;
          size_t pos = 0;
          for (auto [b, e] : m) {
            out.append(s, pos, b - pos).append(st.content);
            pos = e;
          }
          out.append(s, pos, std::string::npos);
          s = std::move(out);
        } else {
          s = replace_all(s, st.pattern, st.content);
        }
        break;
      case K::Strip: {
        size_t b = 0, e = s.size();
        if (st.strip_left) {
          while (b < e) {
            size_t len = uni::valid_seq_len(s, b);
            if (!len || !uni::is_whitespace(uni::decode_at(s, b, len))) break;
            b += len;
          }
        }
        if (st.strip_right) {
          while (e > b) {
            size_t start = e - 1;
            while (start > b && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
            size_t len = uni::valid_seq_len(s, start);
            if (!len || !uni::is_whitespace(uni::decode_at(s, start, len))) break;
            e = start;
          }
        }
        s = s.substr(b, e - b);
        break;
      }
    }
  }
  return s;
}

PreTokenizer::PreTokenizer(const std::vector<PreTokenizerStep>& steps) {
  using K = PreTokenizerStep::Kind;
  for (const auto& st : steps) {
    Compiled c{st, nullptr};
    if (st.kind == K::Split && st.is_regex) c.regex = std::make_unique<Regex>(st.pattern);
    if (st.kind == K::ByteLevel && st.use_regex) c.regex = std::make_unique<Regex>(kGpt2Pattern);
    if (st.kind == K::Whitespace) c.regex = std::make_unique<Regex>(kWhitespacePattern);
    steps_.push_back(std::move(c));
  }
}

void PreTokenizer::apply(std::string_view segment, bool first_segment, std::vector<std::string>& out) const {
  using K = PreTokenizerStep::Kind;
  using B = PreTokenizerStep::Behavior;
  std::vector<std::string> cur, next;
  cur.emplace_back(segment);
  std::vector<std::pair<size_t, size_t>> m;
  for (const auto& c : steps_) {
    const auto& st = c.step;
    next.clear();
    for (size_t pi = 0; pi < cur.size(); ++pi) {
      std::string& piece = cur[pi];
      m.clear();
      switch (st.kind) {
        case K::Split:
          if (c.regex) c.regex->find_all(piece, m);
          else literal_matches(piece, st.pattern, m);
          split_with_behavior(piece, m, st.behavior, st.invert, next);
          break;
        case K::ByteLevel: {
          std::string p = piece;
          if (st.add_prefix_space && (p.empty() || p[0] != ' ')) p.insert(p.begin(), ' ');
          if (c.regex) {
            c.regex->find_all(p, m);
            size_t first = next.size();
            split_with_behavior(p, m, B::Isolated, false, next);
            for (size_t k = first; k < next.size(); ++k) next[k] = byte_level_map(next[k]);
          } else {
            next.push_back(byte_level_map(p));
          }
          break;
        }
        case K::Digits:
          char_matches(piece, [](char32_t cp) { return cp >= '0' && cp <= '9'; }, m);
          split_with_behavior(piece, m, st.individual_digits ? B::Isolated : B::Contiguous, false, next);
          break;
        case K::Metaspace: {
          std::string p = replace_all(piece, " ", st.replacement);
          bool starts = p.compare(0, st.replacement.size(), st.replacement) == 0;
          bool prepend = st.prepend_scheme == "always" || (st.prepend_scheme == "first" && first_segment && pi == 0);
          if (prepend && !starts) p = st.replacement + p;
          if (st.split) {
            literal_matches(p, st.replacement, m);
            split_with_behavior(p, m, B::MergedWithNext, false, next);
          } else {
            next.push_back(std::move(p));
          }
          break;
        }
        case K::Whitespace:
          c.regex->find_all(piece, m);
          split_with_behavior(piece, m, B::Removed, true, next);
          break;
        case K::WhitespaceSplit:
          char_matches(piece, uni::is_whitespace, m);
          split_with_behavior(piece, m, B::Removed, false, next);
          break;
        case K::Punctuation:
          fail("tokenizer: Punctuation pre-tokenizer is not supported");
      }
    }
    cur.swap(next);
  }
  for (auto& p : cur)
    if (!p.empty()) out.push_back(std::move(p));
}

}  // namespace lp::text
