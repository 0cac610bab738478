#include "text/jinja/pystr.h"

#include <algorithm>

#include "core/error.h"
#include "text/jinja/builtin_args.h"
#include "text/jinja/builtins.h"
#include "text/jinja/utf8.h"

namespace lp::text::jinja {


std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<char32_t> cps = utf8::decode(s);
  std::vector<char32_t> set;
  bool whitespace = chars.is_undefined() || chars.is_none();
  if (!whitespace) set = utf8::decode(need_str(chars, "strip chars"));
  auto strip_char = [&](char32_t c) {
    return whitespace ? utf8::is_space(c) : std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_char(cps[b])) ++b;
  if (right)
    while (e > b && strip_char(cps[e - 1])) --e;
  return utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(b), cps.begin() + static_cast<ptrdiff_t>(e)));
}

std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep.is_undefined() || sep.is_none()) {
    std::vector<char32_t> cps = utf8::decode(s);
    std::vector<std::string> words;
    if (!from_right) {
      size_t i = 0;
      while (i < cps.size()) {
        while (i < cps.size() && utf8::is_space(cps[i])) ++i;
        if (i >= cps.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
          size_t e = cps.size();
          while (e > i && utf8::is_space(cps[e - 1])) --e;
          words.push_back(utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(i), cps.begin() + static_cast<ptrdiff_t>(e))));
          break;
        }
        size_t j = i;
        while (j < cps.size() && !utf8::is_space(cps[j])) ++j;
        words.push_back(utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(i), cps.begin() + static_cast<ptrdiff_t>(j))));
        i = j;
      }
    } else {
      size_t i = cps.size();
      while (i > 0) {
        while (i > 0 && utf8::is_space(cps[i - 1])) --i;
        if (i == 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
          size_t b = 0;
          while (b < i && utf8::is_space(cps[b])) ++b;
          words.push_back(utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(b), cps.begin() + static_cast<ptrdiff_t>(i))));
          break;
        }
        size_t j = i;
        while (j > 0 && !utf8::is_space(cps[j - 1])) --j;
        words.push_back(utf8::encode(std::vector<char32_t>(cps.begin() + static_cast<ptrdiff_t>(j), cps.begin() + static_cast<ptrdiff_t>(i))));
        i = j;
      }
      std::reverse(words.begin(), words.end());
    }
    parts = std::move(words);
  } else {
    const std::string& d = need_str(sep, "split separator");
    if (d.empty()) fail("split(): empty separator");
    if (!from_right) {
      size_t start = 0;
      while (true) {
        size_t at = s.find(d, start);
        if (at == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
          parts.push_back(s.substr(start));
          break;
        }
        parts.push_back(s.substr(start, at - start));
        start = at + d.size();
      }
    } else {
      size_t end = s.size();
      while (true) {
        size_t at = end >= d.size() ? s.rfind(d, end - d.size()) : std::string::npos;
        if (at == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) {
          parts.push_back(s.substr(0, end));
          break;
        }
        parts.push_back(s.substr(at + d.size(), end - at - d.size()));
        end = at;
      }
      std::reverse(parts.begin(), parts.end());
    }
  }
  std::vector<Value> out;
  for (auto& p : parts) out.emplace_back(std::move(p));
  return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  std::string out;
  if (old.empty()) {
    std::vector<char32_t> cps = utf8::decode(s);
    int64_t done = 0;
    for (char32_t c : cps) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      utf8::append(out, c);
    }
    if (count < 0 || done < count) out += repl;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t at = s.find(old, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += repl;
    start = at + old.size();
    ++done;
    if (out.size() > kMaxStringBytes) fail("replace(): result exceeds {} bytes", kMaxStringBytes);
  }
  out.append(s, start, std::string::npos);
  return out;
}

// Python str.title(): uppercase a cased letter that follows an uncased one, lowercase the rest.
std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : utf8::decode(s)) {
    bool cased = utf8::is_alpha(c);
    utf8::append(out, cased ? (prev_cased ? utf8::to_lower(c) : utf8::to_upper(c)) : c);
    prev_cased = cased;
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::vector<char32_t> cps = utf8::decode(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) utf8::append(out, i == 0 ? utf8::to_upper(cps[i]) : utf8::to_lower(cps[i]));
  return out;
}

// jinja2's title filter: capitalise each chunk after whitespace, '-', and opening brackets.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool at_word_start = true;
  for (char32_t c : utf8::decode(s)) {
    bool boundary = utf8::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (boundary) {
      utf8::append(out, c);
      at_word_start = true;
    } else {
      utf8::append(out, at_word_start ? utf8::to_upper(c) : utf8::to_lower(c));
      at_word_start = false;
    }
  }
  return out;
}

bool starts_or_ends(const std::string& s, const Value& affix, bool start) {
  auto one = [&](const std::string& a) {
    if (a.size() > s.size()) return false;
    return start ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) {
    for (const auto& a : affix.items())
      if (one(need_str(a, start ? "startswith" : "endswith"))) return true;
    return false;
  }
  return one(need_str(affix, start ? "startswith" : "endswith"));
}

int64_t count_substr(const std::string& s, const std::string& sub) {
  if (sub.empty()) return static_cast<int64_t>(utf8::length(s)) + 1;
  int64_t n = 0;
  for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
  return n;
}

int64_t cp_index(const std::string& s, size_t byte_pos) {
  return static_cast<int64_t>(utf8::length(std::string_view(s).substr(0, byte_pos)));
}

// str.format with {}, {0} and {name} fields (no format specs beyond plain substitution).
std::string py_format(const std::string& fmt_str, const CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt_str.size(); ++i) {
    char c = fmt_str[i];
    if (c == '{' && i + 1 < fmt_str.size() && fmt_str[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt_str.size() && fmt_str[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt_str.find('}', i);
      if (close == std::string::npos) fail("format(): unmatched '{{'");
      std::string field = fmt_str.substr(i + 1, close - i - 1);
      if (field.find_first_of(":!") != std::string::npos) fail("format(): format specs are not supported");
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_index >= a.positional.size()) fail("format(): not enough arguments");
        v = &a.positional[auto_index++];
      } else if (std::all_of(field.begin(), field.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
        if (field.size() > 9) fail("format(): index {} out of range", field);
        size_t idx = std::stoul(field);
        if (idx >= a.positional.size()) fail("format(): index {} out of range", idx);
        v = &a.positional[idx];
      } else {
        for (const auto& [k, val] : a.keyword)
          if (k == field) v = &val;
        if (!v) fail("format(): missing keyword '{}'", field);
      }
      out += v->to_str();
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

// printf-style "%s" % args, as Python's str % operator (conversions s, r, d, i, f, %).
std::string py_percent_format(const std::string& f, const Value& args) {
  std::vector<Value> values = args.is_list() && args.list_ref().is_tuple ? args.items() : std::vector<Value>{args};
  size_t next_arg = 0;
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (++i >= f.size()) fail("incomplete format");
    char conv = f[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next_arg >= values.size()) fail("not enough arguments for format string");
    const Value& v = values[next_arg++];
    switch (conv) {
      case 's': out += v.to_str(); break;
      case 'r': out += v.repr(); break;
      case 'd':
      case 'i':
        if (!v.is_number()) fail("%{} format: a number is required, not {}", conv, v.type_name());
        out += std::to_string(v.is_float() ? static_cast<int64_t>(std::trunc(v.as_double())) : v.as_int());
        break;
      case 'f':
        if (!v.is_number()) fail("%f format: a number is required, not {}", v.type_name());
        out += fmt::format("{:.6f}", v.as_double());
        break;
      default: fail("unsupported format character '{}'", conv);
    }
  }
  // CPython only complains for tuples and non-subscriptable arguments (a list or dict is a "mapping").
  bool tuple = args.is_list() && args.list_ref().is_tuple;
  if (next_arg < values.size() && (tuple || !(args.is_list() || args.is_dict() || args.is_undefined())))
    fail("not all arguments converted during string formatting");
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      lines.push_back(cur);
      cur.clear();
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      cur += s[i];
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}


}  // namespace lp::text::jinja
