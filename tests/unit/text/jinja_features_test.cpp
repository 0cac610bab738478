// Every case in tests/data/templates/features.json: a small template exercising one Jinja feature,
// with the output (or the exception) that jinja2 configured like transformers produces. The oracle
// test re-checks the stored expectations against jinja2 itself when python3-jinja2 is installed.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "text/jinja/chat_template.h"

namespace {

using ojson = nlohmann::ordered_json;

const ojson& feature_cases() {
  static const ojson cases = [] {
    std::ifstream in(std::string(LP_SOURCE_DIR) + "/tests/data/templates/features.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ojson::parse(ss.str());
  }();
  return cases;
}

class JinjaFeature : public ::testing::TestWithParam<size_t> {};

TEST_P(JinjaFeature, MatchesJinja2) {
  const ojson& c = feature_cases().at(GetParam());
  const std::string source = c["template"];
  if (c.contains("expected")) {
    lp::text::ChatTemplate tmpl(source);
    std::string out = tmpl.render_context(c["context"]);
    EXPECT_EQ(out, c["expected"].get<std::string>()) << "template: " << source;
  } else {
    ASSERT_TRUE(c.contains("error"));
    EXPECT_THROW(
        {
          lp::text::ChatTemplate tmpl(source);
          (void)tmpl.render_context(c["context"]);
        },
        lp::Error)
        << "jinja2 raised " << c["error"].get<std::string>() << " for: " << source;
  }
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string n = feature_cases().at(info.param)["name"];
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Features, JinjaFeature, ::testing::Range<size_t>(0, feature_cases().size()), case_name);

TEST(JinjaFeatures, CoverEnoughCases) { EXPECT_GE(feature_cases().size(), 80u); }

}  // namespace
