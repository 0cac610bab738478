#include "eval/scoring.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>

namespace lp::eval {

using nlohmann::json;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_ascii_punct(char c) { return static_cast<unsigned char>(c) < 128 && std::ispunct(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Numbers in order of appearance (see last_number).
std::vector<double> numbers_in(std::string_view s) {
  std::vector<double> out;
  size_t i = 0;
  while (i < s.size()) {
    if (!is_digit(s[i]) || (i > 0 && (is_digit(s[i - 1]) || std::isalpha(static_cast<unsigned char>(s[i - 1]))))) {
      ++i;
      continue;
    }
    const bool negative = i > 0 && s[i - 1] == '-' && (i < 2 || !is_alnum(s[i - 2]));
    std::string digits;
    size_t j = i;
    while (j < s.size()) {
      if (is_digit(s[j])) {
        digits += s[j++];
      } else if (s[j] == ',' && j + 3 < s.size() && is_digit(s[j + 1]) && is_digit(s[j + 2]) && is_digit(s[j + 3]) &&
                 (j + 4 >= s.size() || !is_digit(s[j + 4]))) {
        j += 1;  // thousands separator: exactly three digits follow
      } else {
        break;
      }
    }
    if (j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) {
      digits += '.';
      ++j;
      while (j < s.size() && is_digit(s[j])) digits += s[j++];
    }
    double v = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), v);
    out.push_back(negative ? -v : v);
    i = j;
  }
  return out;
}

// The text after the last "answer is" / "answer:" (case-insensitive), up to the end of its line; npos when none.
std::optional<std::string_view> after_answer_marker(std::string_view reply) {
  const std::string l = lower(reply);
  size_t best = std::string::npos, len = 0;
  for (std::string_view m : {"answer is", "answer:"}) {
    const size_t p = l.rfind(m);
    if (p != std::string::npos && (best == std::string::npos || p > best)) best = p, len = m.size();
  }
  if (best == std::string::npos) return std::nullopt;
  std::string_view rest = reply.substr(best + len);
  rest = rest.substr(0, rest.find('\n'));
  return trim(rest);
}

}  // namespace

std::string normalize_answer(std::string_view s) {
  std::string cleaned;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) cleaned += ' ';
    else if (is_ascii_punct(c)) continue;
    else cleaned += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::istringstream words(cleaned);
  std::string w, out;
  while (words >> w) {
    if (w == "a" || w == "an" || w == "the") continue;
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

std::optional<double> last_number(std::string_view s) {
  const auto v = numbers_in(s);
  if (v.empty()) return std::nullopt;
  return v.back();
}

bool numbers_equal(double a, double b) {
  const double d = std::fabs(a - b);
  return d <= 1e-9 || d <= 1e-6 * std::max(std::fabs(a), std::fabs(b));
}

std::optional<double> numeric_answer(const json& gold) {
  if (gold.is_number()) return gold.get<double>();
  if (!gold.is_string()) return std::nullopt;
  std::string s(trim(gold.get<std::string>()));
  std::string plain;
  for (char c : s)
    if (c != ',') plain += c;
  if (plain.empty()) return std::nullopt;
  const char* b = plain.data() + (plain[0] == '+' ? 1 : 0);
  double v = 0;
  auto [p, ec] = std::from_chars(b, plain.data() + plain.size(), v);
  if (ec != std::errc() || p != plain.data() + plain.size()) return std::nullopt;
  return v;
}

bool generate_correct(const json& gold, std::string_view reply) {
  if (const auto g = numeric_answer(gold)) {
    const auto got = last_number(reply);
    return got && numbers_equal(*g, *got);
  }
  const std::string want = normalize_answer(gold.get<std::string>());
  if (want.empty()) return false;
  std::vector<std::string_view> candidates = {reply};
  const std::string_view t = trim(reply);
  candidates.push_back(t.substr(0, t.find('\n')));
  if (auto a = after_answer_marker(reply)) candidates.push_back(*a);
  for (auto c : candidates)
    if (normalize_answer(c) == want) return true;
  return false;
}

int parse_choice_letter(std::string_view reply, const std::vector<std::string>& choices) {
  const int n = static_cast<int>(choices.size());
  auto letter_at = [&](std::string_view s, size_t i, bool any_case) -> int {
    char c = s[i];
    if (any_case) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (c < 'A' || c >= 'A' + n) return -1;
    if (i > 0 && is_alnum(s[i - 1])) return -1;
    if (i + 1 < s.size() && std::string_view(".):,*\n\r").find(s[i + 1]) == std::string_view::npos &&
        !(any_case && s[i + 1] == ' '))
      return -1;
    return c - 'A';
  };
  if (auto a = after_answer_marker(reply)) {
    std::string_view r = *a;
    size_t i = 0;
    while (i < r.size() && (r[i] == '(' || r[i] == '*' || r[i] == ' ' || r[i] == '"')) ++i;
    if (i < r.size()) {
      const int k = letter_at(r, i, true);
      if (k >= 0) return k;
    }
  }
  for (size_t i = 0; i < reply.size(); ++i) {
    const int k = letter_at(reply, i, false);
    if (k >= 0) return k;
  }
  const std::string r = normalize_answer(reply);
  for (int k = 0; k < n; ++k)
    if (!r.empty() && normalize_answer(choices[k]) == r) return k;
  return -1;
}

bool arguments_equal(const json& gold, const json& got) {
  if (gold.is_number() && got.is_number()) return numbers_equal(gold.get<double>(), got.get<double>());
  if (gold.is_string() && got.is_string()) return gold.get<std::string>() == got.get<std::string>();
  if (gold.is_array() && got.is_array()) {
    if (gold.size() != got.size()) return false;
    for (size_t i = 0; i < gold.size(); ++i)
      if (!arguments_equal(gold[i], got[i])) return false;
    return true;
  }
  if (gold.is_object() && got.is_object()) {
    if (gold.size() != got.size()) return false;
    for (const auto& [k, v] : gold.items())
      if (!got.contains(k) || !arguments_equal(v, got[k])) return false;
    return true;
  }
  return gold == got;  // booleans, null
}

bool tool_call_correct(const json& gold, std::string_view name, std::string_view arguments_text) {
  if (name != gold["name"].get<std::string>()) return false;
  const json args = trim(arguments_text).empty() ? json::object() : json::parse(arguments_text, nullptr, false);
  if (args.is_discarded() || !args.is_object()) return false;
  return arguments_equal(gold["arguments"], args);
}

std::pair<double, double> wilson_interval(int correct, int total, double z) {
  if (total <= 0) return {0.0, 1.0};
  const double n = total, p = correct / n, z2 = z * z;
  const double denom = 1 + z2 / n;
  const double center = (p + z2 / (2 * n)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom;
  // The bounds are exact at the ends (rounding would leave 1e-17 above 0).
  return {correct == 0 ? 0.0 : std::max(0.0, center - half), correct == total ? 1.0 : std::min(1.0, center + half)};
}

std::string multiple_choice_prompt(const std::string& question, const std::vector<std::string>& choices) {
  std::string q(trim(question));
  // A question written for log-likelihood scoring ends with an "Answer:" cue; the letter instruction replaces it.
  const size_t nl = q.rfind('\n');
  const std::string last = lower(trim(std::string_view(q).substr(nl == std::string::npos ? 0 : nl + 1)));
  if (last == "answer:" && nl != std::string::npos) q = std::string(trim(std::string_view(q).substr(0, nl)));
  std::string out = q + "\n";
  for (size_t i = 0; i < choices.size(); ++i) out += std::string(1, static_cast<char>('A' + i)) + ". " + std::string(trim(choices[i])) + "\n";
  out += "Answer with the letter of the correct choice.";
  return out;
}

}  // namespace lp::eval
