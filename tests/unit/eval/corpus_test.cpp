// The built-in evaluation corpus: large and varied enough, compiled in unchanged, and disjoint from the
// calibration sets in data/calib (text used to choose quantization parameters must not judge them).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "eval/corpus.h"

namespace lp::eval {
namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return {};
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(trim(line));
  return out;
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

void collect_strings(const nlohmann::json& v, std::vector<std::string>& out) {
  if (v.is_string()) out.push_back(v.get<std::string>());
  else if (v.is_structured())
    for (const auto& x : v) collect_strings(x, out);
}

// Every string value of every calibration record (text, chat messages, tool calls, documents).
std::vector<std::string> calibration_texts() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(LP_SOURCE_DIR) / "data" / "calib")) {
    if (e.path().extension() != ".jsonl") continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);)
      if (!trim(line).empty()) collect_strings(nlohmann::json::parse(line), out);
  }
  return out;
}

TEST(EvalCorpus, BuiltinCorpusIsAFewThousandVariedLines) {
  const Corpus c = builtin_corpus();
  const auto lines = lines_of(c.text);
  EXPECT_GE(lines.size(), 2500u);
  // prose, dialogue, code in several languages, our own docs, other languages and scripts
  for (const char* needle : {"The Night Ferry", "Mechanic:", "Interviewer:", "def ", "#include", "function ", "fn main", "SELECT",
                             "Source file docs/", "Français", "Вечер на даче", "小さな本屋", "雨后的公园", "시장 골목", "Ένα καλοκαιρινό"})
    EXPECT_NE(c.text.find(needle), std::string::npos) << needle;
}

TEST(EvalCorpus, CompiledCorpusIsTheDataFile) {
  std::ifstream in(fs::path(LP_SOURCE_DIR) / "data" / "eval" / "corpus.txt", std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(builtin_corpus().text, ss.str()) << "rebuild: the embedded corpus is stale";
}

TEST(EvalCorpus, NoLineIsSharedWithCalibrationData) {
  const auto calib = calibration_texts();
  ASSERT_GT(calib.size(), 100u) << "data/calib/*.jsonl not found or empty";
  std::set<std::string> calib_lines;
  for (const auto& t : calib)
    for (auto& l : lines_of(t))
      if (l.size() >= 32) calib_lines.insert(l);  // shorter lines are boilerplate: "#include <vector>", "set -euo pipefail"
  std::vector<std::string> shared;
  for (const auto& l : lines_of(builtin_corpus().text))
    if (calib_lines.count(l)) shared.push_back(l);
  EXPECT_TRUE(shared.empty()) << shared.size() << " shared lines, first: " << shared.front();
}

TEST(EvalCorpus, NoEightWordPassageIsSharedWithCalibrationData) {
  // Catches a copied sentence even when it was re-wrapped or re-indented.
  constexpr size_t kWords = 8;
  std::set<std::string> shingles;
  for (const auto& t : calibration_texts()) {
    const auto w = words_of(t);
    for (size_t i = 0; i + kWords <= w.size(); ++i) {
      std::string s;
      for (size_t j = i; j < i + kWords; ++j) s += w[j] + ' ';
      shingles.insert(std::move(s));
    }
  }
  const auto w = words_of(builtin_corpus().text);
  std::vector<std::string> shared;
  for (size_t i = 0; i + kWords <= w.size(); ++i) {
    std::string s;
    for (size_t j = i; j < i + kWords; ++j) s += w[j] + ' ';
    if (shingles.count(s)) shared.push_back(s);
  }
  EXPECT_TRUE(shared.empty()) << shared.size() << " shared passages, first: " << shared.front();
}

}  // namespace
}  // namespace lp::eval
