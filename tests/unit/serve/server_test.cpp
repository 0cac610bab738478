// The HTTP server end to end, in process, on a generated tiny qwen3 checkpoint (tokenizer and chat template
// included): answers equal the runtime's own greedy generation, streams reassemble to the same text, and bad
// requests get OpenAI-style errors. The `openai` npm client is checked against the binary in
// tests/oracles/serve.test.mjs.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "llama_pajamas/runtime.h"
#include "scratch_path.h"
#include "running_server.h"
#include "serve/server.h"
#include "testgen/generate.h"

namespace lp::serve {
namespace {

using nlohmann::json;

const std::string& model_dir() {
  static const std::string dir = [] {
    testgen::GenerateOptions g;
    g.family = "qwen3";
    g.seed = 3;
    const auto d = test::scratch_path("lp_serve_model");
    testgen::generate_checkpoint(g, d);
    return d.string();
  }();
  return dir;
}

RuntimeOptions small_ctx() {
  RuntimeOptions o;
  o.ctx = 256;
  o.threads = 2;
  return o;
}

// A server on a free port for the test's lifetime.
class Running : public test::Running {
 public:
  explicit Running(ServerOptions o = {}) : test::Running(model_dir(), small_ctx(), std::move(o)) {}
};

std::string expected_chat(const std::vector<ChatMessage>& messages, int max_tokens) {
  Runtime rt = Runtime::open(model_dir(), small_ctx());
  InferenceConfig c;
  c.max_tokens = max_tokens;
  c.sampling.temperature = 0;
  return rt.chat(messages, c).text;
}

// The JSON payloads of an SSE body, without the final [DONE].
std::vector<json> sse_payloads(const std::string& body, bool& saw_done) {
  std::vector<json> out;
  std::istringstream in(body);
  saw_done = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    EXPECT_EQ(line.rfind("data: ", 0), 0u) << line;
    const std::string data = line.substr(6);
    if (data == "[DONE]") {
      saw_done = true;
      continue;
    }
    EXPECT_FALSE(saw_done) << "event after [DONE]";
    out.push_back(json::parse(data));
  }
  return out;
}

const char* kChat = R"({"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a color."}],
  "max_tokens": 24, "temperature": 0})";

TEST(Server, ChatMatchesTheRuntimeAndStreamsTheSameText) {
  const std::string want = expected_chat({{"system", "You are terse."}, {"user", "Name a color."}}, 24);
  ASSERT_FALSE(want.empty());
  Running s;
  auto c = s.client();
  auto res = c.Post("/v1/chat/completions", kChat, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "tiny");
  EXPECT_EQ(j["choices"][0]["message"]["content"], want);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 24);

  json body = json::parse(kChat);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  res = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  bool done = false;
  const auto events = sse_payloads(res->body, done);
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (size_t i = 1; i + 2 < events.size(); ++i) {
    EXPECT_TRUE(events[i]["choices"][0]["finish_reason"].is_null());
    text += events[i]["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, want);
  const json& last = events[events.size() - 2];
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(events.back()["choices"].empty());
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], 24);
  // The same conversation again: the prompt comes from the KV cache.
  EXPECT_GT(events.back()["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 0);
  for (const auto& e : events) EXPECT_EQ(e["id"], events.front()["id"]);
}

TEST(Server, CompletionsHonourStopStrings) {
  Runtime rt = Runtime::open(model_dir(), small_ctx());
  InferenceConfig cfg;
  cfg.max_tokens = 16;
  cfg.sampling.temperature = 0;
  const std::string free_text = rt.generate("The", cfg).text;
  ASSERT_GE(free_text.size(), 4u);
  const std::string stop = free_text.substr(2, 2);  // a string the greedy continuation is known to contain
  Running s;
  auto c = s.client();
  auto res = c.Post("/v1/completions", json{{"prompt", "The"}, {"max_tokens", 16}, {"temperature", 0}, {"stop", {stop}}}.dump(),
                    "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], free_text.substr(0, free_text.find(stop)));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
}

TEST(Server, ErrorsAreOpenAiShaped) {
  ServerOptions o;
  o.api_key = "sekrit";
  Running s(o);
  auto c = s.client();
  auto res = c.Post("/v1/chat/completions", kChat, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(json::parse(res->body)["error"]["type"], "invalid_request_error");
  EXPECT_EQ(c.Get("/health")->status, 200);  // health needs no key

  httplib::Headers auth = {{"Authorization", "Bearer sekrit"}};
  res = c.Post("/v1/chat/completions", auth, R"({"messages": [{"role": "user"}]})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(json::parse(res->body)["error"]["param"], "messages[0].content");

  res = c.Post("/v1/completions", auth, "{nope", "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(json::parse(res->body)["error"]["message"].get<std::string>().find("not valid JSON"), std::string::npos);

  std::string long_prompt;
  for (int i = 0; i < 400; ++i) long_prompt += "word ";
  res = c.Post("/v1/completions", auth, json{{"prompt", long_prompt}}.dump(), "application/json");
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(json::parse(res->body)["error"]["message"].get<std::string>().find("context holds 256"), std::string::npos) << res->body;

  res = c.Get("/v1/engines", auth);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(json::parse(res->body)["error"]["type"], "invalid_request_error");

  res = c.Get("/v1/models", auth);
  ASSERT_EQ(res->status, 200);
  const json models = json::parse(res->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "tiny");

  // The server still answers after the errors.
  res = c.Post("/v1/completions", auth, R"({"prompt": "The", "max_tokens": 2})", "application/json");
  EXPECT_EQ(res->status, 200);
}

TEST(Server, RefusesAPortItCannotBind) {
  Runtime rt = Runtime::open(model_dir(), small_ctx());
  ServerOptions o;
  o.port = 0;
  Server a(rt, o);
  o.port = a.bind();
  Server b(rt, o);
  try {
    b.bind();
    FAIL() << "bound a port already in use";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(o.port)), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lp::serve
