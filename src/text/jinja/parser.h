// Recursive-descent parser from tokens to the syntax tree, following jinja2's operator precedence
// (filters bind tighter than arithmetic: `messages|length - 1` is `(messages|length) - 1`).
#pragma once
#include <memory>
#include <string>

#include "text/jinja/ast.h"

namespace lp::text::jinja {

// Throws lp::Error "chat template line L, column C: ..." for invalid or unsupported syntax.
std::shared_ptr<const Template> parse(const std::string& source);

}  // namespace lp::text::jinja
