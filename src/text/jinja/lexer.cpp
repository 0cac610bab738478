#include "text/jinja/lexer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "text/jinja/utf8.h"

namespace lp::text::jinja {
namespace {

enum class TagKind { Start, Variable, Block, Comment, End };

// A tag as seen by its neighbouring text: which kind and which whitespace modifiers it carries.
struct TagEdge {
  TagKind kind = TagKind::Start;
  bool minus = false;  // '-' on the side facing the text
  bool plus = false;   // '+' on the side facing the text
};

struct RawText {
  std::string text;
  int line, column;
  TagEdge before, after;
  size_t token_index;  // where the text token goes in the output
};

bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string apply_whitespace_control(const RawText& t) {
  std::string s = t.text;
  bool consumed_newline = false;
  if (t.before.minus) {
    size_t i = 0;
    while (i < s.size() && is_py_space(s[i])) ++i;
    s.erase(0, i);
  } else if ((t.before.kind == TagKind::Block || t.before.kind == TagKind::Comment) && !t.before.plus && !s.empty() &&
             s[0] == '\n') {
    s.erase(0, 1);  // trim_blocks
    consumed_newline = true;
  }
  if (t.after.minus) {
    size_t n = s.size();
    while (n > 0 && is_py_space(s[n - 1])) --n;
    s.resize(n);
  } else if ((t.after.kind == TagKind::Block || t.after.kind == TagKind::Comment) && !t.after.plus) {
    // lstrip_blocks: drop spaces/tabs between the line start and the tag.
    size_t nl = s.rfind('\n');
    size_t line_start = nl == std::string::npos ? 0 : nl + 1;
    bool at_line_start = nl != std::string::npos || consumed_newline || t.before.kind == TagKind::Start;
    if (at_line_start && s.find_first_not_of(" \t", line_start) == std::string::npos) s.resize(line_start);
  }
  return s;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  std::vector<Token> run() {
    TagEdge previous;  // Start
    while (pos_ < src_.size()) {
      size_t open = find_tag_open(pos_);
      RawText text{src_.substr(pos_, open - pos_), line_, column_, previous, {}, tokens_.size()};
      advance_to(open);
      if (open == src_.size()) {
        text.after.kind = TagKind::End;
        texts_.push_back(text);
        break;
      }
      char kind_char = src_[open + 1];
      char modifier = open + 2 < src_.size() ? src_[open + 2] : '\0';
      text.after.kind = kind_char == '{' ? TagKind::Variable : kind_char == '%' ? TagKind::Block : TagKind::Comment;
      text.after.minus = modifier == '-';
      text.after.plus = modifier == '+' && text.after.kind != TagKind::Variable;
      texts_.push_back(text);
      previous = lex_tag(text.after.kind, modifier == '-' || text.after.plus);
    }
    if (texts_.empty() || texts_.back().after.kind != TagKind::End) {
      texts_.push_back(RawText{"", line_, column_, previous, {TagKind::End}, tokens_.size()});
    }
    return assemble();
  }

 private:
  [[noreturn]] void error(const std::string& msg, int line, int column) const {
    fail("chat template line {}, column {}: {}", line, column, msg);
  }

  size_t find_tag_open(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i)
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return src_.size();
  }

  void advance_to(size_t target) {
    for (; pos_ < target; ++pos_) {
      if (src_[pos_] == '\n') {
        ++line_;
        column_ = 1;
      } else if ((static_cast<unsigned char>(src_[pos_]) & 0xC0) != 0x80) {
        ++column_;
      }
    }
  }

  void emit(TokenType type, std::string value, int line, int column) {
    tokens_.push_back(Token{type, std::move(value), line, column});
  }

  // Lexes one tag starting at pos_ ("{{", "{%" or "{#"); returns the edge the following text sees.
  TagEdge lex_tag(TagKind kind, bool has_modifier) {
    int tag_line = line_, tag_column = column_;
    advance_to(pos_ + 2 + (has_modifier ? 1 : 0));
    if (kind == TagKind::Comment) {
      size_t close = src_.find("#}", pos_);
      if (close == std::string::npos) error("unterminated comment", tag_line, tag_column);
      TagEdge edge{TagKind::Comment, close > pos_ && src_[close - 1] == '-', close > pos_ && src_[close - 1] == '+'};
      advance_to(close + 2);
      return edge;
    }
    emit(kind == TagKind::Variable ? TokenType::VarBegin : TokenType::BlockBegin, "", tag_line, tag_column);
    const char close_char = kind == TagKind::Variable ? '}' : '%';
    int depth = 0;
    while (true) {
      while (pos_ < src_.size() && is_py_space(src_[pos_])) advance_to(pos_ + 1);
      if (pos_ >= src_.size()) error(kind == TagKind::Variable ? "unterminated '{{'" : "unterminated '{%'", tag_line, tag_column);
      // Tag end, possibly with a whitespace modifier; not inside brackets (dict literals contain "}}").
      if (depth == 0) {
        for (char mod : {'-', '+', '\0'}) {
          size_t at = pos_ + (mod ? 1 : 0);
          if (mod && src_[pos_] != mod) continue;
          if (at + 1 < src_.size() && src_[at] == close_char && src_[at + 1] == '}') {
            if (mod == '+' && kind == TagKind::Variable) continue;
            emit(kind == TagKind::Variable ? TokenType::VarEnd : TokenType::BlockEnd, "", line_, column_);
            advance_to(at + 2);
            TagEdge edge{kind, mod == '-', mod == '+'};
            if (kind == TagKind::Block) maybe_raw_block(edge);
            return edge;
          }
        }
      }
      lex_expression_token(depth);
    }
  }

  // After "{% raw %}", the text up to "{% endraw %}" is literal.
  void maybe_raw_block(TagEdge& edge) {
    size_t n = tokens_.size();
    if (n < 3 || tokens_[n - 2].type != TokenType::Name || tokens_[n - 2].value != "raw" ||
        tokens_[n - 3].type != TokenType::BlockBegin)
      return;
    int line = tokens_[n - 3].line, column = tokens_[n - 3].column;
    tokens_.resize(n - 3);
    size_t search = pos_;
    while (true) {
      size_t open = src_.find("{%", search);
      if (open == std::string::npos) error("missing {% endraw %}", line, column);
      size_t i = open + 2;
      bool minus_left = i < src_.size() && src_[i] == '-';
      if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
      while (i < src_.size() && is_py_space(src_[i])) ++i;
      if (src_.compare(i, 6, "endraw") != 0) {
        search = open + 2;
        continue;
      }
      i += 6;
      while (i < src_.size() && is_py_space(src_[i])) ++i;
      bool minus_right = i < src_.size() && src_[i] == '-';
      if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
      if (src_.compare(i, 2, "%}") != 0) {
        search = open + 2;
        continue;
      }
      RawText raw{src_.substr(pos_, open - pos_), line_, column_, TagEdge{TagKind::Variable, edge.minus, false},
                  {TagKind::Variable, minus_left, false},
                  tokens_.size()};
      texts_.push_back(raw);
      advance_to(i + 2);
      edge = TagEdge{TagKind::Block, minus_right, false};
      return;
    }
  }

  void lex_expression_token(int& depth) {
    int line = line_, column = column_;
    char c = src_[pos_];
    if (c == '"' || c == '\'') {
      emit(TokenType::String, lex_string(c, line, column), line, column);
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t i = pos_;
      while (i < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[i])) || src_[i] == '_')) ++i;
      bool is_float = false;
      if (i + 1 < src_.size() && src_[i] == '.' && std::isdigit(static_cast<unsigned char>(src_[i + 1]))) {
        is_float = true;
        ++i;
        while (i < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[i])) || src_[i] == '_')) ++i;
      }
      if (i < src_.size() && (src_[i] == 'e' || src_[i] == 'E')) {
        size_t j = i + 1;
        if (j < src_.size() && (src_[j] == '+' || src_[j] == '-')) ++j;
        if (j < src_.size() && std::isdigit(static_cast<unsigned char>(src_[j]))) {
          is_float = true;
          i = j;
          while (i < src_.size() && std::isdigit(static_cast<unsigned char>(src_[i]))) ++i;
        }
      }
      std::string text;
      for (size_t k = pos_; k < i; ++k)
        if (src_[k] != '_') text += src_[k];
      advance_to(i);
      emit(is_float ? TokenType::Float : TokenType::Integer, text, line, column);
      return;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t i = pos_;
      while (i < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[i])) || src_[i] == '_')) ++i;
      emit(TokenType::Name, src_.substr(pos_, i - pos_), line, column);
      advance_to(i);
      return;
    }
    static const char* const two_char_ops[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : two_char_ops) {
      if (src_.compare(pos_, 2, op) == 0) {
        emit(TokenType::Operator, op, line, column);
        advance_to(pos_ + 2);
        return;
      }
    }
    if (std::strchr("+-*/%~<>=()[]{},.:|", c) && c != '\0') {
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      emit(TokenType::Operator, std::string(1, c), line, column);
      advance_to(pos_ + 1);
      return;
    }
    error(fmt::format("unexpected character '{}'", c), line, column);
  }

  std::string lex_string(char quote, int line, int column) {
    std::string out;
    size_t i = pos_ + 1;
    while (true) {
      if (i >= src_.size()) error("unterminated string literal", line, column);
      char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) error("unterminated string literal", line, column);
      char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case 'a': out += '\a'; break;
        case '0': out += '\0'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '\n': break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + digits > src_.size() ||
              !std::all_of(src_.begin() + static_cast<ptrdiff_t>(i), src_.begin() + static_cast<ptrdiff_t>(i + digits),
                           [](char h) { return std::isxdigit(static_cast<unsigned char>(h)); }))
            error("invalid \\" + std::string(1, e) + " escape in string literal", line, column);
          auto cp = static_cast<char32_t>(std::stoul(src_.substr(i, digits), nullptr, 16));
          if (cp > 0x10FFFF) error("\\U escape outside the Unicode range", line, column);
          utf8::append(out, cp);
          i += digits;
          break;
        }
        default:
          out += '\\';
          out += e;
      }
    }
    advance_to(i + 1);
    return out;
  }

  std::vector<Token> assemble() {
    std::vector<Token> out;
    out.reserve(tokens_.size() + texts_.size() + 1);
    size_t next_text = 0;
    for (size_t i = 0; i <= tokens_.size(); ++i) {
      while (next_text < texts_.size() && texts_[next_text].token_index == i) {
        const RawText& t = texts_[next_text++];
        std::string s = apply_whitespace_control(t);
        if (!s.empty()) out.push_back(Token{TokenType::Text, std::move(s), t.line, t.column});
      }
      if (i < tokens_.size()) out.push_back(std::move(tokens_[i]));
    }
    out.push_back(Token{TokenType::Eof, "", line_, column_});
    return out;
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1, column_ = 1;
  std::vector<Token> tokens_;
  std::vector<RawText> texts_;
};

// jinja2 normalises newlines and drops one trailing newline (keep_trailing_newline=False).
std::string normalize_source(const std::string& source) {
  std::string s;
  s.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      s += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      s += source[i];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

std::vector<Token> tokenize(const std::string& source) { return Lexer(normalize_source(source)).run(); }

}  // namespace lp::text::jinja
