// Value semantics that decide byte-exact output: Python float repr, json.dumps formatting, str()/repr().
#include <gtest/gtest.h>

#include "core/error.h"
#include "text/jinja/value.h"

namespace lp::text::jinja {
namespace {

TEST(JinjaValue, PythonFloatRepr) {
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(0.5), "0.5");
  EXPECT_EQ(python_float_repr(-2.25), "-2.25");
  EXPECT_EQ(python_float_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_repr(123456789.5), "123456789.5");
  EXPECT_EQ(python_float_repr(1e-4), "0.0001");
  EXPECT_EQ(python_float_repr(1e-5), "1e-05");
  EXPECT_EQ(python_float_repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(python_float_repr(2.5e300), "2.5e+300");
  EXPECT_EQ(python_float_repr(0.0), "0.0");
}

TEST(JinjaValue, JsonDumpsLikePython) {
  auto v = Value::from_json(nlohmann::ordered_json::parse(R"({"z": 1, "a": [true, null, 2.5, "é\n"], "e": {}})"));
  EXPECT_EQ(v.to_json(), R"({"z": 1, "a": [true, null, 2.5, "é\n"], "e": {}})");
  EXPECT_EQ(v.to_json(-1, "", "", true), R"({"a": [true, null, 2.5, "é\n"], "e": {}, "z": 1})");
  EXPECT_EQ(v.to_json(2), "{\n  \"z\": 1,\n  \"a\": [\n    true,\n    null,\n    2.5,\n    \"é\\n\"\n  ],\n  \"e\": {}\n}");
  EXPECT_EQ(Value("ü👋\x01").to_json(-1, "", "", false, true), R"("\u00fc\ud83d\udc4b\u0001")");
  EXPECT_EQ(Value(1.0).to_json(), "1.0");
}

TEST(JinjaValue, StrAndRepr) {
  EXPECT_EQ(Value::none().to_str(), "None");
  EXPECT_EQ(Value(true).to_str(), "True");
  EXPECT_EQ(Value().to_str(), "");
  EXPECT_EQ(Value::list({Value("it's"), Value(int64_t{1}), Value::none()}).to_str(), "[\"it's\", 1, None]");
  EXPECT_EQ(Value::list({Value("a")}, true).to_str(), "('a',)");
  Value d = Value::dict();
  d.dict_ref().set("k", Value("v"));
  d.dict_ref().set(dict_key(Value(int64_t{3})), Value(false));
  EXPECT_EQ(d.to_str(), "{'k': 'v', 3: False}");
  EXPECT_EQ(d.to_json(), R"({"k": "v", "3": false})");
}

TEST(JinjaValue, EqualityFollowsPython) {
  EXPECT_TRUE(values_equal(Value(int64_t{1}), Value(1.0)));
  EXPECT_TRUE(values_equal(Value(true), Value(int64_t{1})));
  EXPECT_FALSE(values_equal(Value("1"), Value(int64_t{1})));
  EXPECT_TRUE(values_equal(Value(), Value()));
  EXPECT_FALSE(values_equal(Value(), Value::none()));
  EXPECT_TRUE(value_less(Value("a"), Value("b")));
  EXPECT_THROW(value_less(Value("a"), Value(int64_t{1})), lp::Error);
}

}  // namespace
}  // namespace lp::text::jinja
