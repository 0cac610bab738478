// How a generated reply is scored against a suite item's gold answer (docs/EVALUATION.md, "Running evaluate"),
// and the statistics of the results. Pure functions, unit-tested in tests/unit/eval/scoring_test.cpp.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lp::eval {

// Exact-match normalisation: ASCII letters lower-cased, punctuation removed (apostrophes and hyphens inside a
// word too: "don't" -> "dont"), the articles "a", "an", "the" dropped, whitespace runs collapsed to one space,
// trimmed. Non-ASCII bytes are kept as they are.
std::string normalize_answer(std::string_view s);

// Numbers written in text: optional sign, digits with optional thousands commas ("1,234"), optional decimals;
// a trailing "%" or unit is ignored. The last one in the text, or nullopt.
std::optional<double> last_number(std::string_view s);
// Equal within 1e-6 relative (1e-9 absolute near zero).
bool numbers_equal(double a, double b);
// The gold value as a number: a JSON number, or a string that is one number and nothing else.
std::optional<double> numeric_answer(const nlohmann::json& gold);

// generate: numeric gold -> the reply's last number equals it numerically; otherwise the normalised gold equals
// the normalised whole reply, its first line, or the text after its last "answer:" / "answer is".
bool generate_correct(const nlohmann::json& gold, std::string_view reply);

// multiple_choice under --method generate: the chosen index, or -1. The letter after the last "answer is" /
// "answer:", else the first standalone capital letter A.. within the choices (a letter followed by ".", ")", ":",
// end or space: "B", "(B)", "B. Paris"), else the choice whose normalised text equals the normalised reply.
int parse_choice_letter(std::string_view reply, const std::vector<std::string>& choices);

// tool_call: the call names the gold function and its arguments equal the gold arguments: the same keys (an extra
// or a missing one is wrong), strings equal exactly, numbers numerically (12 == 12.0), lists element by element,
// objects recursively. arguments_text: the model's JSON text of the arguments (invalid JSON: wrong).
bool arguments_equal(const nlohmann::json& gold, const nlohmann::json& got);
bool tool_call_correct(const nlohmann::json& gold, std::string_view name, std::string_view arguments_text);

// 95% Wilson score interval of `correct` successes in `total` trials ({0, 1} when total is 0).
std::pair<double, double> wilson_interval(int correct, int total, double z = 1.959963984540054);

// The multiple_choice prompt under --method generate: the question, the choices as "A. text" lines (each
// choice trimmed), and "Answer with the letter of the correct choice."
std::string multiple_choice_prompt(const std::string& question, const std::vector<std::string>& choices);

}  // namespace lp::eval
