// Python str behaviour the templates rely on (strip/split/replace/title/format/% ...), over UTF-8
// with code point semantics.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "text/jinja/value.h"

namespace lp::text::jinja {

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right);  // chars: none = whitespace
std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right);
std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count);
std::string py_title(const std::string& s);       // str.title()
std::string py_capitalize(const std::string& s);  // str.capitalize()
std::string jinja_title(const std::string& s);    // jinja2's |title filter
bool starts_or_ends(const std::string& s, const Value& affix, bool start);  // affix: str or tuple of str
int64_t count_substr(const std::string& s, const std::string& sub);
int64_t cp_index(const std::string& s, size_t byte_pos);  // byte offset -> code point index
std::string py_format(const std::string& fmt_str, const CallArgs& a);      // str.format
std::string py_percent_format(const std::string& f, const Value& args);   // str % args
std::string html_escape(const std::string& s);                            // markupsafe.escape
std::vector<std::string> split_lines(const std::string& s);

}  // namespace lp::text::jinja
