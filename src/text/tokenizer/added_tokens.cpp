#include "text/tokenizer/added_tokens.h"

#include "text/tokenizer/unicode.h"

namespace lp::text {

void AddedTokenMatcher::add(std::string_view content, int token_index) {
  if (content.empty()) return;
  int node = 0;
  for (char c : content) {
    uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(c);
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      nodes_.push_back(Node{});
      it = edges_.emplace(key, static_cast<int>(nodes_.size() - 1)).first;
    }
    node = it->second;
  }
  if (nodes_[node].token_index < 0) nodes_[node].token_index = token_index;
  first_byte_[static_cast<uint8_t>(content[0])] = true;
}

std::pair<size_t, int> AddedTokenMatcher::longest_at(std::string_view s, size_t i) const {
  int node = 0;
  std::pair<size_t, int> best{0, -1};
  for (size_t k = i; k < s.size(); ++k) {
    auto it = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(s[k]));
    if (it == edges_.end()) break;
    node = it->second;
    if (nodes_[node].token_index >= 0) best = {k + 1 - i, nodes_[node].token_index};
  }
  return best;
}

namespace {
// Last character of s (valid UTF-8 assumed).
char32_t last_char(std::string_view s) {
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
  size_t len = uni::valid_seq_len(s, start);
  return len ? uni::decode_at(s, start, len) : 0xFFFD;
}
bool is_word(char32_t c) { return c == '_' || uni::is_alphanumeric(c); }
}  // namespace

bool ends_with_word_char(std::string_view s) { return !s.empty() && is_word(last_char(s)); }

bool starts_with_word_char(std::string_view s) {
  if (s.empty()) return false;
  size_t len = uni::valid_seq_len(s, 0);
  return len && is_word(uni::decode_at(s, 0, len));
}

size_t skip_whitespace_back(std::string_view s, size_t end) {
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
    size_t len = uni::valid_seq_len(s, start);
    if (!len || !uni::is_whitespace(uni::decode_at(s, start, len))) break;
    end = start;
  }
  return end;
}

size_t skip_whitespace_fwd(std::string_view s, size_t begin) {
  while (begin < s.size()) {
    size_t len = uni::valid_seq_len(s, begin);
    if (!len || !uni::is_whitespace(uni::decode_at(s, begin, len))) break;
    begin += len;
  }
  return begin;
}

}  // namespace lp::text
