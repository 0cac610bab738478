// Finds added/special tokens in text: leftmost-longest literal matching over a byte trie, then the
// lstrip/rstrip/single_word rules of HF's AddedVocabulary.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/tokenizer/tokenizer.h"

namespace lp::text {

class AddedTokenMatcher {
 public:
  void add(std::string_view content, int token_index);
  bool empty() const { return nodes_.size() <= 1; }

  struct Piece {
    size_t begin, end;
    int token_index;  // -1: plain text between tokens
  };
  // Splits `s` into text pieces and token pieces. `skip(index)` drops a candidate (e.g. special tokens
  // when parse_special is off).
  template <typename Skip>
  std::vector<Piece> split(std::string_view s, const std::vector<AddedToken>& tokens, Skip skip) const;

 private:
  // Longest token starting at i (length, index), or length 0.
  std::pair<size_t, int> longest_at(std::string_view s, size_t i) const;
  struct Node {
    int token_index = -1;
  };
  std::vector<Node> nodes_{Node{}};
  std::unordered_map<uint64_t, int> edges_;  // (node << 8 | byte) -> child
  bool first_byte_[256] = {};
};

bool ends_with_word_char(std::string_view s);
bool starts_with_word_char(std::string_view s);
size_t skip_whitespace_back(std::string_view s, size_t end);   // start of trailing whitespace of s[0,end)
size_t skip_whitespace_fwd(std::string_view s, size_t begin);  // end of leading whitespace of s[begin,)

template <typename Skip>
std::vector<AddedTokenMatcher::Piece> AddedTokenMatcher::split(std::string_view s,
                                                              const std::vector<AddedToken>& tokens,
                                                              Skip skip) const {
  std::vector<Piece> out;
  size_t start_offset = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (!first_byte_[static_cast<uint8_t>(s[i])]) {
      ++i;
      continue;
    }
    auto [len, idx] = longest_at(s, i);
    if (len == 0) {
      ++i;
      continue;
    }
    if (skip(idx)) {  // HF consumes the match and moves on
      i += len;
      continue;
    }
    size_t start = i, stop = i + len;
    const AddedToken& t = tokens[static_cast<size_t>(idx)];
    i = stop;
    if (t.single_word) {
      bool start_space = start == 0 || !ends_with_word_char(s.substr(0, start));
      bool stop_space = stop == s.size() || !starts_with_word_char(s.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) start = std::max(skip_whitespace_back(s, start), start_offset);
    if (t.rstrip) stop = skip_whitespace_fwd(s, stop);
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, idx});
    start_offset = stop;
    i = std::max(i, stop);
  }
  if (start_offset < s.size()) out.push_back({start_offset, s.size(), -1});
  return out;
}

}  // namespace lp::text
