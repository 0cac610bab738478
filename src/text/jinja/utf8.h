// Python str semantics over UTF-8: indices, lengths and slices count code points, not bytes.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace lp::text::jinja::utf8 {

std::vector<char32_t> decode(std::string_view s);  // invalid bytes decode as U+FFFD
std::string encode(const std::vector<char32_t>& cps);
void append(std::string& out, char32_t cp);
size_t length(std::string_view s);
bool is_ascii(std::string_view s);
bool is_space(char32_t c);  // Python str.isspace for the characters templates meet
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);
bool is_alpha(char32_t c);
std::string upper(std::string_view s);
std::string lower(std::string_view s);

}  // namespace lp::text::jinja::utf8
