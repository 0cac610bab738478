// The JSON-schema grammar and its matcher: what each keyword lets through and what it stops, byte by byte;
// random walks through the grammar always end in JSON that parses and keeps the schema's promises; unsupported
// keywords are errors naming the keyword and where it is.
#include <gtest/gtest.h>

#include <random>

#include "text/json_grammar.h"

namespace lp::text {
namespace {

using ojson = nlohmann::ordered_json;  // schemas keep their key order

std::shared_ptr<const Grammar> compile(const ojson& schema) {
  auto g = std::make_shared<Grammar>();
  g->set_root(compile_json_schema(*g, schema));
  g->finalize();
  return g;
}

bool matches(const ojson& schema, std::string_view text) {
  GrammarMatcher m(compile(schema));
  return m.accept(text) && m.can_end();
}

TEST(JsonGrammar, KeywordsAcceptAndReject) {
  const ojson obj = ojson::parse(R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
                                  "required": ["b"]})");
  EXPECT_TRUE(matches(obj, R"({"b":"x"})"));
  EXPECT_TRUE(matches(obj, R"({"a": 1, "b": "x", "c": true})"));
  EXPECT_TRUE(matches(obj, R"({"b":"x","c":false})"));
  EXPECT_FALSE(matches(obj, R"({"a":1})")) << "required b missing";
  EXPECT_FALSE(matches(obj, R"({"b":"x","a":1})")) << "properties come in schema order";
  EXPECT_FALSE(matches(obj, R"({"b":"x","z":1})")) << "no other properties";
  EXPECT_FALSE(matches(obj, R"({"a":1.5,"b":"x"})")) << "integer";
  EXPECT_FALSE(matches(obj, R"({"b":"x"} )")) << "nothing after the value";

  const ojson arr = ojson::parse(R"({"type": "array", "items": {"enum": ["x", 2, null]}, "minItems": 2, "maxItems": 3})");
  EXPECT_FALSE(matches(arr, R"(["x"])"));
  EXPECT_TRUE(matches(arr, R"(["x", 2])"));
  EXPECT_TRUE(matches(arr, R"(["x",2,null])"));
  EXPECT_FALSE(matches(arr, R"(["x",2,null,"x"])"));
  EXPECT_FALSE(matches(arr, R"(["y",2])"));

  EXPECT_TRUE(matches({{"const", {{"k", {1, 2}}}}}, R"({"k":[1,2]})"));
  EXPECT_TRUE(matches(ojson::parse(R"({"type": ["number", "null"]})"), "-12.5e+3"));
  EXPECT_TRUE(matches(ojson::parse(R"({"type": ["number", "null"]})"), "null"));
  EXPECT_FALSE(matches(ojson::parse(R"({"type": "number"})"), "012"));
  EXPECT_TRUE(matches(ojson::parse(R"({"type": "string", "minLength": 2, "maxLength": 3})"), R"("\u00e9\n")"));
  EXPECT_FALSE(matches(ojson::parse(R"({"type": "string", "minLength": 2, "maxLength": 3})"), R"("abcd")"));
  EXPECT_FALSE(matches(ojson::parse(R"({"type": "string"})"), "\"\xff\"")) << "invalid UTF-8";
  EXPECT_FALSE(matches(ojson::parse(R"({"type": "string"})"), R"("\ud800")")) << "lone surrogate";
  EXPECT_TRUE(matches(ojson::parse(R"({"anyOf": [{"type": "integer"}, {"type": "string"}]})"), R"("7")"));
  // $ref, recursive.
  const ojson tree = ojson::parse(R"({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
      "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"]}}, "$ref": "#/$defs/node"})");
  EXPECT_TRUE(matches(tree, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[]}]})"));
  EXPECT_FALSE(matches(tree, R"({"v":1,"kids":[{"w":2}]})"));
}

TEST(JsonGrammar, UnsupportedKeywordsAreNamed) {
  for (const char* kw : {"pattern", "minimum", "oneOf", "allOf", "not", "format", "patternProperties", "uniqueItems"}) {
    const ojson s = {{"type", "object"}, {"properties", {{"p", {{"type", "string"}, {kw, 1}}}}}};
    try {
      compile(s);
      ADD_FAILURE() << kw;
    } catch (const SchemaError& e) {
      EXPECT_EQ(e.keyword, kw);
      EXPECT_EQ(e.path, "/properties/p");
      EXPECT_NE(std::string(e.what()).find(kw), std::string::npos);
    }
  }
  EXPECT_THROW(compile(ojson::parse(R"({"$ref": "#/$defs/missing"})")), SchemaError);
  EXPECT_THROW(compile(ojson::parse(R"({"type": "object", "properties": {}, "required": ["x"]})")), SchemaError);
  // A $ref cycle that consumes nothing is refused, not a hang.
  EXPECT_THROW(GrammarMatcher(compile(ojson::parse(R"({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})"))), std::runtime_error);
}

// Random walks: pick any allowed byte until the grammar must end (or may, by a coin); the text parses.
TEST(JsonGrammar, RandomWalksGiveValidJson) {
  const ojson schema = ojson::parse(R"({"type": "object", "properties": {
      "s": {"type": "string", "maxLength": 5}, "n": {"type": "number"}, "i": {"type": "integer"},
      "l": {"type": "array", "items": {"type": "boolean"}, "maxItems": 3}, "e": {"enum": ["a", "b"]}},
      "required": ["s", "n", "i", "l", "e"]})");
  const auto g = compile(schema);
  std::mt19937 rng(7);
  for (int walk = 0; walk < 200; ++walk) {
    GrammarMatcher m(g);
    std::string out;
    for (int step = 0; step < 400 && !m.must_end(); ++step) {
      if (m.can_end() && rng() % 4 == 0) break;
      std::vector<unsigned char> ok;
      for (int c = 0; c < 256; ++c)
        if (m.allows(std::string(1, static_cast<char>(c)))) ok.push_back(static_cast<unsigned char>(c));
      ASSERT_FALSE(ok.empty()) << out;
      const char c = static_cast<char>(ok[rng() % ok.size()]);
      ASSERT_TRUE(m.accept(std::string(1, c)));
      out += c;
    }
    if (!m.can_end()) continue;  // ran out of steps in a long number
    ojson v;
    ASSERT_NO_THROW(v = ojson::parse(out)) << out;
    for (const char* k : {"s", "n", "i", "l", "e"}) EXPECT_TRUE(v.contains(k)) << out;
    EXPECT_TRUE(v["i"].is_number_integer()) << out;
    EXPECT_LE(v["l"].size(), 3u) << out;
  }
}

}  // namespace
}  // namespace lp::text
