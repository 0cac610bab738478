#include "serve/openai_api.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace lp::serve {
namespace {

using nlohmann::json;

json parse_body(std::string_view body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw ApiError::invalid("", fmt::format("request body is not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) throw ApiError::invalid("", "request body must be a JSON object");
  return j;
}

// Field readers: absent or null keeps the default; a present value of the wrong type or range is an error
// naming the field.
const json* field(const json& j, const char* name) {
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

double number(const json& j, const char* name, double def, double lo, double hi) {
  const json* v = field(j, name);
  if (!v) return def;
  if (!v->is_number()) throw ApiError::invalid(name, fmt::format("'{}' must be a number", name));
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw ApiError::invalid(name, fmt::format("'{}' must be between {} and {} (got {})", name, lo, hi, x));
  return x;
}

int64_t integer(const json& j, const char* name, int64_t def, int64_t lo, int64_t hi) {
  const json* v = field(j, name);
  if (!v) return def;
  if (!v->is_number_integer() && !(v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()))
    throw ApiError::invalid(name, fmt::format("'{}' must be an integer", name));
  // Integers compare as integers (a double cannot hold every int64, and casting 2^63 back is undefined).
  auto out_of_range = [&](const std::string& got) {
    return ApiError::invalid(name, fmt::format("'{}' must be between {} and {} (got {})", name, lo, hi, got));
  };
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) throw out_of_range(std::to_string(u));
    x = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else {
    const double d = v->get<double>();
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) throw out_of_range(fmt::format("{}", d));
    x = static_cast<int64_t>(d);
  }
  if (x < lo || x > hi) throw out_of_range(std::to_string(x));
  return x;
}

bool boolean(const json& j, const char* name, bool def) {
  const json* v = field(j, name);
  if (!v) return def;
  if (!v->is_boolean()) throw ApiError::invalid(name, fmt::format("'{}' must be true or false", name));
  return v->get<bool>();
}

// Sampling, limits, stop strings, stream flags and the features this server does not offer (refused rather
// than silently ignored, so a client never gets an answer to a question it did not ask).
void read_common(const json& j, const RequestDefaults& defaults, GenerationRequest& r) {
  if (const json* m = field(j, "model")) {
    if (!m->is_string()) throw ApiError::invalid("model", "'model' must be a string");
    r.model = m->get<std::string>();
  }
  InferenceConfig& c = r.config;
  c = defaults.config;
  auto& s = c.sampling;
  s.temperature = static_cast<float>(number(j, "temperature", s.temperature, 0.0, 2.0));
  s.top_p = static_cast<float>(number(j, "top_p", s.top_p, 0.0, 1.0));
  s.top_k = static_cast<int>(integer(j, "top_k", s.top_k, 0, std::numeric_limits<int>::max()));
  s.min_p = static_cast<float>(number(j, "min_p", s.min_p, 0.0, 1.0));
  s.presence_penalty = static_cast<float>(number(j, "presence_penalty", s.presence_penalty, -2.0, 2.0));
  s.frequency_penalty = static_cast<float>(number(j, "frequency_penalty", s.frequency_penalty, -2.0, 2.0));
  s.repeat_penalty = static_cast<float>(number(j, "repeat_penalty", s.repeat_penalty, 0.0, 10.0));
  if (s.repeat_penalty == 0.0f) throw ApiError::invalid("repeat_penalty", "'repeat_penalty' must be greater than 0");
  if (const json* seed = field(j, "seed")) {
    (void)seed;
    c.seed = static_cast<uint64_t>(integer(j, "seed", 0, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  }
  // max_completion_tokens is the newer name; either is accepted, not both.
  const bool has_max = field(j, "max_tokens") != nullptr, has_mct = field(j, "max_completion_tokens") != nullptr;
  if (has_max && has_mct) throw ApiError::invalid("max_tokens", "give 'max_tokens' or 'max_completion_tokens', not both");
  const char* max_name = has_mct ? "max_completion_tokens" : "max_tokens";
  c.max_tokens = static_cast<int>(integer(j, max_name, defaults.max_tokens, 1, std::numeric_limits<int>::max()));
  if (!has_max && !has_mct && defaults.max_tokens <= 0) c.max_tokens = std::numeric_limits<int>::max();

  c.stop.clear();
  if (const json* stop = field(j, "stop")) {
    auto add = [&](const json& v) {
      if (!v.is_string() || v.get<std::string>().empty()) throw ApiError::invalid("stop", "'stop' must be a non-empty string or an array of them");
      c.stop.push_back(v.get<std::string>());
    };
    if (stop->is_array()) {
      for (const auto& v : *stop) add(v);
    } else {
      add(*stop);
    }
  }
  r.n = static_cast<int>(integer(j, "n", 1, 1, 128));  // the server refuses n above its --parallel slots
  r.stream = boolean(j, "stream", false);
  if (const json* so = field(j, "stream_options")) {
    if (!so->is_object()) throw ApiError::invalid("stream_options", "'stream_options' must be an object");
    if (!r.stream) throw ApiError::invalid("stream_options", "'stream_options' is only allowed with \"stream\": true");
    r.include_usage = boolean(*so, "include_usage", false);
  }
  if (boolean(j, "logprobs", false) || field(j, "top_logprobs"))
    throw ApiError::invalid("logprobs", "log-probabilities are not supported by this server");
  for (const char* unsupported : {"tools", "functions", "logit_bias"})
    if (const json* v = field(j, unsupported); v && !(v->is_array() && v->empty()) && !(v->is_object() && v->empty()))
      throw ApiError::invalid(unsupported, fmt::format("'{}' is not supported by this server", unsupported));
  if (const json* rf = field(j, "response_format")) {
    if (!rf->is_object() || rf->value("type", std::string()) != "text")
      throw ApiError::invalid("response_format", "only {\"type\": \"text\"} is supported for 'response_format'");
  }
}

// A message's content: a string, or an array of {"type": "text", "text": ...} parts (joined).
std::string message_content(const json& content, size_t i) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  const std::string where = fmt::format("messages[{}].content", i);
  if (!content.is_array()) throw ApiError::invalid(where, fmt::format("'{}' must be a string or an array of text parts", where));
  std::string out;
  for (size_t k = 0; k < content.size(); ++k) {
    const json& part = content[k];
    const std::string pw = fmt::format("{}[{}]", where, k);
    if (!part.is_object()) throw ApiError::invalid(pw, fmt::format("'{}' must be an object", pw));
    const std::string type = part.value("type", std::string());
    if (type != "text") throw ApiError::invalid(pw + ".type", fmt::format("'{}.type' '{}' is not supported (text only)", pw, type));
    auto t = part.find("text");
    if (t == part.end() || !t->is_string()) throw ApiError::invalid(pw + ".text", fmt::format("'{}.text' must be a string", pw));
    out += t->get<std::string>();
  }
  return out;
}

}  // namespace

json error_body(const ApiError& e) {
  return {{"error", {{"message", e.what()}, {"type", e.type}, {"param", e.param.empty() ? json(nullptr) : json(e.param)}, {"code", nullptr}}}};
}

GenerationRequest parse_chat_request(std::string_view body, const RequestDefaults& defaults) {
  const json j = parse_body(body);
  GenerationRequest r;
  const json* msgs = field(j, "messages");
  if (!msgs) throw ApiError::invalid("messages", "'messages' is required");
  if (!msgs->is_array() || msgs->empty()) throw ApiError::invalid("messages", "'messages' must be a non-empty array");
  for (size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) throw ApiError::invalid(where, fmt::format("'{}' must be an object", where));
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      throw ApiError::invalid(where + ".role", fmt::format("'{}.role' must be a string", where));
    std::string r_name = role->get<std::string>();
    if (r_name == "developer") r_name = "system";  // OpenAI's newer name for the system role
    if (r_name != "system" && r_name != "user" && r_name != "assistant" && r_name != "tool")
      throw ApiError::invalid(where + ".role", fmt::format("'{}.role' must be system, developer, user, assistant or tool (got '{}')", where, r_name));
    auto content = m.find("content");
    if (content == m.end() && r_name != "assistant")
      throw ApiError::invalid(where + ".content", fmt::format("'{}.content' is required", where));
    r.messages.push_back({r_name, content == m.end() ? std::string() : message_content(*content, i)});
  }
  read_common(j, defaults, r);
  return r;
}

GenerationRequest parse_completion_request(std::string_view body, const RequestDefaults& defaults) {
  const json j = parse_body(body);
  GenerationRequest r;
  const json* p = field(j, "prompt");
  if (!p) throw ApiError::invalid("prompt", "'prompt' is required");
  if (p->is_array()) {
    if (p->size() != 1 || !(*p)[0].is_string())
      throw ApiError::invalid("prompt", "'prompt' must be a string (or an array of exactly one string)");
    r.prompt = (*p)[0].get<std::string>();
  } else if (p->is_string()) {
    r.prompt = p->get<std::string>();
  } else {
    throw ApiError::invalid("prompt", "'prompt' must be a string");
  }
  if (boolean(j, "echo", false)) throw ApiError::invalid("echo", "'echo' is not supported by this server");
  if (const json* sfx = field(j, "suffix"); sfx && !(sfx->is_string() && sfx->get<std::string>().empty()))
    throw ApiError::invalid("suffix", "'suffix' is not supported by this server");
  read_common(j, defaults, r);
  return r;
}

std::string finish_reason(std::string_view stop_reason) {
  return stop_reason == "length" || stop_reason == "context" || stop_reason == "timeout" ? "length" : "stop";
}

json usage(const GenerationResult& r) {
  const auto completion = static_cast<int64_t>(r.tokens.size());
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", completion},
          {"total_tokens", r.prompt_tokens + completion},
          {"prompt_tokens_details", {{"cached_tokens", r.cached_prompt_tokens}}}};
}

namespace {
json envelope(const ResponseIds& ids, const char* object) {
  return {{"id", ids.id}, {"object", object}, {"created", ids.created}, {"model", ids.model}};
}
}  // namespace

json chat_completion(const ResponseIds& ids, const GenerationResult& r) {
  json j = envelope(ids, "chat.completion");
  j["choices"] = json::array({{{"index", 0},
                               {"message", {{"role", "assistant"}, {"content", r.text}}},
                               {"logprobs", nullptr},
                               {"finish_reason", finish_reason(r.stop_reason)}}});
  j["usage"] = usage(r);
  return j;
}

json text_completion(const ResponseIds& ids, const GenerationResult& r) {
  json j = envelope(ids, "text_completion");
  j["choices"] = json::array({{{"index", 0}, {"text", r.text}, {"logprobs", nullptr}, {"finish_reason", finish_reason(r.stop_reason)}}});
  j["usage"] = usage(r);
  return j;
}

json chat_chunk(const ResponseIds& ids, const json& delta, std::optional<std::string> finish) {
  json j = envelope(ids, "chat.completion.chunk");
  j["choices"] = json::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr},
                               {"finish_reason", finish ? json(*finish) : json(nullptr)}}});
  return j;
}

json text_chunk(const ResponseIds& ids, std::string_view text, std::optional<std::string> finish) {
  json j = envelope(ids, "text_completion");
  j["choices"] = json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr},
                               {"finish_reason", finish ? json(*finish) : json(nullptr)}}});
  return j;
}

json usage_chunk(const ResponseIds& ids, const char* object, const GenerationResult& r) {
  json j = envelope(ids, object);
  j["choices"] = json::array();
  j["usage"] = usage(r);
  return j;
}

std::string sse_event(const json& payload) {
  // dump() escapes newlines inside strings, so one event is one line of data.
  return "data: " + payload.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace lp::serve
