#include "serve/openai_api.h"

#include <fmt/format.h>

#include <algorithm>
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

// An optional string member of an object (absent or null: `def`); any other type is an error naming `where`.
std::string text_member(const json& obj, const char* key, const std::string& where, std::string def = {}) {
  const json* v = field(obj, key);
  if (!v) return def;
  if (!v->is_string()) throw ApiError::invalid(where, fmt::format("'{}' must be a string", where));
  return v->get<std::string>();
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
  for (const char* unsupported : {"functions", "function_call", "logit_bias"})
    if (const json* v = field(j, unsupported); v && !(v->is_array() && v->empty()) && !(v->is_object() && v->empty()))
      throw ApiError::invalid(unsupported, fmt::format("'{}' is not supported by this server{}", unsupported,
                                                      std::string_view(unsupported).starts_with("function") ? " (use 'tools')" : ""));
}

// response_format: text, json_object, or json_schema {name, schema, strict}.
void read_response_format(const json& j, GenerationRequest& r) {
  const json* rf = field(j, "response_format");
  if (!rf) return;
  if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string())
    throw ApiError::invalid("response_format", "'response_format' must be an object with a 'type'");
  const std::string type = (*rf)["type"].get<std::string>();
  if (type == "text") return;
  if (type == "json_object") {
    r.response_format = {{"type", "json_object"}};
    return;
  }
  if (type != "json_schema")
    throw ApiError::invalid("response_format.type", fmt::format("'response_format.type' must be text, json_object or json_schema (got '{}')", type));
  const json* js = field(*rf, "json_schema");
  if (!js || !js->is_object()) throw ApiError::invalid("response_format.json_schema", "'response_format.json_schema' must be an object");
  if (const json* n = field(*js, "name"); n && !n->is_string())
    throw ApiError::invalid("response_format.json_schema.name", "'response_format.json_schema.name' must be a string");
  const json* schema = field(*js, "schema");
  if (schema && !schema->is_object() && !schema->is_boolean())
    throw ApiError::invalid("response_format.json_schema.schema", "'response_format.json_schema.schema' must be an object");
  boolean(*js, "strict", false);
  r.response_format = {{"type", "json_schema"}, {"schema", schema ? nlohmann::ordered_json::parse(schema->dump()) : nlohmann::ordered_json::object()}};
}

// tools, tool_choice, parallel_tool_calls, reasoning_effort, chat_template_kwargs, logprobs / top_logprobs.
void read_chat_extras(const json& j, std::string_view body, GenerationRequest& r) {
  using ojson = nlohmann::ordered_json;
  // The body once more with object keys in the client's order (nlohmann::json sorts them).
  const ojson oj = ojson::parse(body);
  const ojson ordered = oj.contains("tools") && oj["tools"].is_array() ? oj["tools"] : ojson::array();
  const json* tools = field(j, "tools");
  if (tools && !tools->is_array()) throw ApiError::invalid("tools", "'tools' must be an array");
  std::vector<std::string> names;
  if (tools && !tools->empty()) {
    r.tools = ojson::array();
    for (size_t i = 0; i < tools->size(); ++i) {
      const json& t = (*tools)[i];
      const std::string w = fmt::format("tools[{}]", i);
      if (!t.is_object() || text_member(t, "type", w + ".type") != "function")
        throw ApiError::invalid(w + ".type", fmt::format("'{}' must be {{\"type\": \"function\", \"function\": {{...}}}}", w));
      const json* f = field(t, "function");
      if (!f || !f->is_object()) throw ApiError::invalid(w + ".function", fmt::format("'{}.function' must be an object", w));
      const json* name = field(*f, "name");
      if (!name || !name->is_string() || name->get<std::string>().empty())
        throw ApiError::invalid(w + ".function.name", fmt::format("'{}.function.name' must be a non-empty string", w));
      if (const json* p = field(*f, "parameters"); p && !p->is_object())
        throw ApiError::invalid(w + ".function.parameters", fmt::format("'{}.function.parameters' must be a JSON schema object", w));
      if (const json* d = field(*f, "description"); d && !d->is_string())
        throw ApiError::invalid(w + ".function.description", fmt::format("'{}.function.description' must be a string", w));
      boolean(*f, "strict", false);
      names.push_back(name->get<std::string>());
      // In the client's key order (templates print the schema with tojson as transformers does; the grammar
      // writes properties in this order).
      r.tools.push_back(ordered[i]);
    }
  }
  if (const json* tc = field(j, "tool_choice")) {
    if (tc->is_string()) {
      const std::string v = tc->get<std::string>();
      if (v == "auto") r.tool_choice = ToolChoice::Auto;
      else if (v == "none") r.tool_choice = ToolChoice::None;
      else if (v == "required") r.tool_choice = ToolChoice::Required;
      else throw ApiError::invalid("tool_choice", fmt::format("'tool_choice' must be auto, none, required or a function (got '{}')", v));
    } else if (tc->is_object() && text_member(*tc, "type", "tool_choice.type") == "function" && tc->contains("function") &&
               (*tc)["function"].is_object() && (*tc)["function"].contains("name") && (*tc)["function"]["name"].is_string()) {
      r.tool_choice = ToolChoice::Named;
      r.tool_name = (*tc)["function"]["name"].get<std::string>();
      if (std::find(names.begin(), names.end(), r.tool_name) == names.end())
        throw ApiError::invalid("tool_choice", fmt::format("'tool_choice' names '{}', which is not in 'tools'", r.tool_name));
    } else {
      throw ApiError::invalid("tool_choice", "'tool_choice' must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    if ((r.tool_choice == ToolChoice::Required) && names.empty())
      throw ApiError::invalid("tool_choice", "'tool_choice' requires a tool call but 'tools' is empty");
  }
  r.parallel_tool_calls = boolean(j, "parallel_tool_calls", true);
  if (const json* kw = field(j, "chat_template_kwargs")) {
    if (!kw->is_object()) throw ApiError::invalid("chat_template_kwargs", "'chat_template_kwargs' must be an object");
    r.template_kwargs = ojson::parse(kw->dump());
  }
  if (const json* re = field(j, "reasoning_effort")) {
    static constexpr std::string_view levels[] = {"minimal", "low", "medium", "high"};
    if (!re->is_string() || std::find(std::begin(levels), std::end(levels), re->get<std::string>()) == std::end(levels))
      throw ApiError::invalid("reasoning_effort", "'reasoning_effort' must be minimal, low, medium or high");
    r.template_kwargs["reasoning_effort"] = re->get<std::string>();
  }
  const bool lp = boolean(j, "logprobs", false);
  if (field(j, "top_logprobs") && !lp) throw ApiError::invalid("top_logprobs", "'top_logprobs' needs \"logprobs\": true");
  if (lp) r.top_logprobs = static_cast<int>(integer(j, "top_logprobs", 0, 0, 20));
  read_response_format(j, r);
  if (r.response_format.is_object() && r.response_format["type"] == "json_schema" && oj["response_format"]["json_schema"].contains("schema") &&
      !oj["response_format"]["json_schema"]["schema"].is_null())
    r.response_format["schema"] = oj["response_format"]["json_schema"]["schema"];
}

// An assistant message's tool_calls, for the template: arguments parsed from their JSON string to an object.
nlohmann::ordered_json message_tool_calls(const json& calls, const std::string& where) {
  using ojson = nlohmann::ordered_json;
  if (!calls.is_array()) throw ApiError::invalid(where, fmt::format("'{}' must be an array", where));
  ojson out = ojson::array();
  for (size_t k = 0; k < calls.size(); ++k) {
    const json& c = calls[k];
    const std::string w = fmt::format("{}[{}]", where, k);
    const json* f = c.is_object() ? field(c, "function") : nullptr;
    if (!f || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string())
      throw ApiError::invalid(w + ".function", fmt::format("'{}.function' must be an object with a 'name'", w));
    if (const json* id = field(c, "id"); id && !id->is_string()) throw ApiError::invalid(w + ".id", fmt::format("'{}.id' must be a string", w));
    ojson args = ojson::object();
    if (const json* a = field(*f, "arguments")) {
      try {
        args = a->is_string() ? ojson::parse(a->get<std::string>()) : ojson::parse(a->dump());
      } catch (const std::exception&) {
        throw ApiError::invalid(w + ".function.arguments", fmt::format("'{}.function.arguments' is not valid JSON", w));
      }
    }
    out.push_back({{"id", text_member(c, "id", w + ".id")}, {"type", "function"},
                   {"function", {{"name", (*f)["name"].get<std::string>()}, {"arguments", args}}}});
  }
  return out;
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
    const std::string type = text_member(part, "type", pw + ".type");
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

static GenerationRequest parse_chat_request_unguarded(std::string_view body, const RequestDefaults& defaults) {
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
    nlohmann::ordered_json cm = {{"role", r_name}, {"content", r.messages.back().content}};
    if (r_name == "assistant") {
      if (const json* tc = field(m, "tool_calls"); tc && !tc->empty()) cm["tool_calls"] = message_tool_calls(*tc, where + ".tool_calls");
      if (const json* rc = field(m, "reasoning_content")) {
        if (!rc->is_string()) throw ApiError::invalid(where + ".reasoning_content", fmt::format("'{}.reasoning_content' must be a string", where));
        cm["reasoning_content"] = rc->get<std::string>();
      }
    }
    if (r_name == "tool") {
      for (const char* k : {"tool_call_id", "name"})
        if (const json* v = field(m, k)) {
          if (!v->is_string()) throw ApiError::invalid(where + "." + k, fmt::format("'{}.{}' must be a string", where, k));
          cm[k] = v->get<std::string>();
        }
    }
    r.chat.push_back(std::move(cm));
  }
  read_common(j, defaults, r);
  read_chat_extras(j, body, r);
  return r;
}

static GenerationRequest parse_completion_request_unguarded(std::string_view body, const RequestDefaults& defaults) {
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
  for (const char* chat_only : {"tools", "tool_choice", "response_format", "top_logprobs"})
    if (field(j, chat_only)) throw ApiError::invalid(chat_only, fmt::format("'{}' is only supported on /v1/chat/completions", chat_only));
  if (const json* lp = field(j, "logprobs")) {
    if (!lp->is_boolean()) r.top_logprobs = static_cast<int>(integer(j, "logprobs", 0, 0, 5));
    else if (lp->get<bool>()) throw ApiError::invalid("logprobs", "'logprobs' on completions is an integer 0..5");
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

std::string chat_finish_reason(std::string_view stop_reason, const ReplyMessage& m) {
  if (!m.tool_calls.empty() && (stop_reason == "eos" || stop_reason == "stop")) return "tool_calls";
  return finish_reason(stop_reason);
}

json tool_call_start_delta(int index, const std::string& id, const std::string& name) {
  return {{"tool_calls", json::array({{{"index", index}, {"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", ""}}}}})}};
}

json tool_call_arguments_delta(int index, const std::string& piece) {
  return {{"tool_calls", json::array({{{"index", index}, {"function", {{"arguments", piece}}}}})}};
}

json chat_completion(const ResponseIds& ids, const GenerationResult& r, const ReplyMessage& m) {
  json j = envelope(ids, "chat.completion");
  json msg = {{"role", "assistant"}, {"content", m.content.empty() && !m.tool_calls.empty() ? json(nullptr) : json(m.content)}};
  if (!m.reasoning.empty()) msg["reasoning_content"] = m.reasoning;
  if (!m.tool_calls.empty()) {
    msg["tool_calls"] = json::array();
    for (const auto& c : m.tool_calls)
      msg["tool_calls"].push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  }
  j["choices"] = json::array({{{"index", 0}, {"message", msg}, {"logprobs", nullptr}, {"finish_reason", chat_finish_reason(r.stop_reason, m)}}});
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

namespace {
json token_bytes(const std::string& t) {
  json b = json::array();
  for (unsigned char c : t) b.push_back(static_cast<int>(c));
  return b;
}
// JSON has no -infinity: a token the constraint or the model rules out entirely gets OpenAI's floor.
double finite(float lp) { return std::isfinite(lp) ? static_cast<double>(lp) : -9999.0; }
}  // namespace

json chat_logprobs(std::span<const TokenLogprob> lps, const TokenText& token_text) {
  json content = json::array();
  for (const auto& t : lps) {
    const std::string text = token_text(t.token);
    json top = json::array();
    for (const auto& [id, lp] : t.top) {
      const std::string tt = token_text(id);
      top.push_back({{"token", tt}, {"logprob", finite(lp)}, {"bytes", token_bytes(tt)}});
    }
    content.push_back({{"token", text}, {"logprob", finite(t.logprob)}, {"bytes", token_bytes(text)}, {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

json completion_logprobs(std::span<const TokenLogprob> lps, const TokenText& token_text, size_t text_offset) {
  json tokens = json::array(), lp = json::array(), top = json::array(), offsets = json::array();
  for (const auto& t : lps) {
    const std::string text = token_text(t.token);
    tokens.push_back(text);
    lp.push_back(finite(t.logprob));
    json alt = json::object();
    for (const auto& [id, l] : t.top) alt[token_text(id)] = finite(l);
    top.push_back(alt);
    offsets.push_back(text_offset);
    text_offset += text.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lp}, {"top_logprobs", top}, {"text_offset", offsets}};
}

std::string sse_event(const json& payload) {
  // dump() escapes newlines inside strings, so one event is one line of data.
  return "data: " + payload.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

// The field readers above name every field they refuse. A JSON access that slips past them (a member of an
// unexpected type read through nlohmann's typed accessors) must still be the client's 400, never a 500 or a
// crash: a hostile body cannot take the request handler down.
namespace {
template <class Parse>
GenerationRequest guarded(Parse parse, std::string_view body, const RequestDefaults& defaults) {
  try {
    return parse(body, defaults);
  } catch (const nlohmann::json::exception& e) {
    throw ApiError::invalid("", fmt::format("request body has a field of the wrong type: {}", e.what()));
  }
}
}  // namespace

GenerationRequest parse_chat_request(std::string_view body, const RequestDefaults& defaults) {
  return guarded(parse_chat_request_unguarded, body, defaults);
}

GenerationRequest parse_completion_request(std::string_view body, const RequestDefaults& defaults) {
  return guarded(parse_completion_request_unguarded, body, defaults);
}

}  // namespace lp::serve
