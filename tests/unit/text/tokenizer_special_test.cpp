#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

using namespace lp::text;
using namespace lp::text::test;
using Strings = std::vector<std::string>;

namespace {
json with_added(json j, std::vector<json> added) {
  int id = static_cast<int>(j["model"]["vocab"].size());
  for (auto& a : added) {
    if (!a.contains("id")) a["id"] = id++;
    j["added_tokens"].push_back(a);
  }
  return j;
}
json tok(const std::string& content, bool special, bool lstrip = false, bool rstrip = false, bool single_word = false,
         bool normalized = false) {
  return {{"content", content}, {"special", special}, {"lstrip", lstrip}, {"rstrip", rstrip},
          {"single_word", single_word}, {"normalized", normalized}};
}
}  // namespace

TEST(TokenizerSpecial, SpecialTokensInTextAreParsedByDefault) {
  auto t = make(with_added(byte_level_json({}, {}), {tok("<|s|>", true)}));
  auto ids = t.encode("a<|s|>b");
  EXPECT_EQ(texts(t, ids), (Strings{"a", "<|s|>", "b"}));
  EXPECT_TRUE(t.is_special(ids[1]));
  EXPECT_EQ(t.decode(ids), "a<|s|>b");
  EXPECT_EQ(t.decode(ids, true), "ab");
  EncodeOptions plain;
  plain.parse_special = false;
  EXPECT_EQ(t.encode("a<|s|>b", plain).size(), 7u);  // every byte on its own
}

TEST(TokenizerSpecial, LongestMatchWins) {
  auto t = make(with_added(byte_level_json({}, {}), {tok("<a>", true), tok("<a><b>", true)}));
  EXPECT_EQ(texts(t, t.encode("x<a><b><a>")), (Strings{"x", "<a><b>", "<a>"}));
}

TEST(TokenizerSpecial, LstripRstripEatSurroundingWhitespace) {
  auto t = make(with_added(byte_level_json({}, {}), {tok("<m>", true, true, true)}));
  EXPECT_EQ(texts(t, t.encode("a  <m>  b")), (Strings{"a", "<m>", "b"}));
  auto u = make(with_added(byte_level_json({}, {}), {tok("<m>", true)}));
  EXPECT_EQ(u.encode("a  <m>  b").size(), 7u);  // a, 2 spaces, <m>, 2 spaces, b
}

TEST(TokenizerSpecial, SingleWordNeedsWordBoundaries) {
  auto t = make(with_added(byte_level_json({}, {}), {tok("cat", false, false, false, true)}));
  EXPECT_EQ(texts(t, t.encode("cat dog")).front(), "cat");
  EXPECT_EQ(t.encode("concat").size(), 6u);  // inside a word: not the added token
}

TEST(TokenizerSpecial, NormalizedTokensMatchAfterNormalization) {
  auto j = with_added(byte_level_json({}, {}), {tok("hello", false, false, false, false, true)});
  j["normalizer"] = {{"type", "Lowercase"}};
  auto t = make(j);
  EXPECT_EQ(texts(t, t.encode("HELLO!")), (Strings{"hello", "!"}));
  // A non-normalized token only matches the raw text.
  auto k = with_added(byte_level_json({}, {}), {tok("hello", false)});
  k["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_EQ(make(k).encode("HELLO").size(), 5u);
}

TEST(TokenizerSpecial, NoParseSpecialKeepsNonSpecialAddedTokens) {
  auto t = make(with_added(byte_level_json({}, {}), {tok("<s>", true), tok("<u>", false)}));
  EncodeOptions plain;
  plain.parse_special = false;
  EXPECT_EQ(texts(t, t.encode("<u><s>", plain)), (Strings{"<u>", "<", "s", ">"}));
}

TEST(TokenizerSpecial, BosEosFromConfigAndPostProcessor) {
  auto j = with_added(byte_level_json({}, {}), {tok("<bos>", true), tok("<eos>", true)});
  json cfg = {{"bos_token", "<bos>"}, {"eos_token", {{"content", "<eos>"}}}, {"add_bos_token", true},
              {"add_eos_token", true}, {"chat_template", "{{ messages }}"}};
  auto t = make(j, cfg);
  auto ids = t.encode("a");
  EXPECT_EQ(texts(t, ids), (Strings{"<bos>", "a", "<eos>"}));
  EXPECT_EQ(t.chat_template(), "{{ messages }}");
  EncodeOptions none;
  none.add_special = false;
  EXPECT_EQ(t.encode("a", none).size(), 1u);
  // A TemplateProcessing post-processor overrides the config flags (fast tokenizer behaviour).
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", json::array({json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                                 json{{"SpecialToken", {{"id", "<eos>"}, {"type_id", 0}}}}})}};
  auto p = make(j, cfg);
  EXPECT_EQ(texts(p, p.encode("a")), (Strings{"a", "<eos>"}));
}
