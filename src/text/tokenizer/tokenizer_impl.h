// Private state of lp::text::Tokenizer, shared by the loader and coder translation units.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "text/tokenizer/added_tokens.h"
#include "text/tokenizer/models.h"
#include "text/tokenizer/pipeline.h"
#include "text/tokenizer/tokenizer.h"

namespace lp::text {

struct Tokenizer::Impl {
  explicit Impl(TokenizerModelData d);

  TokenizerModelData data;
  Vocab vocab;                        // token text -> id (first id wins on duplicates)
  std::vector<int> added_index;       // id -> index into data.added_tokens, or -1
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre;
  std::unique_ptr<SubwordModel> model;
  AddedTokenMatcher raw_matcher;      // added tokens matched before normalization (normalized=false)
  AddedTokenMatcher norm_matcher;     // matched in normalized text (normalized=true)

  void encode_segment(std::string_view text, bool first_segment, bool parse_special, std::vector<TokenId>& out) const;
};

}  // namespace lp::text
