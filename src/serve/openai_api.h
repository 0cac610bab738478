// The OpenAI chat/completions wire format as llama-pajamas serves it: requests parsed into the runtime's
// InferenceConfig with every field validated (errors name the field), responses and streaming chunks built
// as the `openai` client libraries read them. Pure functions: the HTTP server (server.h) only moves bytes.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llama_pajamas/runtime.h"

namespace lp::serve {

// A request the server refuses: HTTP status, OpenAI error type and the offending parameter ("" if none).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, std::string param, const std::string& message)
      : std::runtime_error(message), status(status), type(std::move(type)), param(std::move(param)) {}
  static ApiError invalid(std::string param, const std::string& message) {
    return ApiError(400, "invalid_request_error", std::move(param), message);
  }
  int status;
  std::string type;
  std::string param;
};

// {"error": {"message", "type", "param", "code"}}
nlohmann::json error_body(const ApiError& e);

// What the server uses where a request leaves a field out (the CLI's sampling flags). max_tokens <= 0:
// generate until end-of-generation or the end of the context.
struct RequestDefaults {
  InferenceConfig config;
  int max_tokens = 0;
};

enum class ToolChoice { Auto, None, Required, Named };

struct GenerationRequest {
  std::string model;                  // as sent (echoed back); "" when absent
  std::vector<ChatMessage> messages;  // chat: role and text of each message
  // Chat, as the template sees it: the messages with assistant `tool_calls` (arguments parsed to objects, as
  // templates print them with tojson), `tool_call_id` / `name` of tool messages, `reasoning_content`.
  nlohmann::ordered_json chat = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;       // null, or the OpenAI tools array (validated)
  ToolChoice tool_choice = ToolChoice::Auto;
  std::string tool_name;              // tool_choice Named
  bool parallel_tool_calls = true;
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs, reasoning_effort
  nlohmann::ordered_json response_format;  // null, or {"type": "json_object"} / {"type": "json_schema", "json_schema": {...}}
  int top_logprobs = -1;              // -1: no logprobs; 0..20: logprobs with that many alternatives
  std::string prompt;                 // completions
  InferenceConfig config;
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  int n = 1;                          // choices (parallel sequences sharing the prompt)
};

// POST /v1/chat/completions and /v1/completions bodies. Throw ApiError (400) naming the field.
GenerationRequest parse_chat_request(std::string_view body, const RequestDefaults& defaults);
GenerationRequest parse_completion_request(std::string_view body, const RequestDefaults& defaults);

// The runtime's stop reason in OpenAI's terms: "stop" (end of generation or a stop string) or "length".
std::string finish_reason(std::string_view stop_reason);

struct ResponseIds {
  std::string id;     // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;
  std::string model;
};

nlohmann::json usage(const GenerationResult& r);
// The assistant message of a chat reply: content (null when the reply is only tool calls), reasoning_content
// (when the model reasoned), tool_calls ({id, type: "function", function: {name, arguments}}).
struct ReplyMessage {
  std::string content, reasoning;
  struct Call {
    std::string id, name, arguments;
  };
  std::vector<Call> tool_calls;
};
nlohmann::json chat_completion(const ResponseIds& ids, const GenerationResult& r, const ReplyMessage& message);
// "tool_calls" when the reply called tools and ended by itself, else finish_reason(stop_reason).
std::string chat_finish_reason(std::string_view stop_reason, const ReplyMessage& message);
// Stream deltas of tool calls as OpenAI sends them: the first {"index", "id", "type", "function": {"name",
// "arguments": ""}}, then {"index", "function": {"arguments": piece}}.
nlohmann::json tool_call_start_delta(int index, const std::string& id, const std::string& name);
nlohmann::json tool_call_arguments_delta(int index, const std::string& piece);
nlohmann::json text_completion(const ResponseIds& ids, const GenerationResult& r);
// One streamed chunk. Chat: `delta` is {"role"} first, then {"content"}, then {} with the finish reason.
nlohmann::json chat_chunk(const ResponseIds& ids, const nlohmann::json& delta, std::optional<std::string> finish);
nlohmann::json text_chunk(const ResponseIds& ids, std::string_view text, std::optional<std::string> finish);
// The final usage-only chunk of a stream that asked for it (choices empty).
nlohmann::json usage_chunk(const ResponseIds& ids, const char* object, const GenerationResult& r);

// Logprobs objects. token_text: a token's text (its bytes as the tokenizer decodes it alone).
using TokenText = std::function<std::string(int32_t)>;
// chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]}
nlohmann::json chat_logprobs(std::span<const TokenLogprob> lps, const TokenText& token_text);
// completions: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}
nlohmann::json completion_logprobs(std::span<const TokenLogprob> lps, const TokenText& token_text, size_t text_offset = 0);

// One server-sent event: "data: <json>\n\n" (and "data: [DONE]\n\n" to end the stream).
std::string sse_event(const nlohmann::json& payload);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace lp::serve
