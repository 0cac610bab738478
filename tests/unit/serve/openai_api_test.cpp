// Request parsing and response shapes of the OpenAI wire format (serve/openai_api.h): every refused field is
// named, defaults fill what a request leaves out, and chunks carry what the openai clients read.
#include <gtest/gtest.h>

#include <limits>

#include "serve/openai_api.h"

namespace lp::serve {
namespace {

RequestDefaults defaults() {
  RequestDefaults d;
  d.config.sampling.temperature = 0.8f;
  d.config.sampling.top_k = 40;
  d.max_tokens = 0;  // until end of generation
  return d;
}

// The ApiError a body raises (status 0 when it parses).
ApiError chat_error(const std::string& body) {
  try {
    parse_chat_request(body, defaults());
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "", "", "parsed");
}

TEST(OpenAiRequest, ChatFieldsMapToTheRuntimeConfig) {
  const auto r = parse_chat_request(R"({"model": "m", "messages": [{"role": "developer", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]},
      {"role": "assistant", "content": null}, {"role": "user", "content": "again"}],
      "temperature": 0, "top_p": 0.5, "top_k": 7, "min_p": 0.1, "seed": 42, "max_tokens": 9, "stop": "\n\n",
      "presence_penalty": 0.5, "frequency_penalty": -0.5, "stream": true, "stream_options": {"include_usage": true},
      "tools": [], "response_format": {"type": "text"}, "user": "ignored"})",
                                    defaults());
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, "system");  // developer -> system
  EXPECT_EQ(r.messages[1].content, "hello");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_EQ(r.config.sampling.temperature, 0.0f);
  EXPECT_EQ(r.config.sampling.top_p, 0.5f);
  EXPECT_EQ(r.config.sampling.top_k, 7);
  EXPECT_FLOAT_EQ(r.config.sampling.min_p, 0.1f);
  EXPECT_EQ(r.config.seed, 42u);
  EXPECT_EQ(r.config.max_tokens, 9);
  EXPECT_EQ(r.config.stop, std::vector<std::string>{"\n\n"});
  EXPECT_FLOAT_EQ(r.config.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.config.sampling.frequency_penalty, -0.5f);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAiRequest, DefaultsFillWhatTheRequestLeavesOut) {
  const auto r = parse_chat_request(R"({"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 3})", defaults());
  EXPECT_EQ(r.config.sampling.temperature, 0.8f);
  EXPECT_EQ(r.config.sampling.top_k, 40);
  EXPECT_FALSE(r.config.seed.has_value());
  EXPECT_EQ(r.config.max_tokens, 3);
  EXPECT_FALSE(r.stream);
  const auto open_ended = parse_chat_request(R"({"messages": [{"role": "user", "content": "hi"}]})", defaults());
  EXPECT_EQ(open_ended.config.max_tokens, std::numeric_limits<int>::max());  // until EOS or the context's end
  RequestDefaults capped = defaults();
  capped.max_tokens = 128;
  EXPECT_EQ(parse_chat_request(R"({"messages": [{"role": "user", "content": "hi"}]})", capped).config.max_tokens, 128);
}

TEST(OpenAiRequest, BadFieldsAreNamed) {
  const std::string user = R"("messages": [{"role": "user", "content": "hi"}])";
  struct Case {
    std::string body, param, message_part;
  };
  const Case cases[] = {
      {"{bad", "", "not valid JSON"},
      {"{\"messages\": 1e999}", "", "not valid JSON"},  // number overflow: found by fuzz_openai
      {"[1, 2]", "", "JSON object"},
      {"{}", "messages", "required"},
      {R"({"messages": []})", "messages", "non-empty array"},
      {R"({"messages": ["hi"]})", "messages[0]", "object"},
      {R"({"messages": [{"content": "hi"}]})", "messages[0].role", "string"},
      {R"({"messages": [{"role": "wizard", "content": "hi"}]})", "messages[0].role", "wizard"},
      {R"({"messages": [{"role": "user"}]})", "messages[0].content", "required"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content", "string or an array"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})", "messages[0].content[0].type", "image_url"},
      {"{" + user + R"(, "temperature": "hot"})", "temperature", "number"},
      {"{" + user + R"(, "temperature": 3})", "temperature", "between 0 and 2"},
      {"{" + user + R"(, "top_p": -0.1})", "top_p", "between"},
      {"{" + user + R"(, "max_tokens": 0})", "max_tokens", "between 1"},
      {"{" + user + R"(, "max_tokens": 2.5})", "max_tokens", "integer"},
      {"{" + user + R"(, "max_tokens": 5, "max_completion_tokens": 5})", "max_tokens", "not both"},
      {"{" + user + R"(, "stop": ["ok", 3]})", "stop", "non-empty string"},
      {"{" + user + R"(, "stop": ""})", "stop", "non-empty string"},
      {"{" + user + R"(, "n": 200})", "n", "between 1 and 128"},
      {"{" + user + R"(, "seed": 9223372036854775808})", "seed", "between"},
      {"{" + user + R"(, "seed": 9.3e18})", "seed", "between"},
      {"{" + user + R"(, "stream": "yes"})", "stream", "true or false"},
      {"{" + user + R"(, "stream_options": {"include_usage": true}})", "stream_options", "only allowed"},
      {"{" + user + R"(, "logprobs": true, "top_logprobs": 21})", "top_logprobs", "between 0 and 20"},
      {"{" + user + R"(, "top_logprobs": 2})", "top_logprobs", "needs"},
      {"{" + user + R"(, "tools": [{"type": "function"}]})", "tools[0].function", "object"},
      {"{" + user + R"(, "tools": {"type": "function"}})", "tools", "array"},
      {"{" + user + R"(, "tools": [{"type": "function", "function": {"name": ""}}]})", "tools[0].function.name", "non-empty"},
      {"{" + user + R"(, "tools": [{"type": "function", "function": {"name": "f", "parameters": 3}}]})", "tools[0].function.parameters", "schema"},
      {"{" + user + R"(, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "maybe"})", "tool_choice", "maybe"},
      {"{" + user + R"(, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}})", "tool_choice", "not in 'tools'"},
      {"{" + user + R"(, "tool_choice": "required"})", "tool_choice", "empty"},
      {"{" + user + R"(, "functions": [{"name": "f"}]})", "functions", "use 'tools'"},
      {"{" + user + R"(, "response_format": {"type": "xml"}})", "response_format.type", "xml"},
      {"{" + user + R"(, "response_format": {"type": "json_schema"}})", "response_format.json_schema", "object"},
      {"{" + user + R"(, "reasoning_effort": "extreme"})", "reasoning_effort", "low"},
      {"{" + user + R"(, "chat_template_kwargs": []})", "chat_template_kwargs", "object"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{bad"}}]}]})",
       "messages[0].tool_calls[0].function.arguments", "not valid JSON"},
      // Non-string "type"/"id" members: found by fuzz_openai (nlohmann's value() threw type_error, not ApiError).
      {R"({"messages": [{"role": "user", "content": [{"type": 0.9, "text": "hi"}]}]})", "messages[0].content[0].type", "string"},
      {"{" + user + R"(, "tools": [{"type": 1, "function": {"name": "f"}}]})", "tools[0].type", "string"},
      {"{" + user + R"(, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": []}})", "tool_choice.type", "string"},
      {R"({"messages": [{"role": "assistant", "tool_calls": [{"id": 4, "type": "function", "function": {"name": "f"}}]}]})",
       "messages[0].tool_calls[0].id", "string"},
      {"{" + user + R"(, "model": 7})", "model", "string"},
      {"{" + user + R"(, "repeat_penalty": 0})", "repeat_penalty", "greater than 0"},
  };
  for (const auto& c : cases) {
    const ApiError e = chat_error(c.body);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.type, "invalid_request_error") << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos) << c.body << " -> " << e.what();
  }
}

TEST(OpenAiRequest, ToolsHistoryAndFormats) {
  const auto r = parse_chat_request(R"({"messages": [{"role": "user", "content": "weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"a\": 1}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],
      "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
      "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": false,
      "reasoning_effort": "low", "chat_template_kwargs": {"enable_thinking": false},
      "logprobs": true, "top_logprobs": 3,
      "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": true}}})",
                                    defaults());
  ASSERT_EQ(r.chat.size(), 3u);
  // Arguments become an object (templates print them with tojson), in the client's key order.
  EXPECT_EQ(r.chat[1]["tool_calls"][0]["function"]["arguments"].dump(), R"({"city":"Paris","a":1})");
  EXPECT_EQ(r.chat[2]["tool_call_id"], "call_1");
  EXPECT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tool_choice, ToolChoice::Named);
  EXPECT_EQ(r.tool_name, "get_weather");
  EXPECT_FALSE(r.parallel_tool_calls);
  EXPECT_EQ(r.template_kwargs["reasoning_effort"], "low");
  EXPECT_EQ(r.template_kwargs["enable_thinking"], false);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_EQ(r.response_format["type"], "json_schema");
  EXPECT_EQ(r.response_format["schema"], nlohmann::json({{"type", "object"}}));
  const auto c = parse_completion_request(R"({"prompt": "x", "logprobs": 2})", defaults());
  EXPECT_EQ(c.top_logprobs, 2);
}

TEST(OpenAiRequest, CompletionPromptForms) {
  EXPECT_EQ(parse_completion_request(R"({"prompt": "abc"})", defaults()).prompt, "abc");
  EXPECT_EQ(parse_completion_request(R"({"prompt": ["abc"], "suffix": ""})", defaults()).prompt, "abc");
  for (const char* bad : {R"({})", R"({"prompt": 5})", R"({"prompt": ["a", "b"]})", R"({"prompt": "a", "echo": true})",
                          R"({"prompt": "a", "suffix": "z"})"}) {
    try {
      parse_completion_request(bad, defaults());
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_FALSE(e.param.empty()) << bad;
    }
  }
}

TEST(OpenAiResponse, ShapesTheClientsRead) {
  GenerationResult r;
  r.text = "Hello";
  r.tokens = {1, 2, 3};
  r.prompt_tokens = 10;
  r.cached_prompt_tokens = 4;
  r.stop_reason = "eos";
  const ResponseIds ids{"chatcmpl-1", 1700000000, "tiny"};
  const auto c = chat_completion(ids, r, ReplyMessage{r.text, "", {}});
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(c["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(c["usage"]["prompt_tokens"], 10);
  EXPECT_EQ(c["usage"]["completion_tokens"], 3);
  EXPECT_EQ(c["usage"]["total_tokens"], 13);
  EXPECT_EQ(c["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
  r.stop_reason = "context";
  EXPECT_EQ(text_completion(ids, r)["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(finish_reason("stop"), "stop");
  EXPECT_EQ(finish_reason("length"), "length");
  const auto chunk = chat_chunk(ids, {{"content", "He"}}, std::nullopt);
  EXPECT_EQ(chunk["object"], "chat.completion.chunk");
  EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(chunk["choices"][0]["delta"]["content"], "He");
  const auto u = usage_chunk(ids, "chat.completion.chunk", r);
  EXPECT_TRUE(u["choices"].empty());
  EXPECT_EQ(u["usage"]["completion_tokens"], 3);
  // One event per line: newlines inside the text are escaped; invalid UTF-8 never breaks the stream.
  const std::string ev = sse_event(chat_chunk(ids, {{"content", "a\nb\xff"}}, std::nullopt));
  EXPECT_EQ(ev.rfind("data: ", 0), 0u);
  EXPECT_EQ(ev.find('\n'), ev.size() - 2);
  EXPECT_EQ(ev.substr(ev.size() - 2), "\n\n");
  const auto err = error_body(ApiError::invalid("temperature", "'temperature' must be a number"));
  EXPECT_EQ(err["error"]["param"], "temperature");
  EXPECT_EQ(err["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(error_body(ApiError(500, "server_error", "", "x"))["error"]["param"].is_null());
}

}  // namespace
}  // namespace lp::serve
