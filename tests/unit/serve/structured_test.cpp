// Tool calls, structured output and logprobs end to end on generated tiny checkpoints carrying the families'
// real chat templates (tests/data/templates): with tool_choice "required" and a schema, every seed must give a
// tool call whose arguments validate (constrained decoding makes it a guarantee, even for a random model);
// json_schema outputs must parse and validate; the HTTP stream's tool-call deltas must reassemble to the
// non-streamed answer; unsupported schema keywords are a 400 naming the keyword. The independent validator
// (ajv) and the openai client check the binary in tests/oracles/serve_tools.test.mjs.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "llama_pajamas/runtime.h"
#include "running_server.h"
#include "scratch_path.h"
#include "serve/chat_prompt.h"
#include "serve/constraints.h"
#include "serve/server.h"
#include "testgen/generate.h"

namespace lp::serve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A generated checkpoint of `family` whose tokenizer_config.json carries the real template `tmpl`.
std::string model_with_template(const std::string& family, const std::string& tmpl) {
  static std::map<std::string, std::string> dirs;
  const std::string key = family + "|" + tmpl;
  if (auto it = dirs.find(key); it != dirs.end()) return it->second;
  testgen::GenerateOptions g;
  g.family = family;
  g.seed = 5;
  const auto d = test::scratch_path("lp_tools_" + family + "_" + fs::path(tmpl).stem().string());
  testgen::generate_checkpoint(g, d);
  const fs::path cfg = d / "tokenizer_config.json";
  json tc = json::parse(read_text(cfg));
  tc["chat_template"] = read_text(fs::path(LP_SOURCE_DIR) / "tests/data/templates" / tmpl);
  std::ofstream(cfg, std::ios::binary) << tc.dump();
  return dirs[key] = d.string();
}

RuntimeOptions tools_ctx() {
  RuntimeOptions o;
  o.ctx = 2048;
  o.threads = 1;  // tiny models: one thread beats OpenMP hand-offs on a shared machine
  return o;
}

// A small JSON-schema validator for the keywords the tests use (the npm oracle uses ajv).
bool validates(const json& v, const json& s, const json& root) {
  if (s.contains("$ref")) {
    const std::string r = s["$ref"];
    return validates(v, root["$defs"][r.substr(std::string("#/$defs/").size())], root);
  }
  if (s.contains("const") && v != s["const"]) return false;
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) return false;
  if (s.contains("anyOf")) {
    bool any = false;
    for (const auto& a : s["anyOf"]) any |= validates(v, a, root);
    if (!any) return false;
  }
  if (s.contains("type") && s["type"].is_array()) {  // a list of types: any of them
    bool any = false;
    for (const auto& t : s["type"]) {
      json one = s;
      one["type"] = t;
      any |= validates(v, one, root);
    }
    return any;
  }
  if (s.contains("type")) {
    const std::string t = s["type"];
    if (t == "object") {
      if (!v.is_object()) return false;
      for (const auto& k : s.value("required", json::array()))
        if (!v.contains(k.get<std::string>())) return false;
      const json props = s.value("properties", json::object());
      for (const auto& [k, sub] : props.items())
        if (v.contains(k) && !validates(v[k], sub, root)) return false;
      if (s.value("additionalProperties", true) == false)
        for (const auto& [k, x] : v.items())
          if (!s["properties"].contains(k)) return false;
    } else if (t == "array") {
      if (!v.is_array()) return false;
      if (v.size() < s.value("minItems", 0u) || v.size() > s.value("maxItems", 1000000u)) return false;
      for (const auto& x : v)
        if (s.contains("items") && !validates(x, s["items"], root)) return false;
    } else if (t == "string") {
      if (!v.is_string()) return false;
    } else if (t == "integer") {
      if (!v.is_number_integer()) return false;
    } else if (t == "number") {
      if (!v.is_number()) return false;
    } else if (t == "boolean") {
      if (!v.is_boolean()) return false;
    } else if (t == "null") {
      if (!v.is_null()) return false;
    }
  }
  return true;
}

const json kWeatherSchema = json::parse(R"({"type": "object", "properties": {
    "city": {"type": "string", "maxLength": 10}, "days": {"type": "integer"},
    "unit": {"enum": ["celsius", "fahrenheit"]}, "hourly": {"type": "boolean"}},
  "required": ["city", "unit"], "additionalProperties": false})");

json tools_body(int seed, const std::string& choice) {
  json b = {{"messages", {{{"role", "user"}, {"content", "What is the weather in Paris?"}}}},
            {"tools", {{{"type", "function"}, {"function", {{"name", "get_weather"}, {"description", "Weather"}, {"parameters", kWeatherSchema}}}},
                       {{"type", "function"}, {"function", {{"name", "get_time"}, {"description", "Time"}, {"parameters", {{"type", "object"}, {"properties", {{"zone", {{"enum", {"UTC", "CET"}}}}}}, {"required", {"zone"}}}}}}}}},
            {"temperature", 1.0}, {"seed", seed}, {"max_tokens", 200}};
  if (choice == "named") b["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  else b["tool_choice"] = choice;
  return b;
}

struct Reply {
  ReplyMessage message;
  GenerationResult result;
};

// What the server does for a chat request, in process.
Reply run_chat(Runtime& rt, const json& body) {
  RequestDefaults d;
  GenerationRequest r = parse_chat_request(body.dump(), d);
  const ChatPrompt p = render_chat_prompt(rt.chat_template_info(), r);
  configure_generation(rt, r, &p);
  Reply out;
  out.result = rt.generate_tokens(rt.tokenize(p.text, false, true), r.config);
  out.message = reply_message(p, r, out.result.text);
  return out;
}

bool call_validates(const ReplyMessage::Call& c) {
  const json args = json::parse(c.arguments, nullptr, false);
  if (args.is_discarded()) return false;
  if (c.name == "get_weather") return validates(args, kWeatherSchema, kWeatherSchema);
  return c.name == "get_time" && args.size() == 1 && (args.value("zone", "") == "UTC" || args.value("zone", "") == "CET");
}

// Required / named on `seeds` seeds; half of them with parallel_tool_calls false. Returns the most calls one
// reply made (parallel_tool_calls true lets the grammar write several where the format has a list form).
size_t expect_valid_calls(const std::string& family, const std::string& tmpl, int seeds) {
  Runtime rt = Runtime::open(model_with_template(family, tmpl), tools_ctx());
  size_t most = 0;
  for (int seed = 0; seed < seeds; ++seed) {
    const std::string choice = seed % 2 ? "required" : "named";
    json body = tools_body(seed, choice);
    const bool parallel = seed % 4 < 2;
    if (!parallel) body["parallel_tool_calls"] = false;
    const Reply rep = run_chat(rt, body);
    if (rep.result.stop_reason == "eos") {
      EXPECT_GE(rep.message.tool_calls.size(), 1u) << family << " seed " << seed << ": " << rep.result.text;
    }
    if (!parallel) {
      EXPECT_EQ(rep.message.tool_calls.size(), 1u) << family << " seed " << seed << ": " << rep.result.text;
    }
    most = std::max(most, rep.message.tool_calls.size());
    // A model that keeps adding calls may run out of max_tokens inside one: the calls before it are whole.
    auto calls = rep.message.tool_calls;
    // (The fallback's JSON object is whole or not at all: a cut reply has no calls.)
    if (parallel && rep.result.stop_reason == "length") {
      if (!calls.empty()) calls.pop_back();
    } else {
      EXPECT_EQ(rep.result.stop_reason, "eos") << family << " seed " << seed;
    }
    for (const auto& c : calls) {
      if (choice == "named") {
        EXPECT_EQ(c.name, "get_weather");
      }
      EXPECT_TRUE(call_validates(c)) << family << " seed " << seed << ": " << c.name << " " << c.arguments;
    }
    if (rep.result.stop_reason == "eos") {
      EXPECT_EQ(chat_finish_reason(rep.result.stop_reason, rep.message), "tool_calls");
    }
  }
  return most;
}

// Seeds per randomized test: 100, or LP_TEST_SEEDS when set (scripts/test.sh's sanitizer stage runs 25: the same
// code paths, a quarter of the time under ASan; the release stage keeps 100).
int seeds() {
  static const int n = [] {
    const char* s = std::getenv("LP_TEST_SEEDS");
    return s && std::atoi(s) > 0 ? std::atoi(s) : 100;
  }();
  return n;
}

// seeds() per family (100): half with tool_choice required, half named; formats with a list of calls (Hermes,
// Mistral, the fallback) write several calls on some seeds, Llama 3 and harmony one per turn.
TEST(ToolCalling, QwenHermesCallsAlwaysValidate) { EXPECT_GT(expect_valid_calls("qwen3", "qwen3.jinja", seeds()), 1u); }
TEST(ToolCalling, Llama31CallsAlwaysValidate) { EXPECT_EQ(expect_valid_calls("llama", "meta-llama-Llama-3.1-8B-Instruct.jinja", seeds()), 1u); }
TEST(ToolCalling, MistralCallsAlwaysValidate) { EXPECT_GT(expect_valid_calls("mistral", "mistralai-Mistral-Nemo-Instruct-2407.jinja", seeds()), 1u); }
TEST(ToolCalling, GptOssHarmonyCallsAlwaysValidate) { EXPECT_EQ(expect_valid_calls("gpt-oss", "openai-gpt-oss-120b.jinja", seeds()), 1u); }
TEST(ToolCalling, Gemma3GenericCallsAlwaysValidate) { EXPECT_GT(expect_valid_calls("gemma3", "gemma3.jinja", seeds()), 1u); }

// Test-only: steers a random model to the call marker (as a model that decided to call would write it), then
// leaves every byte to the request's own constraint.
class Steer : public TokenConstraint {
 public:
  Steer(std::shared_ptr<TokenConstraint> inner, const std::vector<std::string>& bytes, std::string text)
      : inner_(std::move(inner)), bytes_(bytes), left_(std::move(text)) {}
  bool allows(int32_t t) override { return inner_->allows(t) && fits(t); }
  void mask(float* logits, int n) override {
    inner_->mask(logits, n);
    if (!left_.empty())
      for (int i = 0; i < n; ++i)
        if (!fits(i)) logits[i] = -std::numeric_limits<float>::infinity();
  }
  void accept(int32_t t) override {
    if (!left_.empty()) left_.erase(0, bytes_[static_cast<size_t>(t)].size());
    inner_->accept(t);
  }
  bool complete() const override { return inner_->complete(); }

 private:
  bool fits(int32_t t) const {
    if (left_.empty()) return true;
    if (t < 0 || static_cast<size_t>(t) >= bytes_.size()) return false;
    const std::string& b = bytes_[static_cast<size_t>(t)];
    return !b.empty() && b.size() <= left_.size() && left_.compare(0, b.size(), b) == 0;
  }
  std::shared_ptr<TokenConstraint> inner_;
  const std::vector<std::string>& bytes_;
  std::string left_;
};

std::vector<std::string> vocab_bytes(const Runtime& rt) {
  std::vector<std::string> out(static_cast<size_t>(rt.info().n_vocab));
  for (int32_t i = 0; i < rt.info().n_vocab; ++i) {
    if (rt.is_end_of_generation(i)) continue;
    try {
      out[static_cast<size_t>(i)] = rt.token_bytes(i);
    } catch (const std::exception&) {
    }
  }
  return out;
}

// tool_choice auto with "strict": true tools: the model may answer in text or stop, and once it writes the
// format's call marker every call must validate. Even seeds are steered to the marker (`steers`, in turn), odd
// seeds are the random model's own choice; a third of the seeds set parallel_tool_calls false (at most one call).
void expect_strict_auto_calls(const std::string& family, const std::string& tmpl, const std::vector<std::string>& steers) {
  Runtime rt = Runtime::open(model_with_template(family, tmpl), tools_ctx());
  const std::vector<std::string> bytes = vocab_bytes(rt);
  int calls = 0;
  for (int seed = 0; seed < seeds(); ++seed) {
    json body = tools_body(seed, "auto");
    for (auto& t : body["tools"]) t["function"]["strict"] = true;
    const bool parallel = seed % 3 != 0;
    if (!parallel) body["parallel_tool_calls"] = false;
    body["max_tokens"] = seed % 2 ? 60 : 300;
    RequestDefaults d;
    GenerationRequest r = parse_chat_request(body.dump(), d);
    const ChatPrompt p = render_chat_prompt(rt.chat_template_info(), r);
    configure_generation(rt, r, &p);
    ASSERT_TRUE(r.config.constraint) << "strict tools under tool_choice auto must constrain";
    const bool steered = seed % 2 == 0;
    if (steered) r.config.constraint = std::make_shared<Steer>(r.config.constraint, bytes, steers[static_cast<size_t>(seed / 2) % steers.size()]);
    const GenerationResult res = rt.generate_tokens(rt.tokenize(p.text, false, true), r.config);
    const ReplyMessage m = reply_message(p, r, res.text);
    auto made = m.tool_calls;
    if (res.stop_reason == "eos") {
      if (steered) {
        EXPECT_GE(made.size(), 1u) << family << " seed " << seed << ": " << res.text;
      }
      if (!parallel) {
        EXPECT_LE(made.size(), 1u) << family << " seed " << seed << ": " << res.text;
      }
    } else {
      // max_tokens cuts the last call, as it cuts any output; parallel calls may go on until it does.
      if (steered) {
        EXPECT_TRUE(parallel) << family << " seed " << seed << ": " << res.text;
      }
      if (!made.empty()) made.pop_back();
    }
    for (const auto& c : made) {
      ++calls;
      EXPECT_TRUE(call_validates(c)) << family << " seed " << seed << ": " << c.name << " " << c.arguments << "\n" << res.text;
    }
  }
  EXPECT_GE(calls, (seeds() + 1) / 2) << family;  // every steered (even) seed makes at least one call
}

TEST(ToolCalling, QwenHermesStrictAutoCallsValidate) {
  expect_strict_auto_calls("qwen3", "qwen3.jinja", {"Sure. <tool_call>", "<think>\nThe weather tool.\n</think>\n\n<tool_call>", "<tool_call>"});
}
TEST(ToolCalling, Llama31StrictAutoCallsValidate) {
  expect_strict_auto_calls("llama", "meta-llama-Llama-3.1-8B-Instruct.jinja", {"{", "<|python_tag|>"});
}
TEST(ToolCalling, MistralStrictAutoCallsValidate) {
  expect_strict_auto_calls("mistral", "mistralai-Mistral-Nemo-Instruct-2407.jinja", {"Sure. [TOOL_CALLS]", "[TOOL_CALLS]"});
}
TEST(ToolCalling, GptOssHarmonyStrictAutoCallsValidate) {
  expect_strict_auto_calls("gpt-oss", "openai-gpt-oss-120b.jinja",
                           {"<|channel|>commentary to=functions.", "<|channel|>analysis<|message|>Use the tool.<|end|><|start|>assistant to=functions."});
}
TEST(ToolCalling, Gemma3GenericStrictAutoCallsValidate) { expect_strict_auto_calls("gemma3", "gemma3.jinja", {"{", " {"}); }

// Without strict tools and with parallel calls allowed, tool_choice auto leaves the model free.
TEST(ToolCalling, AutoWithoutStrictIsUnconstrained) {
  Runtime rt = Runtime::open(model_with_template("qwen3", "qwen3.jinja"), tools_ctx());
  RequestDefaults d;
  GenerationRequest r = parse_chat_request(tools_body(0, "auto").dump(), d);
  const ChatPrompt p = render_chat_prompt(rt.chat_template_info(), r);
  configure_generation(rt, r, &p);
  EXPECT_FALSE(r.config.constraint);
}

TEST(ToolCalling, HistoryWithToolResultsRenders) {
  Runtime rt = Runtime::open(model_with_template("qwen3", "qwen3.jinja"), tools_ctx());
  json body = tools_body(1, "auto");
  body["messages"].push_back({{"role", "assistant"}, {"content", nullptr},
                              {"tool_calls", {{{"id", "call_1"}, {"type", "function"}, {"function", {{"name", "get_time"}, {"arguments", "{\"zone\": \"UTC\"}"}}}}}}});
  body["messages"].push_back({{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "12:00"}});
  RequestDefaults d;
  GenerationRequest r = parse_chat_request(body.dump(), d);
  const ChatPrompt p = render_chat_prompt(rt.chat_template_info(), r);
  EXPECT_NE(p.text.find("<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}\n</tool_call>"), std::string::npos) << p.text;
  EXPECT_NE(p.text.find("<tool_response>\n12:00\n</tool_response>"), std::string::npos) << p.text;
  EXPECT_NE(p.text.find("\"name\": \"get_weather\""), std::string::npos) << "tools in the system prompt";
  // Gemma 3 has no tool support: the generic system prompt and tool results as user turns.
  Runtime gemma = Runtime::open(model_with_template("gemma3", "gemma3.jinja"), tools_ctx());
  const ChatPrompt gp = render_chat_prompt(gemma.chat_template_info(), r);
  EXPECT_NE(gp.text.find("{\"tool_calls\": [{\"name\": \"<tool name>\""), std::string::npos) << gp.text;
  EXPECT_NE(gp.text.find("Result of tool call call_1: 12:00"), std::string::npos) << gp.text;
}

TEST(Reasoning, TemplateSwitchesReachTheTemplate) {
  RequestDefaults d;
  auto render = [&](const std::string& family, const std::string& tmpl, const json& extra) {
    Runtime rt = Runtime::open(model_with_template(family, tmpl), tools_ctx());
    json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}};
    body.update(extra);
    GenerationRequest r = parse_chat_request(body.dump(), d);
    return render_chat_prompt(rt.chat_template_info(), r);
  };
  // Qwen3: enable_thinking false closes the think block in the prompt; the reply then starts outside it.
  const ChatPrompt off = render("qwen3", "qwen3.jinja", {{"chat_template_kwargs", {{"enable_thinking", false}}}});
  EXPECT_NE(off.text.find("<think>\n\n</think>"), std::string::npos) << off.text;
  EXPECT_FALSE(off.in_reasoning);
  EXPECT_TRUE(off.format.think_tags);
  // gpt-oss: reasoning_effort is the system message's "Reasoning:" line.
  const ChatPrompt low = render("gpt-oss", "openai-gpt-oss-120b.jinja", {{"reasoning_effort", "low"}});
  EXPECT_NE(low.text.find("Reasoning: low"), std::string::npos) << low.text;
  // A switch the template never reads is refused, naming it.
  try {
    render("gemma3", "gemma3.jinja", {{"reasoning_effort", "high"}});
    ADD_FAILURE() << "reasoning_effort accepted by a template without it";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param, "reasoning_effort");
  }
  try {
    render("qwen3", "qwen3.jinja", {{"chat_template_kwargs", {{"no_such_switch", 1}}}});
    ADD_FAILURE() << "unknown kwarg accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param, "chat_template_kwargs.no_such_switch");
  }
}

const json kCoverSchema = json::parse(R"({
  "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}},
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 8},
    "count": {"type": "integer"},
    "ok": {"type": "boolean"},
    "nothing": {"type": "null"},
    "kind": {"enum": ["a", "b", 3]},
    "version": {"const": "v1"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "minItems": 1, "maxItems": 3},
    "where": {"$ref": "#/$defs/point"},
    "either": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 3}]},
    "maybe": {"type": ["number", "null"]}
  },
  "required": ["name", "count", "ok", "kind", "version", "tags", "where", "either"],
  "additionalProperties": false})");

TEST(StructuredOutput, JsonSchemaOutputsValidateOnEverySeed) {
  Runtime rt = Runtime::open(model_with_template("qwen3", "qwen3.jinja"), tools_ctx());
  for (int seed = 0; seed < seeds(); ++seed) {
    json body = {{"messages", {{{"role", "user"}, {"content", "Describe a point."}}}},
                 {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "cover"}, {"strict", true}, {"schema", kCoverSchema}}}}},
                 {"temperature", 1.0}, {"seed", seed}, {"max_tokens", 400}};
    const Reply rep = run_chat(rt, body);
    EXPECT_EQ(rep.result.stop_reason, "eos") << seed;
    json v;
    ASSERT_NO_THROW(v = json::parse(rep.message.content)) << seed << ": " << rep.message.content;
    EXPECT_TRUE(validates(v, kCoverSchema, kCoverSchema)) << seed << ": " << rep.message.content;
  }
}

TEST(StructuredOutput, JsonObjectMode) {
  Runtime rt = Runtime::open(model_with_template("llama", "meta-llama-Llama-3.1-8B-Instruct.jinja"), tools_ctx());
  for (int seed = 0; seed < 20; ++seed) {
    json body = {{"messages", {{{"role", "user"}, {"content", "JSON please"}}}}, {"response_format", {{"type", "json_object"}}},
                 {"temperature", 1.0}, {"seed", seed}, {"max_tokens", 300}};
    const Reply rep = run_chat(rt, body);
    if (rep.result.stop_reason != "eos") continue;  // an unbounded object may run out of tokens
    json v;
    ASSERT_NO_THROW(v = json::parse(rep.message.content)) << rep.message.content;
    EXPECT_TRUE(v.is_object());
  }
}

TEST(StructuredOutput, UnsupportedKeywordsAreNamed) {
  Runtime rt = Runtime::open(model_with_template("qwen3", "qwen3.jinja"), tools_ctx());
  for (const char* kw : {"pattern", "minimum", "oneOf", "format", "patternProperties"}) {
    json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "string"}, {kw, kw == std::string("minimum") ? json(1) : json("x")}}}}}};
    json body = {{"messages", {{{"role", "user"}, {"content", "x"}}}},
                 {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "s"}, {"schema", schema}}}}}};
    try {
      run_chat(rt, body);
      ADD_FAILURE() << kw << " accepted";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_EQ(e.param, "response_format.json_schema.schema");
      EXPECT_NE(std::string(e.what()).find(std::string("'") + kw + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("/properties/a"), std::string::npos) << e.what();
    }
  }
  // In a tool's parameters: named with the tool.
  json body = tools_body(0, "required");
  body["tools"][0]["function"]["parameters"]["properties"]["city"]["pattern"] = "^[A-Z]";
  try {
    run_chat(rt, body);
    ADD_FAILURE() << "pattern accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param, "tools[0].function.parameters");
  }
}

// The HTTP server: streamed tool-call deltas reassemble to the non-streamed answer; logprobs in both forms.
class ToolsServer : public test::Running {
 public:
  explicit ToolsServer(const std::string& model) : test::Running(model, tools_ctx()) {}
  json post(const json& body, std::string* raw = nullptr) {
    auto c = client(120);
    auto res = c.Post("/v1/chat/completions", body.dump(), "application/json");
    EXPECT_TRUE(res);
    if (!res) return {};
    if (raw) *raw = res->body;
    return body.value("stream", false) ? json() : json::parse(res->body);
  }
};

std::vector<json> sse(const std::string& body) {
  std::vector<json> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("data: {", 0) == 0) out.push_back(json::parse(line.substr(6)));
  return out;
}

TEST(ToolCalling, StreamedDeltasReassembleToTheAnswer) {
  for (const auto& [family, tmpl] : {std::pair{"qwen3", "qwen3.jinja"}, std::pair{"gpt-oss", "openai-gpt-oss-120b.jinja"},
                                     std::pair{"mistral", "mistralai-Mistral-Nemo-Instruct-2407.jinja"}}) {
    ToolsServer s(model_with_template(family, tmpl));
    for (int seed = 0; seed < 5; ++seed) {
      json body = tools_body(seed, "required");
      body["max_tokens"] = 400;
      const json whole = s.post(body);
      ASSERT_TRUE(whole.contains("choices")) << whole.dump();
      const json& msg = whole["choices"][0]["message"];
      ASSERT_GE(msg["tool_calls"].size(), 1u) << whole.dump();
      // Parallel calls: a model that keeps calling may run out of max_tokens ("length").
      const std::string whole_finish = whole["choices"][0]["finish_reason"];
      EXPECT_TRUE(whole_finish == "tool_calls" || (whole_finish == "length" && msg["tool_calls"].size() > 1)) << whole.dump();
      EXPECT_TRUE(msg["content"].is_null());
      body["stream"] = true;
      std::string raw;
      s.post(body, &raw);
      json calls = json::array();
      std::string finish;
      bool saw_name_first = true;
      for (const auto& ch : sse(raw)) {
        const json& c = ch["choices"][0];
        if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
        if (!c["delta"].contains("tool_calls")) continue;
        for (const auto& d : c["delta"]["tool_calls"]) {
          const size_t i = d["index"];
          if (i == calls.size()) {
            saw_name_first &= d.contains("id") && d["function"].contains("name");
            calls.push_back({{"id", d["id"]}, {"type", "function"}, {"function", {{"name", d["function"]["name"]}, {"arguments", ""}}}});
          }
          calls[i]["function"]["arguments"] = calls[i]["function"]["arguments"].get<std::string>() + d["function"].value("arguments", "");
        }
      }
      EXPECT_TRUE(saw_name_first) << raw;
      EXPECT_EQ(finish, whole_finish) << family;
      ASSERT_EQ(calls.size(), msg["tool_calls"].size()) << raw;
      for (size_t i = 0; i < calls.size(); ++i)
        EXPECT_EQ(calls[i]["function"], msg["tool_calls"][i]["function"]) << family << " seed " << seed;
    }
  }
}

// Test-only: the reply is exactly `text`, then the end (as a model that wrote it would), through the server.
class ForceText : public TokenConstraint {
 public:
  ForceText(const Runtime& rt, const std::vector<std::string>& bytes, std::string text) : rt_(rt), bytes_(bytes), left_(std::move(text)) {}
  bool allows(int32_t t) override {
    if (left_.empty()) return rt_.is_end_of_generation(t);
    if (t < 0 || static_cast<size_t>(t) >= bytes_.size()) return false;
    const std::string& b = bytes_[static_cast<size_t>(t)];
    return !b.empty() && b.size() <= left_.size() && left_.compare(0, b.size(), b) == 0;
  }
  void mask(float* logits, int n) override {
    for (int i = 0; i < n; ++i)
      if (!allows(i)) logits[i] = -std::numeric_limits<float>::infinity();
  }
  void accept(int32_t t) override {
    if (!left_.empty()) left_.erase(0, bytes_[static_cast<size_t>(t)].size());
  }
  bool complete() const override { return false; }

 private:
  const Runtime& rt_;
  const std::vector<std::string>& bytes_;
  std::string left_;
};

// Reasoning through the HTTP server: the reply really contains Qwen3's <think> block / gpt-oss's analysis
// channel (forced by a test constraint: a random model would not write them), and the server splits it into
// message.reasoning_content and streamed delta.reasoning_content.
TEST(Reasoning, ServerSplitsThinkBlocksAndAnalysisChannel) {
  struct Case {
    const char *family, *tmpl, *reply;
  };
  for (const Case& k : {Case{"qwen3", "qwen3.jinja", "<think>\nThe user greets me.\n</think>\n\nHello there!"},
                        Case{"gpt-oss", "openai-gpt-oss-120b.jinja",
                             "<|channel|>analysis<|message|>The user greets me.<|end|><|start|>assistant<|channel|>final<|message|>Hello there!"}}) {
    const std::string model = model_with_template(k.family, k.tmpl);
    const Runtime vocab_rt = Runtime::open(model, tools_ctx());
    const std::vector<std::string> bytes = vocab_bytes(vocab_rt);
    set_constraint_wrapper_for_tests([&](std::shared_ptr<TokenConstraint>) { return std::make_shared<ForceText>(vocab_rt, bytes, k.reply); });
    {
      ToolsServer s(model);
      json body = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 100}, {"seed", 1}};
      const json whole = s.post(body);
      ASSERT_TRUE(whole.contains("choices")) << whole.dump();
      const json& msg = whole["choices"][0]["message"];
      EXPECT_EQ(msg.value("reasoning_content", json()), "The user greets me.") << k.family << ": " << whole.dump();
      EXPECT_EQ(msg["content"], "Hello there!") << k.family << ": " << whole.dump();
      EXPECT_EQ(whole["choices"][0]["finish_reason"], "stop") << whole.dump();
      body["stream"] = true;
      std::string raw;
      s.post(body, &raw);
      std::string reasoning, content;
      int reasoning_chunks = 0;
      for (const auto& ch : sse(raw)) {
        const json& d = ch["choices"][0]["delta"];
        if (d.contains("reasoning_content")) {
          reasoning += d["reasoning_content"].get<std::string>();
          ++reasoning_chunks;
        }
        if (d.contains("content") && d["content"].is_string()) content += d["content"].get<std::string>();
      }
      EXPECT_EQ(reasoning, "The user greets me.") << k.family << ": " << raw;
      EXPECT_EQ(content, "Hello there!") << k.family << ": " << raw;
      EXPECT_GE(reasoning_chunks, 1);
    }
    set_constraint_wrapper_for_tests({});
  }
}

TEST(Logprobs, ChatAndStreamCarryOnePerToken) {
  ToolsServer s(model_with_template("qwen3", "qwen3.jinja"));
  json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"temperature", 0}, {"max_tokens", 12},
               {"logprobs", true}, {"top_logprobs", 3}};
  const json whole = s.post(body);
  const json& lp = whole["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), whole["usage"]["completion_tokens"].get<size_t>());
  std::string joined;
  for (const auto& t : lp) {
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    // Greedy: the chosen token is the most likely one.
    EXPECT_DOUBLE_EQ(t["logprob"].get<double>(), t["top_logprobs"][0]["logprob"].get<double>());
    EXPECT_GE(t["top_logprobs"][0]["logprob"].get<double>(), t["top_logprobs"][1]["logprob"].get<double>());
    joined += t["token"].get<std::string>();
  }
  EXPECT_EQ(joined, whole["choices"][0]["message"]["content"].get<std::string>());
  body["stream"] = true;
  std::string raw;
  s.post(body, &raw);
  json streamed = json::array();
  for (const auto& ch : sse(raw))
    if (ch["choices"][0].contains("logprobs") && ch["choices"][0]["logprobs"].is_object())
      for (const auto& t : ch["choices"][0]["logprobs"]["content"]) streamed.push_back(t);
  // The same tokens; logprobs equal up to rounding (the stream's prompt comes from the KV cache).
  ASSERT_EQ(streamed.size(), lp.size());
  for (size_t i = 0; i < lp.size(); ++i) {
    EXPECT_EQ(streamed[i]["token"], lp[i]["token"]);
    EXPECT_NEAR(streamed[i]["logprob"].get<double>(), lp[i]["logprob"].get<double>(), 1e-4);
  }
}

}  // namespace
}  // namespace lp::serve
