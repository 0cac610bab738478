// Error reporting: syntax errors name line and column, render errors name the template line,
// raise_exception surfaces the template's message.
#include <gtest/gtest.h>

#include "core/error.h"
#include "text/jinja/chat_template.h"

namespace {

std::string parse_error(const std::string& source) {
  try {
    lp::text::ChatTemplate t(source);
  } catch (const lp::Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string render_error(const std::string& source, const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object()) {
  lp::text::ChatTemplate t(source);
  try {
    t.render_context(ctx);
  } catch (const lp::Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(parse_error("line one\n{{ 1 + }}"), "chat template line 2, column 8: unexpected '}}'");
  EXPECT_EQ(parse_error("a\nb\n  {% frobnicate %}"), "chat template line 3, column 6: unsupported statement 'frobnicate'");
  EXPECT_EQ(parse_error("{% if x %}\nnever closed"), "chat template line 1, column 4: unclosed block: missing {% endif %}");
  EXPECT_EQ(parse_error("{% for x in y %}{% endif %}"), "chat template line 1, column 20: unexpected 'endif'");
  EXPECT_EQ(parse_error("{{ 'unterminated }}"), "chat template line 1, column 4: unterminated string literal");
  EXPECT_EQ(parse_error("ok\n{{ x"), "chat template line 2, column 1: unterminated '{{'");
  EXPECT_EQ(parse_error("{# open comment"), "chat template line 1, column 1: unterminated comment");
  EXPECT_EQ(parse_error("{{ a ; b }}"), "chat template line 1, column 6: unexpected character ';'");
  EXPECT_EQ(parse_error("{% break %}"), "chat template line 1, column 4: 'break' outside of a loop");
  EXPECT_EQ(parse_error("\n\n{{ 'x'|nosuchfilter }}"), "chat template line 3, column 8: no filter named 'nosuchfilter'");
  EXPECT_EQ(parse_error("{% if x is nosuchtest %}{% endif %}"), "chat template line 1, column 12: no test named 'nosuchtest'");
  EXPECT_EQ(parse_error("{% include 'x.jinja' %}"), "chat template line 1, column 4: unsupported statement 'include'");
}

TEST(JinjaErrors, RenderErrorsNameTheLine) {
  EXPECT_EQ(render_error("a\nb\n{{ missing.attr }}"), "chat template line 3: 'missing' is undefined (reading attribute 'attr')");
  EXPECT_EQ(render_error("{% for m in messages %}\n{{ m.content + 1 }}\n{% endfor %}",
                         {{"messages", {{{"content", "x"}}}}}),
            "chat template line 2: unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_EQ(render_error("{{ [].append(1) }}"), "chat template line 1: access to attribute 'append' of 'list' object is unsafe");
  EXPECT_EQ(render_error("{{ 1 // 0 }}"), "chat template line 1: integer division or modulo by zero");
}

TEST(JinjaErrors, RaiseExceptionCarriesTheMessage) {
  EXPECT_EQ(render_error("{% if messages|length == 0 %}\n{{ raise_exception('No messages!') }}\n{% endif %}",
                         {{"messages", nlohmann::ordered_json::array()}}),
            "chat template line 2: raise_exception: No messages!");
}

TEST(JinjaErrors, HostileTemplatesFailCleanly) {
  EXPECT_NE(render_error("{{ 'x' * 1000000000000 }}").find("exceeds"), std::string::npos);
  EXPECT_NE(render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("recursion"), std::string::npos);
  EXPECT_NE(render_error("{{ range(100000000)|length }}").find("too large"), std::string::npos);
  EXPECT_NE(render_error("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
  std::string deep(5000, '(');
  EXPECT_NE(parse_error("{{ " + deep + "1" + std::string(5000, ')') + " }}").find("nested"), std::string::npos);
}

}  // namespace
