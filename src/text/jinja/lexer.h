// Jinja lexer with the environment transformers uses: trim_blocks=True, lstrip_blocks=True,
// keep_trailing_newline=False. Whitespace control ("-" and "+" modifiers) is resolved here, so the
// parser only sees final text and tag tokens.
#pragma once
#include <string>
#include <vector>

namespace lp::text::jinja {

enum class TokenType {
  Text,        // literal template text (whitespace control already applied)
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,
  Integer,
  Float,
  Operator,  // + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
  Eof,
};

struct Token {
  TokenType type;
  std::string value;  // Text content, identifier, decoded string literal, number text or operator
  int line = 1;
  int column = 1;
};

// Throws lp::Error "chat template line L, column C: ..." on malformed input (unterminated tag/string, bad char).
std::vector<Token> tokenize(const std::string& source);

}  // namespace lp::text::jinja
