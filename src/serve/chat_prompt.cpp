#include "serve/chat_prompt.h"

#include <fmt/format.h>

#include "text/jinja/chat_template.h"

namespace lp::serve {
namespace {

using ojson = nlohmann::ordered_json;
using nlohmann::json;

// Templates without tool support (text::ToolFormat::Generic, e.g. Gemma 3): the tools go into a system message
// written by text::generic_tool_prompt, assistant tool calls become the JSON reply the model is asked for, tool
// results become user messages, and consecutive messages of one role are joined (such templates insist that
// roles alternate).
ojson generic_messages(const ojson& chat, const ojson& tools, bool tools_on, bool required) {
  std::string system;
  ojson out = ojson::array();
  auto add = [&](const std::string& role, const std::string& content) {
    if (!out.empty() && out.back()["role"] == role) {
      out.back()["content"] = out.back()["content"].get<std::string>() + "\n\n" + content;
    } else {
      out.push_back({{"role", role}, {"content", content}});
    }
  };
  for (const auto& m : chat) {
    const std::string role = m["role"].get<std::string>();
    std::string content = m["content"].get<std::string>();
    if (role == "system") {
      system += (system.empty() ? "" : "\n\n") + content;
    } else if (role == "assistant" && m.contains("tool_calls")) {
      ojson calls = ojson::array();
      for (const auto& c : m["tool_calls"]) calls.push_back({{"name", c["function"]["name"]}, {"arguments", c["function"]["arguments"]}});
      add("assistant", (content.empty() ? "" : content + "\n") + ojson{{"tool_calls", calls}}.dump());
    } else if (role == "tool") {
      add("user", fmt::format("Result of tool call {}: {}", m.value("tool_call_id", m.value("name", std::string())), content));
    } else {
      add(role, content);
    }
  }
  if (tools_on) system += (system.empty() ? "" : "\n\n") + text::generic_tool_prompt(json::parse(tools.dump()), required);
  if (!system.empty()) out.insert(out.begin(), ojson{{"role", "system"}, {"content", system}});
  return out;
}

}  // namespace

ChatPrompt render_chat_prompt(const Runtime::ChatTemplateInfo& tmpl, const GenerationRequest& r) {
  ChatPrompt p;
  p.format = text::detect_chat_format(tmpl.source);
  const bool tools_on = !r.tools.is_null() && r.tool_choice != ToolChoice::None;
  p.format.parse_tools = tools_on;
  ojson extra = ojson::object();
  if (!tmpl.bos_token.empty()) extra["bos_token"] = tmpl.bos_token;
  if (!tmpl.eos_token.empty()) extra["eos_token"] = tmpl.eos_token;
  for (const auto& [k, v] : r.template_kwargs.items()) {
    // Never silently ignored: a switch the template does not read is an error naming it.
    if (tmpl.source.find(k) == std::string::npos) {
      const std::string param = k == "reasoning_effort" ? k : "chat_template_kwargs." + k;
      throw ApiError::invalid(param, fmt::format("'{}' is not read by this model's chat template", param));
    }
    extra[k] = v;
  }
  bool history_has_tools = false;
  for (const auto& m : r.chat) history_has_tools |= m["role"] == "tool" || m.contains("tool_calls");
  const bool generic = p.format.tools == text::ToolFormat::Generic && (tools_on || history_has_tools);
  const ojson messages = generic ? generic_messages(r.chat, r.tools, tools_on, r.tool_choice == ToolChoice::Required) : r.chat;
  const ojson tools = generic ? ojson() : r.tools;
  try {
    p.text = text::ChatTemplate(tmpl.source).render_ordered(messages, tools, true, extra);
  } catch (const std::exception& e) {
    throw ApiError::invalid("messages", e.what());
  }
  p.in_reasoning = text::prompt_opens_reasoning(p.format, p.text);
  return p;
}

ReplyMessage reply_message(const ChatPrompt& p, const GenerationRequest& r, const std::string& text) {
  const text::ParsedMessage m = text::parse_reply(p.format, text, false, p.in_reasoning);
  ReplyMessage out{m.content, m.reasoning, {}};
  for (const auto& c : m.tool_calls) {
    out.tool_calls.push_back({text::new_tool_call_id(p.format.tools), c.name, c.arguments.empty() ? "{}" : c.arguments});
  }
  (void)r;  // parallel_tool_calls false is a constraint on decoding (constraints.cpp): nothing is dropped here
  return out;
}

ReplyDeltas::ReplyDeltas(const ChatPrompt& p, const GenerationRequest& r)
    : stream_(p.format, p.in_reasoning, "") {
  (void)r;
}

std::vector<json> ReplyDeltas::convert(const std::vector<text::ReplyDelta>& ds) const {
  std::vector<json> out;
  for (const auto& d : ds) {
    switch (d.kind) {
      case text::ReplyDelta::Content: out.push_back({{"content", d.text}}); break;
      case text::ReplyDelta::Reasoning: out.push_back({{"reasoning_content", d.text}}); break;
      case text::ReplyDelta::ToolCallStart: out.push_back(tool_call_start_delta(d.index, d.id, d.name)); break;
      case text::ReplyDelta::ToolCallArguments: out.push_back(tool_call_arguments_delta(d.index, d.text)); break;
    }
  }
  return out;
}

std::vector<json> ReplyDeltas::feed(std::string_view piece) { return convert(stream_.feed(piece)); }
std::vector<json> ReplyDeltas::finish() { return convert(stream_.finish()); }

ReplyMessage ReplyDeltas::message() const {
  const auto& m = stream_.message();
  ReplyMessage out{m.content, m.reasoning, {}};
  for (const auto& c : m.tool_calls) {
    out.tool_calls.push_back({c.id, c.name, c.arguments});
  }
  return out;
}

}  // namespace lp::serve
