// Compiled normalizer and pre-tokenizer pipelines (tokenizer.json semantics of HF `tokenizers`).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer/regex.h"
#include "text/tokenizer/tokenizer.h"

namespace lp::text {

class Normalizer {
 public:
  explicit Normalizer(const std::vector<NormalizerStep>& steps);
  bool empty() const { return steps_.empty(); }
  std::string apply(std::string s) const;

 private:
  std::vector<NormalizerStep> steps_;
  std::vector<std::unique_ptr<Regex>> regexes_;  // per step, for regex Replace
};

class PreTokenizer {
 public:
  explicit PreTokenizer(const std::vector<PreTokenizerStep>& steps);
  // Splits one normalized segment into pre-tokens (already byte-mapped when a ByteLevel step is present).
  // `first_segment`: the segment starts the input (Metaspace prepend_scheme "first").
  void apply(std::string_view segment, bool first_segment, std::vector<std::string>& out) const;

 private:
  struct Compiled {
    PreTokenizerStep step;
    std::unique_ptr<Regex> regex;
  };
  std::vector<Compiled> steps_;
};

// Byte-level mapping of raw bytes to the GPT-2 alphabet.
std::string byte_level_map(std::string_view bytes);

// Splits `s` with match ranges according to an HF SplitDelimiterBehavior.
void split_with_behavior(std::string_view s, const std::vector<std::pair<size_t, size_t>>& matches,
                         PreTokenizerStep::Behavior behavior, bool invert, std::vector<std::string>& out);

}  // namespace lp::text
