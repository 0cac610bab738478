// Evaluation suite files (eval/suite.h): the built-in suite parses, and every malformed line is an error naming
// the file, the line number and the field.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "eval/suite.h"

namespace lp::eval {
namespace {

// The error message of parsing `text`, or "" when it parsed.
std::string error_of(const std::string& text) {
  try {
    parse_suite(text, "s.jsonl");
  } catch (const lp::Error& e) {
    return e.what();
  }
  return "";
}

const std::string kMc = R"({"id": "q1", "category": "knowledge", "type": "multiple_choice", "question": "Q?", "choices": [" a", " b"], "answer": 1})";

TEST(Suite, BuiltinParsesWithEveryCategory) {
  const Suite s = load_suite("builtin");
  EXPECT_EQ(s.name, "builtin");
  EXPECT_EQ(s.sha256.size(), 64u);
  for (const auto& cat : suite_categories()) {
    int n = 0;
    for (const auto& it : s.items) n += it.category == cat;
    EXPECT_GE(n, 2) << cat;
  }
}

TEST(Suite, ParsesEachType) {
  const std::string text = kMc + "\n\n" +
      R"({"id": "g", "category": "math", "type": "generate", "question": "2+2?", "answer": 4, "system": "Be brief."})" "\n" +
      R"({"id": "t", "category": "tool_calling", "type": "tool_call", "question": "Weather?", "tools": [{"name": "w", "parameters": {"type": "object"}}], "answer": {"name": "w", "arguments": {"city": "Oslo"}}})";
  const Suite s = parse_suite(text, "s.jsonl");
  ASSERT_EQ(s.items.size(), 3u);
  EXPECT_EQ(s.items[0].type, ItemType::MultipleChoice);
  EXPECT_EQ(s.items[0].answer_index, 1);
  EXPECT_EQ(s.items[0].choices[0], " a");  // as written
  EXPECT_EQ(s.items[1].line, 3);           // blank lines count
  EXPECT_EQ(s.items[1].system, "Be brief.");
  EXPECT_EQ(s.items[2].tools[0]["type"], "function");  // a bare function is wrapped the OpenAI way
  EXPECT_EQ(s.items[2].tools[0]["function"]["name"], "w");
}

TEST(Suite, ErrorsNameLineAndField) {
  const std::string ok = kMc + "\n";
  struct Case {
    std::string line, expect;
  };
  const Case cases[] = {
      {R"({"id": "x", "category": "knowledge", "type": "multiple_choice", "question": "Q", "choices": [" a", " b"], "answer": 2})",
       "s.jsonl:2: field 'answer': index 2 is outside the 2 choices"},
      {R"({"id": "x", "category": "poetry", "type": "generate", "question": "Q", "answer": "a"})", "s.jsonl:2: field 'category': unknown category 'poetry'"},
      {R"({"id": "x", "category": "math", "type": "essay", "question": "Q", "answer": "a"})", "s.jsonl:2: field 'type': unknown type 'essay'"},
      {R"({"id": "x", "category": "math", "type": "generate", "answer": "a"})", "s.jsonl:2: field 'question': missing"},
      {R"({"id": "x", "category": "math", "type": "generate", "question": "Q", "answer": "a", "hint": 1})", "s.jsonl:2: field 'hint': unknown field"},
      {R"({"id": "x", "category": "math", "type": "generate", "question": "Q", "answer": ["a"]})", "s.jsonl:2: field 'answer': must be a non-empty string or a number"},
      {R"({"id": "x", "category": "math", "type": "generate", "question": "Q", "choices": ["a", "b"], "answer": "a"})", "s.jsonl:2: field 'choices': only multiple_choice"},
      {R"({"id": "x", "category": "knowledge", "type": "multiple_choice", "question": "Q", "choices": ["a", ""], "answer": 0})", "s.jsonl:2: field 'choices[1]'"},
      {R"({"id": "x", "category": "tool_calling", "type": "tool_call", "question": "Q", "answer": {"name": "f", "arguments": {}}})", "s.jsonl:2: field 'tools': missing"},
      {R"({"id": "x", "category": "tool_calling", "type": "tool_call", "question": "Q", "tools": [{"name": "g"}], "answer": {"name": "f", "arguments": {}}})",
       "s.jsonl:2: field 'answer.name': 'f' is not one of the tools offered"},
      {R"({"id": "x", "category": "tool_calling", "type": "tool_call", "question": "Q", "tools": [{"name": "f"}], "answer": {"name": "f"}})",
       "s.jsonl:2: field 'answer.arguments': must be an object"},
      {R"({"id": "q1", "category": "math", "type": "generate", "question": "Q", "answer": 1})", "s.jsonl:2: field 'id': 'q1' repeats the id of line 1"},
      {R"({"id": "x", "category": "math", )", "s.jsonl:2: not valid JSON"},
      {R"(["not", "an", "object"])", "s.jsonl:2: a suite line must be a JSON object"},
  };
  for (const auto& c : cases) {
    const std::string e = error_of(ok + c.line + "\n");
    EXPECT_NE(e.find(c.expect), std::string::npos) << "line: " << c.line << "\nerror: " << e;
  }
  EXPECT_NE(error_of("\n\n").find("holds no questions"), std::string::npos);
}

TEST(Suite, SelectsCategoriesAndLimit) {
  const Suite s = load_suite("builtin");
  const Suite math = select_items(s, {"math"}, 1);
  ASSERT_EQ(math.items.size(), 1u);
  EXPECT_EQ(math.items[0].category, "math");
  EXPECT_EQ(math.sha256, s.sha256);
  const Suite two = select_items(s, {}, 1);
  EXPECT_EQ(two.items.size(), suite_categories().size());
  EXPECT_THROW(select_items(s, {"poetry"}, 0), lp::Error);
}

TEST(Suite, MissingFileIsAnError) { EXPECT_THROW(load_suite("/nonexistent/suite.jsonl"), lp::Error); }

}  // namespace
}  // namespace lp::eval
