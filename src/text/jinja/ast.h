// Syntax tree of a parsed template. Expressions and statements are plain tagged structs; the
// interpreter switches on `kind`. Every node keeps its source line for error messages.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace lp::text::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Argument {
  std::string name;  // empty: positional
  ExprPtr value;
};

struct Expr {
  enum class Kind {
    Literal,    // value
    Name,       // name
    ListLit,    // children
    TupleLit,   // children
    DictLit,    // children as key, value, key, value...
    GetAttr,    // children[0] . name
    GetItem,    // children[0] [ children[1] ]
    Slice,      // children[0] [ children[1] : children[2] : children[3] ]  (null = omitted)
    Call,       // children[0] ( args )
    Filter,     // children[0] | name ( args ); children empty for {% filter %} blocks
    Test,       // children[0] is [not] name ( args )
    Unary,      // op: "-", "+", "not"
    Binary,     // op: + - * / // % ** ~ and or
    Compare,    // children[0] ops[i] children[i+1] ...
    Conditional,  // children[1] if children[0] else children[2] (children[2] may be null)
  };
  Kind kind;
  int line = 0;
  int column = 0;
  Value value;
  std::string name;
  std::string op;
  bool negated = false;
  std::vector<std::string> ops;
  std::vector<ExprPtr> children;
  std::vector<Argument> args;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Assignment target: a name, "ns.attr", or a tuple of names.
struct Target {
  std::vector<std::string> names;  // >1: tuple unpacking
  std::string attribute;           // non-empty: names[0].attribute = ...
  bool is_tuple = false;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Stmt {
  enum class Kind { Text, Output, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, Break, Continue, Block };
  Kind kind;
  int line = 0;
  int column = 0;
  std::string text;                                 // Text; Macro name
  ExprPtr expr;                                     // Output, Set value, For iterable, CallBlock call, FilterBlock filter
  ExprPtr condition;                                // For "if" filter
  std::vector<std::pair<ExprPtr, Body>> branches;  // If / elif
  Body body;                                        // For, SetBlock, Macro, CallBlock, FilterBlock, Block
  Body else_body;                                   // If, For
  Target target;                                    // For, Set, SetBlock
  std::vector<MacroParam> params;                   // Macro, CallBlock (caller params)
};

struct Template {
  Body body;
};

}  // namespace lp::text::jinja
