#include <gtest/gtest.h>

#include "tokenizer_test_util.h"
#include "text/tokenizer/pipeline.h"

using namespace lp::text;
using namespace lp::text::test;
using Strings = std::vector<std::string>;

TEST(TokenizerBpe, MergesApplyInRankOrder) {
  auto t1 = make(byte_level_json({"bc", "ab", "abc"}, {"b c", "a b", "a bc"}));
  EXPECT_EQ(texts(t1, t1.encode("abc")), Strings{"abc"});
  EXPECT_EQ(texts(t1, t1.encode("abd")), (Strings{"ab", "d"}));
  // (b,c) has the lower rank, so "abc" cannot come from (ab, c) when only that merge exists.
  auto t2 = make(byte_level_json({"bc", "ab", "abc"}, {"b c", "a b", "ab c"}));
  EXPECT_EQ(texts(t2, t2.encode("abc")), (Strings{"a", "bc"}));
}

TEST(TokenizerBpe, EqualRanksMergeLeftmostFirst) {
  auto t = make(byte_level_json({"aa"}, {"a a"}));
  EXPECT_EQ(texts(t, t.encode("aaa")), (Strings{"aa", "a"}));
  EXPECT_EQ(texts(t, t.encode("aaaa")), (Strings{"aa", "aa"}));
}

TEST(TokenizerBpe, ByteLevelMapsSpacesAndBytes) {
  auto t = make(byte_level_json({"\xC4\xA0" "a"}, {"\xC4\xA0 a"}));  // "Ġa"
  auto ids = t.encode("a a");
  EXPECT_EQ(texts(t, ids), (Strings{"a", "\xC4\xA0" "a"}));
  EXPECT_EQ(t.decode(ids), "a a");
  auto e = t.encode("\xC3\xA9");  // é = two byte symbols
  EXPECT_EQ(e.size(), 2u);
  EXPECT_EQ(t.decode(e), "\xC3\xA9");
}

TEST(TokenizerBpe, ArrayMergesAndMergesOutsideVocab) {
  auto j = byte_level_json({"xy"}, {});
  j["model"]["merges"] = json::array({json::array({"x", "y"}), json::array({"y", "z"})});  // "yz" is not a token
  auto t = make(j);
  EXPECT_EQ(texts(t, t.encode("xyz")), (Strings{"xy", "z"}));
}

TEST(TokenizerBpe, IgnoreMergesTakesWholeWord) {
  auto j = byte_level_json({"xyz"}, {});
  EXPECT_EQ(texts(make(j), make(j).encode("xyz")), (Strings{"x", "y", "z"}));
  j["model"]["ignore_merges"] = true;
  auto t = make(j);
  EXPECT_EQ(texts(t, t.encode("xyz")), Strings{"xyz"});
}

TEST(TokenizerBpe, ByteFallbackAndPrefixSpace) {
  auto t = make(spm_json({"\xE2\x96\x81", "h", "i", "\xE2\x96\x81h", "hi", "\xE2\x96\x81hi"},
                         {"\xE2\x96\x81 h", "\xE2\x96\x81h i", "h i"}, true));
  auto ids = t.encode("hi \xC3\xA9");
  EXPECT_EQ(texts(t, ids), (Strings{"<s>", "\xE2\x96\x81hi", "\xE2\x96\x81", "<0xC3>", "<0xA9>"}));
  EXPECT_EQ(t.decode(ids), "<s> hi \xC3\xA9");  // Strip only removes a space that starts the text (HF)
  EXPECT_EQ(t.decode(ids, true), "hi \xC3\xA9");
  EncodeOptions no_special;
  no_special.add_special = false;
  EXPECT_EQ(texts(t, t.encode("hi", no_special)), Strings{"\xE2\x96\x81hi"});
}

TEST(TokenizerBpe, UnknownCharactersFuseIntoOneUnk) {
  auto j = spm_json({"a"}, {}, false);
  j["model"]["byte_fallback"] = false;
  EncodeOptions o;
  o.add_special = false;
  EXPECT_EQ(texts(make(j), make(j).encode("axyza", o)), (Strings{"a", "<unk>", "a"}));
  j["model"]["fuse_unk"] = false;
  EXPECT_EQ(texts(make(j), make(j).encode("axya", o)), (Strings{"a", "<unk>", "<unk>", "a"}));
}

TEST(TokenizerPre, SplitBehaviors) {
  using B = PreTokenizerStep::Behavior;
  std::vector<std::pair<size_t, size_t>> m = {{1, 2}, {4, 5}};  // the '-' in "a-bc-d"
  auto run = [&](B b, bool invert = false) {
    std::vector<std::string> out;
    split_with_behavior("a-bc-d", m, b, invert, out);
    return out;
  };
  EXPECT_EQ(run(B::Isolated), (Strings{"a", "-", "bc", "-", "d"}));
  EXPECT_EQ(run(B::Removed), (Strings{"a", "bc", "d"}));
  EXPECT_EQ(run(B::MergedWithPrevious), (Strings{"a-", "bc-", "d"}));
  EXPECT_EQ(run(B::MergedWithNext), (Strings{"a", "-bc", "-d"}));
  EXPECT_EQ(run(B::Removed, true), (Strings{"-", "-"}));
  std::vector<std::pair<size_t, size_t>> adj = {{0, 1}, {1, 2}};
  std::vector<std::string> out;
  split_with_behavior("--x", adj, B::Contiguous, false, out);
  EXPECT_EQ(out, (Strings{"--", "x"}));
}

namespace {
Strings pretokenize(const std::string& regex, const std::string& text) {
  PreTokenizerStep st;
  st.kind = PreTokenizerStep::Kind::Split;
  st.pattern = regex;
  PreTokenizer p({st});
  Strings out;
  p.apply(text, true, out);
  return out;
}
const char* kQwen2 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kLlama3 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kO200k = R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}  // namespace

TEST(TokenizerPre, FamilyRegexes) {
  EXPECT_EQ(pretokenize(kQwen2, "It'S 123  x"), (Strings{"It", "'S", " ", "1", "2", "3", " ", " x"}));
  EXPECT_EQ(pretokenize(kLlama3, "12345 ab"), (Strings{"123", "45", " ab"}));
  EXPECT_EQ(pretokenize(kO200k, "HelloWorld it's"), (Strings{"Hello", "World", " it's"}));
  // \s+(?!\S) leaves the last space for the next word; \s*[\r\n]+ keeps newlines together.
  EXPECT_EQ(pretokenize(kQwen2, "a   b\n\n c"), (Strings{"a", "  ", " b", "\n\n", " c"}));
  // Unicode White_Space includes NEL (U+0085), as in onig; PCRE2 10.42's own \s would not.
  EXPECT_EQ(pretokenize(kQwen2, "a\xC2\x85\xC2\x85" "b"), (Strings{"a", "\xC2\x85", "\xC2\x85" "b"}));
  // Case-insensitive contractions follow Unicode folding (long s).
  EXPECT_EQ(pretokenize(kQwen2, "x'\xC5\xBF"), (Strings{"x", "'\xC5\xBF"}));
}

TEST(TokenizerPre, DigitsAndMetaspace) {
  PreTokenizerStep d;
  d.kind = PreTokenizerStep::Kind::Digits;
  d.individual_digits = true;
  Strings out;
  PreTokenizer({d}).apply("ab12c", true, out);
  EXPECT_EQ(out, (Strings{"ab", "1", "2", "c"}));
  PreTokenizerStep m;
  m.kind = PreTokenizerStep::Kind::Metaspace;
  m.prepend_scheme = "first";
  out.clear();
  PreTokenizer({m}).apply("hi there", true, out);
  EXPECT_EQ(out, (Strings{"\xE2\x96\x81hi", "\xE2\x96\x81there"}));
  out.clear();
  PreTokenizer({m}).apply("hi", false, out);
  EXPECT_EQ(out, (Strings{"hi"}));
}

TEST(TokenizerNormalizer, NfcNfkcLowercase) {
  NormalizerStep nfc;
  nfc.kind = NormalizerStep::Kind::Nfc;
  EXPECT_EQ(Normalizer({nfc}).apply("e\xCC\x81"), "\xC3\xA9");
  NormalizerStep nfkc;
  nfkc.kind = NormalizerStep::Kind::Nfkc;
  EXPECT_EQ(Normalizer({nfkc}).apply("\xEF\xAC\x81"), "fi");  // ﬁ ligature
  NormalizerStep low;
  low.kind = NormalizerStep::Kind::Lowercase;
  EXPECT_EQ(Normalizer({low}).apply("\xC3\x89T\xC3\x89"), "\xC3\xA9t\xC3\xA9");
}
