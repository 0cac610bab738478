// Malformed tokenizer.json / tokenizer_config.json: always an lp::Error naming the file and field, never a crash.
#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

using namespace lp::text;
using namespace lp::text::test;

namespace {
std::string error_of(const std::string& tj, const std::string& cfg = {}) {
  try {
    (void)Tokenizer::from_hf_json(tj, cfg, "bad/tokenizer.json");
  } catch (const lp::Error& e) {
    return e.what();
  }
  return "<no error>";
}
std::string error_of(const json& j, const json& cfg = nullptr) {
  return error_of(j.dump(), cfg.is_null() ? std::string() : cfg.dump());
}
#define EXPECT_HAS(haystack, needle) EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << haystack
}  // namespace

TEST(TokenizerErrors, NamesFileAndField) {
  EXPECT_HAS(error_of(std::string("{not json")), "bad/tokenizer.json: invalid JSON");
  EXPECT_HAS(error_of(json{{"version", "1.0"}}), "field 'model': missing");
  auto j = byte_level_json({}, {});
  j["model"]["vocab"] = json::array();
  EXPECT_HAS(error_of(j), "field 'model.vocab'");
  j = byte_level_json({}, {"a b", "bad"});
  EXPECT_HAS(error_of(j), "field 'model.merges[1]'");
  j = byte_level_json({}, {});
  j["model"]["type"] = "Unigram";
  EXPECT_HAS(error_of(j), "unsupported model type 'Unigram'");
  j = byte_level_json({}, {});
  j["model"]["vocab"]["x"] = -3;
  EXPECT_HAS(error_of(j), "out of range");
  j = byte_level_json({}, {});
  j["added_tokens"] = json::array({{{"id", "seven"}, {"content", "<x>"}}});
  EXPECT_HAS(error_of(j), "field 'added_tokens[0].id'");
  j = byte_level_json({}, {});
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Nope"}}}}};
  EXPECT_HAS(error_of(j), "field 'pre_tokenizer.pretokenizers[0].type'");
  j = byte_level_json({}, {}, "([unclosed");
  EXPECT_HAS(error_of(j), "cannot compile pre-tokenizer regex");
  j = byte_level_json({}, {});
  j["normalizer"] = {{"type", "Replace"}, {"pattern", "x"}, {"content", "y"}};
  EXPECT_HAS(error_of(j), "field 'normalizer.pattern'");
  j = byte_level_json({}, {});
  j["model"]["unk_token"] = "<nope>";
  EXPECT_HAS(error_of(j), "field 'model.unk_token'");
  j = byte_level_json({}, {});
  j["decoder"] = {{"type", "WordPiece"}};
  EXPECT_HAS(error_of(j), "unsupported decoder 'WordPiece'");
}

TEST(TokenizerErrors, ConfigErrorsNameTheConfig) {
  auto j = byte_level_json({}, {});
  EXPECT_HAS(error_of(j, json{{"bos_token", "<missing>"}}), "tokenizer_config.json: field 'bos_token'");
  EXPECT_HAS(error_of(j.dump(), "[1,"), "tokenizer_config.json: invalid JSON");
  EXPECT_HAS(error_of(j, json{{"chat_template", 5}}), "field 'chat_template'");
}

TEST(TokenizerErrors, TruncatedAndMutatedDocumentsNeverCrash) {
  auto j = byte_level_json({"ab"}, {"a b"});
  j["added_tokens"] = json::array({{{"id", 257}, {"content", "<s>"}, {"special", true}}});
  const std::string doc = j.dump();
  size_t ok = 0, errors = 0;
  for (size_t len = 0; len < doc.size(); len += 7) {
    std::string e = error_of(doc.substr(0, len));
    (e == "<no error>" ? ok : errors)++;
  }
  EXPECT_EQ(ok, 0u);
  EXPECT_GT(errors, 100u);
  // Byte flips: either loads or throws lp::Error; any other exception or a crash fails the test.
  uint32_t s = 1;
  for (int k = 0; k < 300; ++k) {
    std::string m = doc;
    s = s * 1103515245u + 12345u;
    m[(s >> 8) % m.size()] = static_cast<char>(s >> 24);
    try {
      auto t = Tokenizer::from_hf_json(m, {}, "m.json");
      (void)t.decode(t.encode("ab <s> x"));
    } catch (const lp::Error&) {
    }
  }
}

TEST(TokenizerErrors, MissingFilesAreClear) {
  EXPECT_THROW((void)Tokenizer::load("/nonexistent/dir/model.gguf"), lp::Error);
  EXPECT_THROW((void)Tokenizer::from_hf("/nonexistent/tokenizer.json"), lp::Error);
}
