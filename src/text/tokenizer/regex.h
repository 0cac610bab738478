// PCRE2 (UTF + UCP + JIT) regex for pre-tokenizer patterns written for Rust's onig/fancy-regex.
// `\s`/`\S` are rewritten to Unicode White_Space (what onig uses), since PCRE2 10.42's UCP `\s` omits U+0085.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lp::text {

class Regex {
 public:
  explicit Regex(const std::string& pattern);  // throws lp::Error naming the pattern
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();
  // Appends non-empty matches [begin, end) of the (valid UTF-8) text, left to right.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::unique_ptr<Code> code_;
};

// The pattern with \s and \S spelled out as White_Space classes (exposed for tests).
std::string translate_rust_regex(std::string_view pattern);

}  // namespace lp::text
