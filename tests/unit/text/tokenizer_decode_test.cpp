#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

using namespace lp::text;
using namespace lp::text::test;

TEST(TokenizerDecode, Utf8LossyMatchesRust) {
  EXPECT_EQ(utf8_lossy("ok"), "ok");
  EXPECT_EQ(utf8_lossy("\xF0\x9F\x98"), "\xEF\xBF\xBD");             // truncated 4-byte: one U+FFFD
  EXPECT_EQ(utf8_lossy("\xC3\x28"), "\xEF\xBF\xBD(");                // bad continuation
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: 3 replacements
  EXPECT_EQ(utf8_lossy("\xFF" "a"), "\xEF\xBF\xBD" "a");
}

TEST(TokenizerDecode, StreamingNeverSplitsACharacter) {
  auto t = make(byte_level_json({}, {}));
  const std::string text = "a\xF0\x9F\x98\x80" "b\xE4\xBD\xA0";  // a😀b你
  auto ids = t.encode(text);
  ASSERT_EQ(ids.size(), 9u);
  StreamingDecoder sd(t);
  std::vector<std::string> parts;
  for (auto id : ids) parts.push_back(sd.push(id));
  EXPECT_EQ(parts[0], "a");
  EXPECT_EQ(parts[1], "");
  EXPECT_EQ(parts[2], "");
  EXPECT_EQ(parts[3], "");
  EXPECT_EQ(parts[4], "\xF0\x9F\x98\x80");
  EXPECT_EQ(parts[5], "b");
  EXPECT_EQ(parts[8], "\xE4\xBD\xA0");
  std::string all;
  for (auto& p : parts) all += p;
  EXPECT_EQ(all + sd.flush(), t.decode(ids));
}

TEST(TokenizerDecode, StreamingReplacesInvalidBytesAndFlushesTails) {
  auto t = make(byte_level_json({}, {}));
  StreamingDecoder sd(t);
  auto ff = t.encode("\xFF");  // invalid input is repaired to U+FFFD before encoding: 3 byte tokens
  ASSERT_EQ(ff.size(), 3u);
  // Feed a lone lead byte: held until flush, then U+FFFD.
  auto lead = t.encode("\xC3\xA9");
  EXPECT_EQ(sd.push(lead[0]), "");
  EXPECT_EQ(sd.flush(), "\xEF\xBF\xBD");
  // A lead byte followed by ASCII: replacement emitted as soon as it is known to be invalid.
  auto a = t.encode("a");
  EXPECT_EQ(sd.push(lead[0]), "");
  EXPECT_EQ(sd.push(a[0]), "\xEF\xBF\xBD" "a");
  std::vector<TokenId> broken = {lead[0], a[0]};
  EXPECT_EQ(t.decode(broken), "\xEF\xBF\xBD" "a");
}

TEST(TokenizerDecode, ByteFallbackStreamingAndLeadingSpace) {
  auto t = make(spm_json({"\xE2\x96\x81", "h", "i", "hi", "\xE2\x96\x81hi"}, {"h i", "\xE2\x96\x81 hi"}, true));
  auto ids = t.encode("hi \xF0\x9F\x98\x80 hi");
  EXPECT_EQ(t.decode(ids, true), "hi \xF0\x9F\x98\x80 hi");
  StreamingDecoder sd(t);
  std::string streamed;
  size_t empty_pushes = 0;
  for (auto id : ids) {
    auto s = sd.push(id);
    empty_pushes += s.empty();
    streamed += s;
  }
  streamed += sd.flush();
  EXPECT_EQ(streamed, "hi \xF0\x9F\x98\x80 hi");  // <s> skipped, leading ▁ stripped once
  EXPECT_GE(empty_pushes, 4u);                     // <s> and three partial emoji bytes
  // Invalid byte sequences decode to one U+FFFD per byte (HF ByteFallback).
  std::vector<TokenId> bad = {*t.find_token("<0xF0>"), *t.find_token("<0x9F>"), *t.find_token("h")};
  EXPECT_EQ(t.decode(bad), "\xEF\xBF\xBD\xEF\xBF\xBD" "h");
}

TEST(TokenizerDecode, UnknownIdsAreDropped) {
  auto t = make(byte_level_json({}, {}));
  std::vector<TokenId> ids = {t.encode("a")[0], 999999, -5};
  EXPECT_EQ(t.decode(ids), "a");
  EXPECT_THROW((void)t.token_text(999999), lp::Error);
}
