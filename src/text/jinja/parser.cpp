#include "text/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "core/error.h"
#include "text/jinja/lexer.h"

namespace lp::text::jinja {
namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::Text: return "template text";
    case TokenType::VarBegin: return "'{{'";
    case TokenType::VarEnd: return "'}}'";
    case TokenType::BlockBegin: return "'{%'";
    case TokenType::BlockEnd: return "'%}'";
    case TokenType::Eof: return "end of template";
    case TokenType::String: return "string literal";
    default: return "'" + t.value + "'";
  }
}

constexpr int kMaxNesting = 200;  // keeps recursion (and the interpreter's) well inside the stack

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::shared_ptr<const Template> run() {
    auto tmpl = std::make_shared<Template>();
    std::string end = parse_body(tmpl->body, {});
    (void)end;
    return tmpl;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::Operator && peek(ahead).value == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::Name && peek(ahead).value == name;
  }
  [[noreturn]] void error_at(const Token& t, const std::string& msg) const {
    fail("chat template line {}, column {}: {}", t.line, t.column, msg);
  }
  void expect_op(const char* op) {
    if (!is_op(op)) error_at(peek(), fmt::format("expected '{}', got {}", op, describe(peek())));
    next();
  }
  void expect_block_end() {
    if (peek().type != TokenType::BlockEnd) error_at(peek(), fmt::format("expected '%}}', got {}", describe(peek())));
    next();
  }
  std::string expect_name(const char* what) {
    if (peek().type != TokenType::Name) error_at(peek(), fmt::format("expected {}, got {}", what, describe(peek())));
    return next().value;
  }

  struct NestingGuard {
    NestingGuard(Parser& p, const Token& at) : parser(p) {
      if (++parser.nesting_ > kMaxNesting) parser.error_at(at, fmt::format("template nested deeper than {} levels", kMaxNesting));
    }
    ~NestingGuard() { --parser.nesting_; }
    Parser& parser;
  };

  ExprPtr make(Expr::Kind kind, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }
  StmtPtr make_stmt(Stmt::Kind kind, const Token& at) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = at.line;
    s->column = at.column;
    return s;
  }

  // Parses statements until "{% <one of end_tags>"; consumes that tag name and returns it.
  std::string parse_body(Body& body, std::initializer_list<const char*> end_tags, const Token* opener = nullptr) {
    while (true) {
      const Token& t = peek();
      switch (t.type) {
        case TokenType::Eof:
          if (end_tags.size() == 0) return "";
          error_at(opener ? *opener : t, fmt::format("unclosed block: missing {{% {} %}}", *(end_tags.end() - 1)));
        case TokenType::Text: {
          auto s = make_stmt(Stmt::Kind::Text, t);
          s->text = next().value;
          body.push_back(std::move(s));
          break;
        }
        case TokenType::VarBegin: {
          auto s = make_stmt(Stmt::Kind::Output, next());
          s->expr = parse_tuple(true);
          if (peek().type != TokenType::VarEnd) error_at(peek(), fmt::format("expected '}}}}', got {}", describe(peek())));
          next();
          body.push_back(std::move(s));
          break;
        }
        case TokenType::BlockBegin: {
          const Token& name = peek(1);
          if (name.type != TokenType::Name) error_at(name, fmt::format("expected a statement name, got {}", describe(name)));
          for (const char* end : end_tags) {
            if (name.value == end) {
              next();
              next();
              return name.value;
            }
          }
          next();
          body.push_back(parse_statement());
          break;
        }
        default: error_at(t, fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& tag = next();
    NestingGuard guard(*this, tag);
    const std::string& name = tag.value;
    if (name == "if") return parse_if(tag);
    if (name == "for") return parse_for(tag);
    if (name == "set") return parse_set(tag);
    if (name == "macro") return parse_macro(tag);
    if (name == "call") return parse_call_block(tag);
    if (name == "filter") return parse_filter_block(tag);
    if (name == "generation") {
      auto s = make_stmt(Stmt::Kind::Block, tag);
      expect_block_end();
      parse_body(s->body, {"endgeneration"}, &tag);
      expect_block_end();
      return s;
    }
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) error_at(tag, fmt::format("'{}' outside of a loop", name));
      auto s = make_stmt(name == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, tag);
      expect_block_end();
      return s;
    }
    if (name.rfind("end", 0) == 0 || name == "elif" || name == "else")
      error_at(tag, fmt::format("unexpected '{}'", name));
    error_at(tag, fmt::format("unsupported statement '{}'", name));
  }

  StmtPtr parse_if(const Token& tag) {
    auto s = make_stmt(Stmt::Kind::If, tag);
    while (true) {
      ExprPtr cond = parse_tuple(false);
      expect_block_end();
      Body body;
      std::string end = parse_body(body, {"elif", "else", "endif"}, &tag);
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "elif") continue;
      expect_block_end();
      if (end == "else") {
        parse_body(s->else_body, {"endif"}, &tag);
        expect_block_end();
      }
      return s;
    }
  }

  Target parse_target(bool allow_attribute) {
    Target target;
    bool parens = is_op("(");
    if (parens) next();
    target.names.push_back(expect_name("a variable name"));
    if (allow_attribute && is_op(".")) {
      next();
      target.attribute = expect_name("an attribute name");
      return target;
    }
    while (is_op(",")) {
      next();
      target.is_tuple = true;
      if (peek().type != TokenType::Name || is_name("in")) break;
      target.names.push_back(expect_name("a variable name"));
    }
    if (parens) expect_op(")");
    return target;
  }

  StmtPtr parse_for(const Token& tag) {
    auto s = make_stmt(Stmt::Kind::For, tag);
    s->target = parse_target(false);
    if (!is_name("in")) error_at(peek(), fmt::format("expected 'in', got {}", describe(peek())));
    next();
    s->expr = parse_tuple(false);
    if (is_name("if")) {
      next();
      s->condition = parse_expression(true);
    }
    if (is_name("recursive")) error_at(peek(), "recursive for loops are not supported");
    expect_block_end();
    ++loop_depth_;
    std::string end = parse_body(s->body, {"else", "endfor"}, &tag);
    --loop_depth_;
    expect_block_end();
    if (end == "else") {
      parse_body(s->else_body, {"endfor"}, &tag);
      expect_block_end();
    }
    return s;
  }

  StmtPtr parse_set(const Token& tag) {
    auto s = make_stmt(Stmt::Kind::Set, tag);
    s->target = parse_target(true);
    if (is_op("=")) {
      next();
      s->expr = parse_tuple(true);
      expect_block_end();
      return s;
    }
    if (peek().type != TokenType::BlockEnd) error_at(peek(), fmt::format("expected '=' or '%}}', got {}", describe(peek())));
    next();
    s->kind = Stmt::Kind::SetBlock;
    parse_body(s->body, {"endset"}, &tag);
    expect_block_end();
    return s;
  }

  void parse_params(std::vector<MacroParam>& params) {
    expect_op("(");
    while (!is_op(")")) {
      MacroParam p;
      p.name = expect_name("a parameter name");
      if (is_op("=")) {
        next();
        p.default_value = parse_expression(true);
      }
      params.push_back(std::move(p));
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  StmtPtr parse_macro(const Token& tag) {
    auto s = make_stmt(Stmt::Kind::Macro, tag);
    s->text = expect_name("a macro name");
    parse_params(s->params);
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    parse_body(s->body, {"endmacro"}, &tag);
    loop_depth_ = saved;
    if (peek().type == TokenType::Name) next();
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block(const Token& tag) {
    auto s = make_stmt(Stmt::Kind::CallBlock, tag);
    if (is_op("(")) parse_params(s->params);
    s->expr = parse_expression(true);
    if (s->expr->kind != Expr::Kind::Call) error_at(tag, "{% call %} expects a macro call");
    expect_block_end();
    parse_body(s->body, {"endcall"}, &tag);
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block(const Token& tag) {
    auto s = make_stmt(Stmt::Kind::FilterBlock, tag);
    ExprPtr chain;  // Filter nodes whose innermost child is null: the block's rendered text goes there
    do {
      if (chain) next();
      auto f = make(Expr::Kind::Filter, peek());
      f->name = expect_name("a filter name");
      if (is_op("(")) parse_call_args(f->args);
      if (chain) f->children.push_back(std::move(chain));
      chain = std::move(f);
    } while (is_op("|"));
    s->expr = std::move(chain);
    expect_block_end();
    parse_body(s->body, {"endfilter"}, &tag);
    expect_block_end();
    return s;
  }

  // ---- expressions ----

  bool at_tuple_end() const {
    const Token& t = peek();
    if (t.type == TokenType::VarEnd || t.type == TokenType::BlockEnd || t.type == TokenType::Eof) return true;
    if (t.type == TokenType::Operator && (t.value == ")" || t.value == "]" || t.value == "}")) return true;
    return false;
  }

  ExprPtr parse_tuple(bool with_condexpr) {
    const Token& start = peek();
    ExprPtr first = parse_expression(with_condexpr);
    if (!is_op(",")) return first;
    auto tuple = make(Expr::Kind::TupleLit, start);
    tuple->children.push_back(std::move(first));
    while (is_op(",")) {
      next();
      if (at_tuple_end() || is_name("if")) break;
      tuple->children.push_back(parse_expression(with_condexpr));
    }
    return tuple;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    NestingGuard guard(*this, peek());
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      auto cond = make(Expr::Kind::Conditional, next());
      cond->children.push_back(parse_or());
      cond->children.push_back(std::move(expr));
      if (is_name("else")) {
        next();
        cond->children.push_back(parse_condexpr());
      } else {
        cond->children.push_back(nullptr);
      }
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr binary(const Token& at, std::string op, ExprPtr left, ExprPtr right) {
    auto e = make(Expr::Kind::Binary, at);
    e->op = std::move(op);
    e->children.push_back(std::move(left));
    e->children.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const Token& t = next();
      left = binary(t, "or", std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const Token& t = next();
      left = binary(t, "and", std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    NestingGuard guard(*this, peek());
    if (is_name("not")) {
      auto e = make(Expr::Kind::Unary, next());
      e->op = "not";
      e->children.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token& start = peek();
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      const Token& t = peek();
      if (t.type == TokenType::Operator &&
          (t.value == "==" || t.value == "!=" || t.value == "<" || t.value == "<=" || t.value == ">" || t.value == ">=")) {
        op = t.value;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && is_name("in", 1)) {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::Compare, start);
        cmp->children.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->children.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      left = binary(t, t.value, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const Token& t = next();
      left = binary(t, "~", std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      left = binary(t, t.value, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token& t = next();
      left = binary(t, "**", std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    NestingGuard guard(*this, peek());
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      node = make(Expr::Kind::Unary, peek());
      node->op = next().value;
      node->children.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr literal(const Token& at, Value v) {
    auto e = make(Expr::Kind::Literal, at);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    switch (t.type) {
      case TokenType::Name: {
        next();
        if (t.value == "true" || t.value == "True") return literal(t, Value(true));
        if (t.value == "false" || t.value == "False") return literal(t, Value(false));
        if (t.value == "none" || t.value == "None") return literal(t, Value::none());
        auto e = make(Expr::Kind::Name, t);
        e->name = t.value;
        return e;
      }
      case TokenType::String: {
        std::string s = next().value;
        while (peek().type == TokenType::String) s += next().value;
        return literal(t, Value(std::move(s)));
      }
      case TokenType::Integer: {
        next();
        try {
          return literal(t, Value(static_cast<int64_t>(std::stoll(t.value))));
        } catch (const std::exception&) {
          error_at(t, "integer literal out of range");
        }
      }
      case TokenType::Float: next(); return literal(t, Value(std::strtod(t.value.c_str(), nullptr)));
      case TokenType::Operator:
        if (t.value == "(") {
          next();
          if (is_op(")")) {
            next();
            return make(Expr::Kind::TupleLit, t);
          }
          ExprPtr inner = parse_tuple(true);
          expect_op(")");
          return inner;
        }
        if (t.value == "[") {
          next();
          auto e = make(Expr::Kind::ListLit, t);
          while (!is_op("]")) {
            e->children.push_back(parse_expression(true));
            if (!is_op(",")) break;
            next();
          }
          expect_op("]");
          return e;
        }
        if (t.value == "{") {
          next();
          auto e = make(Expr::Kind::DictLit, t);
          while (!is_op("}")) {
            e->children.push_back(parse_expression(true));
            expect_op(":");
            e->children.push_back(parse_expression(true));
            if (!is_op(",")) break;
            next();
          }
          expect_op("}");
          return e;
        }
        break;
      default: break;
    }
    error_at(t, fmt::format("unexpected {}", describe(t)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        const Token& dot = next();
        const Token& attr = next();
        if (attr.type == TokenType::Name) {
          auto e = make(Expr::Kind::GetAttr, dot);
          e->name = attr.value;
          e->children.push_back(std::move(node));
          node = std::move(e);
        } else if (attr.type == TokenType::Integer) {
          if (attr.value.size() > 18) error_at(attr, "integer attribute out of range");
          auto e = make(Expr::Kind::GetItem, dot);
          e->children.push_back(std::move(node));
          e->children.push_back(literal(attr, Value(static_cast<int64_t>(std::stoll(attr.value)))));
          node = std::move(e);
        } else {
          error_at(attr, fmt::format("expected an attribute name, got {}", describe(attr)));
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& open = next();
    ExprPtr parts[3];
    int colons = 0;
    while (!is_op("]")) {
      if (is_op(":")) {
        next();
        if (++colons > 2) error_at(peek(), "too many ':' in slice");
        continue;
      }
      if (parts[colons]) error_at(peek(), fmt::format("expected ']' or ':', got {}", describe(peek())));
      parts[colons] = parse_expression(true);
    }
    expect_op("]");
    if (colons == 0) {
      if (!parts[0]) error_at(open, "empty subscript");
      auto e = make(Expr::Kind::GetItem, open);
      e->children.push_back(std::move(node));
      e->children.push_back(std::move(parts[0]));
      return e;
    }
    auto e = make(Expr::Kind::Slice, open);
    e->children.push_back(std::move(node));
    for (auto& p : parts) e->children.push_back(std::move(p));
    return e;
  }

  void parse_call_args(std::vector<Argument>& args) {
    expect_op("(");
    while (!is_op(")")) {
      if (is_op("*") || is_op("**")) error_at(peek(), "*args/**kwargs in calls are not supported");
      Argument a;
      if (peek().type == TokenType::Name && is_op("=", 1)) {
        a.name = next().value;
        next();
      }
      a.value = parse_expression(true);
      args.push_back(std::move(a));
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(Expr::Kind::Call, peek());
    parse_call_args(e->args);
    e->children.push_back(std::move(node));
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        next();
        auto e = make(Expr::Kind::Filter, peek());
        e->name = expect_name("a filter name");
        while (is_op(".")) {  // dotted filter names
          next();
          e->name += "." + expect_name("a filter name");
        }
        if (is_op("(")) parse_call_args(e->args);
        e->children.push_back(std::move(node));
        node = std::move(e);
      } else if (is_name("is")) {
        next();
        auto e = make(Expr::Kind::Test, peek());
        if (is_name("not")) {
          next();
          e->negated = true;
        }
        e->name = expect_name("a test name");
        if (is_op("(")) {
          parse_call_args(e->args);
        } else {
          const Token& t = peek();
          bool arg_start = t.type == TokenType::String || t.type == TokenType::Integer || t.type == TokenType::Float ||
                           (t.type == TokenType::Name && t.value != "else" && t.value != "or" && t.value != "and" &&
                            t.value != "if" && t.value != "in" && t.value != "not" && t.value != "is") ||
                           is_op("[") || is_op("{");
          if (arg_start) {
            Argument a;
            a.value = parse_postfix(parse_primary());
            e->args.push_back(std::move(a));
          }
        }
        e->children.push_back(std::move(node));
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int nesting_ = 0;
};

}  // namespace

std::shared_ptr<const Template> parse(const std::string& source) { return Parser(tokenize(source)).run(); }

}  // namespace lp::text::jinja
