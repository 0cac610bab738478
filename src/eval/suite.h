// Evaluation suites (issue #14, docs/EVALUATION.md): question files in JSON Lines, one item a line:
//   {"id", "category", "type": "multiple_choice"|"generate"|"tool_call", "question", "choices"?, "answer", "tools"?, "system"?}
// The built-in suite (data/eval/suite.jsonl) is compiled into lp_eval; users bring their own in the same format.
// Reading is strict: a malformed line, an unknown field, category or type is an error naming the file, the line
// number and the field, so a typo never silently drops or mis-scores a question.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace lp::eval {

enum class ItemType { MultipleChoice, Generate, ToolCall };
const char* item_type_name(ItemType t);

// The six categories of the built-in suite, in report order. Custom suites use the same six (an unknown
// category is an error: per-category rows of different suites stay comparable).
const std::vector<std::string>& suite_categories();

struct SuiteItem {
  std::string id, category;
  ItemType type = ItemType::Generate;
  std::string question, system;        // system: "" when absent
  std::vector<std::string> choices;    // multiple_choice: two or more, as written
  int answer_index = -1;               // multiple_choice
  nlohmann::json answer;               // generate: string or number; tool_call: {"name", "arguments": {...}}
  nlohmann::ordered_json tools;        // tool_call: the OpenAI tools array ({"type": "function", "function": {...}})
  int line = 0;                        // 1-based line in the file
};

struct Suite {
  std::string name;    // "builtin" or the file name as given
  std::string sha256;  // of the file's bytes
  std::vector<SuiteItem> items;
};

// Parses JSON Lines text; `origin` names the file in errors ("suite.jsonl:12: field 'answer': ...").
// Blank lines are skipped; ids must be unique.
Suite parse_suite(std::string_view text, const std::string& origin);
// "builtin" (or "") -> the embedded data/eval/suite.jsonl; otherwise a .jsonl file.
Suite load_suite(const std::string& spec);

// Keeps the items of `categories` (empty: all; each name must be one of suite_categories(), else an error)
// and at most `limit_per_category` items of each category in file order (0: no limit).
Suite select_items(const Suite& suite, const std::vector<std::string>& categories, int limit_per_category);

}  // namespace lp::eval
