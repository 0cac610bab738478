// Scoring rules of `evaluate` (eval/scoring.h): normalisation, numbers, choice letters, tool calls, Wilson interval.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "eval/scoring.h"

namespace lp::eval {
namespace {

using nlohmann::json;

TEST(Scoring, NormalizeAnswer) {
  EXPECT_EQ(normalize_answer("  The  Pacific\tOcean. "), "pacific ocean");
  EXPECT_EQ(normalize_answer("U.S.A.!"), "usa");
  EXPECT_EQ(normalize_answer("Don't"), "dont");
  EXPECT_EQ(normalize_answer("an apple, a pear"), "apple pear");
  EXPECT_EQ(normalize_answer("**Au**"), "au");
  EXPECT_EQ(normalize_answer("Zürich"), "zürich");  // non-ASCII bytes kept
}

TEST(Scoring, LastNumber) {
  EXPECT_EQ(last_number("4 rows of 9 is 36, minus 7 leaves 29."), 29);
  EXPECT_EQ(last_number("It costs 1,234.50 dollars"), 1234.5);
  EXPECT_EQ(last_number("from -3 to -12"), -12);
  EXPECT_EQ(last_number("x-3"), 3);  // a hyphen after a letter is not a sign
  EXPECT_EQ(last_number("12%"), 12);
  EXPECT_EQ(last_number("1,23"), 23);  // not a thousands group
  EXPECT_FALSE(last_number("no digits here").has_value());
  EXPECT_TRUE(numbers_equal(0.1 + 0.2, 0.3));
  EXPECT_FALSE(numbers_equal(29, 29.01));
}

TEST(Scoring, GenerateCorrect) {
  EXPECT_TRUE(generate_correct(29, "36 - 7 = 29"));
  EXPECT_TRUE(generate_correct("29", "The answer is 29.0"));
  EXPECT_TRUE(generate_correct(29, "So 29 jars."));
  EXPECT_FALSE(generate_correct(29, "29 jars, wait, 30"));  // the last number counts
  EXPECT_TRUE(generate_correct("Au", "au."));
  EXPECT_TRUE(generate_correct("Au", "Au\nGold's symbol comes from Latin aurum."));  // first line
  EXPECT_TRUE(generate_correct("red", "Every lamp there is red, so the answer is: Red."));
  EXPECT_FALSE(generate_correct("red", "The lamp is red."));  // not an exact match
  EXPECT_FALSE(generate_correct("Au", ""));
}

TEST(Scoring, ChoiceLetter) {
  const std::vector<std::string> c = {" oxygen", " carbon dioxide", " helium", " neon"};
  EXPECT_EQ(parse_choice_letter("B", c), 1);
  EXPECT_EQ(parse_choice_letter("(C) helium", c), 2);
  EXPECT_EQ(parse_choice_letter("D. neon", c), 3);
  EXPECT_EQ(parse_choice_letter("A careful look: the answer is b.", c), 1);  // "A careful" is not a letter answer
  EXPECT_EQ(parse_choice_letter("**Answer: C**", c), 2);
  EXPECT_EQ(parse_choice_letter("E.", c), -1);  // outside the four choices
  EXPECT_EQ(parse_choice_letter("Carbon dioxide", c), 1);  // the choice's text
  EXPECT_EQ(parse_choice_letter("I do not know", c), -1);
}

TEST(Scoring, ToolCallCompare) {
  const json gold = {{"name", "convert_units"}, {"arguments", {{"value", 12}, {"from", "miles"}, {"to", "kilometres"}}}};
  EXPECT_TRUE(tool_call_correct(gold, "convert_units", R"({"to": "kilometres", "value": 12.0, "from": "miles"})"));
  EXPECT_FALSE(tool_call_correct(gold, "convert", R"({"to": "kilometres", "value": 12, "from": "miles"})"));
  EXPECT_FALSE(tool_call_correct(gold, "convert_units", R"({"to": "kilometres", "value": 12})"));  // missing
  EXPECT_FALSE(tool_call_correct(gold, "convert_units", R"({"to": "kilometres", "value": 12, "from": "miles", "x": 1})"));  // extra
  EXPECT_FALSE(tool_call_correct(gold, "convert_units", R"({"to": "kilometres", "value": "12", "from": "miles"})"));  // "12" is no number
  EXPECT_FALSE(tool_call_correct(gold, "convert_units", R"({"to": "Kilometres", "value": 12, "from": "miles"})"));
  EXPECT_FALSE(tool_call_correct(gold, "convert_units", "{not json"));
  const json empty = {{"name", "now"}, {"arguments", json::object()}};
  EXPECT_TRUE(tool_call_correct(empty, "now", ""));
  EXPECT_TRUE(arguments_equal(json::parse(R"({"a": [1, {"b": true}]})"), json::parse(R"({"a": [1.0, {"b": true}]})")));
  EXPECT_FALSE(arguments_equal(json::parse(R"({"a": [1, 2]})"), json::parse(R"({"a": [2, 1]})")));
}

TEST(Scoring, WilsonInterval) {
  // The closed form (Wilson 1927), values computed independently in Python.
  auto [lo, hi] = wilson_interval(7, 10);
  EXPECT_NEAR(lo, 0.396778, 1e-5);
  EXPECT_NEAR(hi, 0.892208, 1e-5);
  std::tie(lo, hi) = wilson_interval(0, 12);
  EXPECT_EQ(lo, 0.0);
  EXPECT_NEAR(hi, 0.242494, 1e-5);
  std::tie(lo, hi) = wilson_interval(140, 140);
  EXPECT_NEAR(lo, 0.973294, 1e-5);
  EXPECT_EQ(hi, 1.0);
  std::tie(lo, hi) = wilson_interval(0, 0);
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 1.0);
}

TEST(Scoring, MultipleChoicePrompt) {
  EXPECT_EQ(multiple_choice_prompt("Question: Which gas?\nAnswer:", {" oxygen", " neon"}),
            "Question: Which gas?\nA. oxygen\nB. neon\nAnswer with the letter of the correct choice.");
}

}  // namespace
}  // namespace lp::eval
