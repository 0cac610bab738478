// The tool-call / reasoning parser on real template renderings: an assistant turn with tool calls (or with
// reasoning) is rendered by each family's own chat template (tests/data/templates, copied from the models'
// repositories via llama.cpp's models/templates, see tests/data/templates/extra/README.md and
// docs/CHAT_TEMPLATES.md), the generation prompt is cut off the front and the end-of-turn marker off the end:
// what is left is what the model generates, and the parser must give back the calls. Streaming: the same text
// fed in pieces of every size reassembles to the whole answer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "text/jinja/chat_template.h"
#include "text/tool_calls.h"

namespace lp::text {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

std::string tool_template(const std::string& name) {
  std::ifstream in(fs::path(LP_SOURCE_DIR) / "tests/data/templates" / name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

const ordered_json kTools = ordered_json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "array", "items": {"type": "integer"}}},
                  "required": ["city"]}}},
  {"type": "function", "function": {"name": "get_time", "description": "Time in a zone",
   "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}])");

ordered_json call(const std::string& id, const std::string& name, const ordered_json& args) {
  return {{"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", args}}}};
}

// What the model would have generated for `last` (an assistant message): the full rendering minus the
// generation prompt of the conversation before it, minus end-of-turn markers.
std::string generated_part(const std::string& tmpl, const ordered_json& last) {
  ChatTemplate t(tmpl);
  ordered_json before = ordered_json::array({{{"role", "user"}, {"content", "What is the weather in Paris?"}}});
  ordered_json all = before;
  all.push_back(last);
  const ordered_json extra = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
  const std::string prefix = t.render_ordered(before, kTools, true, extra);
  const std::string full = t.render_ordered(all, kTools, false, extra);
  EXPECT_EQ(full.substr(0, prefix.size()), prefix) << "the rendering does not extend the generation prompt";
  std::string s = full.substr(prefix.size());
  for (bool cut = true; cut;) {
    cut = false;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (std::string end : {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "</s>", "<|call|>", "<|return|>", "<end_of_turn>"})
      if (s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0) {
        s.resize(s.size() - end.size());
        cut = true;
      }
  }
  return s;
}

// Parsed whole, and streamed in pieces of 1..7 characters: the deltas reassemble to the whole answer.
ParsedMessage parse_checked(const ChatFormat& f, const std::string& text, bool in_reasoning = false) {
  const ParsedMessage whole = parse_reply(f, text, false, in_reasoning);
  for (size_t step = 1; step <= 7; ++step) {
    ReplyStream rs(f, in_reasoning, "id");
    ParsedMessage got;
    auto apply = [&](const std::vector<ReplyDelta>& ds) {
      for (const auto& d : ds) {
        switch (d.kind) {
          case ReplyDelta::Content: got.content += d.text; break;
          case ReplyDelta::Reasoning: got.reasoning += d.text; break;
          case ReplyDelta::ToolCallStart:
            EXPECT_EQ(d.index, static_cast<int>(got.tool_calls.size()));
            got.tool_calls.push_back({d.id, d.name, ""});
            break;
          case ReplyDelta::ToolCallArguments:
            EXPECT_LT(d.index, static_cast<int>(got.tool_calls.size())) << "arguments before the call's first delta";
            got.tool_calls.at(d.index).arguments += d.text;
            break;
        }
      }
    };
    for (size_t i = 0; i < text.size(); i += step) apply(rs.feed(std::string_view(text).substr(i, step)));
    apply(rs.finish());
    EXPECT_EQ(got.content, whole.content) << "step " << step;
    EXPECT_EQ(got.reasoning, whole.reasoning) << "step " << step;
    EXPECT_EQ(got.tool_calls.size(), whole.tool_calls.size()) << "step " << step;
    for (size_t i = 0; i < std::min(got.tool_calls.size(), whole.tool_calls.size()); ++i) {
      EXPECT_EQ(got.tool_calls[i].name, whole.tool_calls[i].name);
      EXPECT_EQ(got.tool_calls[i].arguments, whole.tool_calls[i].arguments == "" ? "{}" : whole.tool_calls[i].arguments);
    }
  }
  return whole;
}

void expect_call(const ToolCall& c, const std::string& name, const ordered_json& args) {
  EXPECT_EQ(c.name, name);
  EXPECT_EQ(nlohmann::json::parse(c.arguments), nlohmann::json(args)) << c.arguments;
}

const ordered_json kParis = {{"city", "Paris"}, {"days", {1, 2}}};
const ordered_json kZone = {{"zone", "Europe/Paris"}};

TEST(ToolCalls, DetectsFormatsFromTemplates) {
  EXPECT_EQ(detect_chat_format(tool_template("qwen3.jinja")).tools, ToolFormat::Hermes);
  EXPECT_TRUE(detect_chat_format(tool_template("qwen3.jinja")).think_tags);
  EXPECT_EQ(detect_chat_format(tool_template("extra/Qwen-Qwen2.5-7B-Instruct.jinja")).tools, ToolFormat::Hermes);
  EXPECT_FALSE(detect_chat_format(tool_template("extra/Qwen-Qwen2.5-7B-Instruct.jinja")).think_tags);
  EXPECT_EQ(detect_chat_format(tool_template("meta-llama-Llama-3.1-8B-Instruct.jinja")).tools, ToolFormat::Llama3);
  EXPECT_EQ(detect_chat_format(tool_template("extra/meta-llama-Llama-3.2-3B-Instruct.jinja")).tools, ToolFormat::Llama3);
  EXPECT_EQ(detect_chat_format(tool_template("mistralai-Mistral-Nemo-Instruct-2407.jinja")).tools, ToolFormat::Mistral);
  EXPECT_EQ(detect_chat_format(tool_template("extra/Mistral-Small-3.2-24B-Instruct-2506.jinja")).tools, ToolFormat::Mistral);
  EXPECT_EQ(detect_chat_format(tool_template("openai-gpt-oss-120b.jinja")).tools, ToolFormat::Harmony);
  EXPECT_EQ(detect_chat_format(tool_template("gemma3.jinja")).tools, ToolFormat::Generic);
  EXPECT_EQ(detect_chat_format(tool_template("chatml.jinja")).tools, ToolFormat::Generic);
}

TEST(ToolCalls, Qwen3SeveralCallsPerTurn) {
  const std::string tmpl = tool_template("qwen3.jinja");
  const std::string text = generated_part(
      tmpl, {{"role", "assistant"}, {"content", "Let me look."}, {"tool_calls", {call("a", "get_weather", kParis), call("b", "get_time", kZone)}}});
  ASSERT_NE(text.find("<tool_call>"), std::string::npos) << text;
  const auto m = parse_checked(detect_chat_format(tmpl), text);
  EXPECT_EQ(m.content, "Let me look.");
  ASSERT_EQ(m.tool_calls.size(), 2u) << text;
  expect_call(m.tool_calls[0], "get_weather", kParis);
  expect_call(m.tool_calls[1], "get_time", kZone);
}

TEST(ToolCalls, Qwen25) {
  const std::string tmpl = tool_template("extra/Qwen-Qwen2.5-7B-Instruct.jinja");
  const std::string text = generated_part(tmpl, {{"role", "assistant"}, {"content", ""}, {"tool_calls", {call("a", "get_weather", kParis)}}});
  const auto m = parse_checked(detect_chat_format(tmpl), text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 1u) << text;
  expect_call(m.tool_calls[0], "get_weather", kParis);
}

TEST(ToolCalls, Llama31JsonCall) {
  const std::string tmpl = tool_template("meta-llama-Llama-3.1-8B-Instruct.jinja");
  const std::string text = generated_part(tmpl, {{"role", "assistant"}, {"content", ""}, {"tool_calls", {call("a", "get_weather", kParis)}}});
  ASSERT_NE(text.find("\"parameters\""), std::string::npos) << text;
  const auto m = parse_checked(detect_chat_format(tmpl), text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 1u) << text;
  expect_call(m.tool_calls[0], "get_weather", kParis);
  // A plain answer stays content, including one that starts like JSON but is no call.
  const auto plain = parse_checked(detect_chat_format(tmpl), "{\"answer\": 42} is the JSON.");
  EXPECT_EQ(plain.content, "{\"answer\": 42} is the JSON.");
  EXPECT_TRUE(plain.tool_calls.empty());
}

// Two calls in one turn, rendered by a Mistral template; `marker` shows which of its call syntaxes it is.
void expect_two_mistral_calls(const std::string& file, const std::string& marker) {
  const std::string tmpl = tool_template(file);
  const std::string text = generated_part(
      tmpl, {{"role", "assistant"}, {"content", ""}, {"tool_calls", {call("abcDEF123", "get_weather", kParis), call("xyzXYZ789", "get_time", kZone)}}});
  ASSERT_NE(text.find(marker), std::string::npos) << text;
  const auto m = parse_checked(detect_chat_format(tmpl), text);
  ASSERT_EQ(m.tool_calls.size(), 2u) << text;
  expect_call(m.tool_calls[0], "get_weather", kParis);
  expect_call(m.tool_calls[1], "get_time", kZone);
}

TEST(ToolCalls, MistralNemoArray) { expect_two_mistral_calls("mistralai-Mistral-Nemo-Instruct-2407.jinja", "[TOOL_CALLS]["); }
TEST(ToolCalls, MistralSmallArgsFormat) { expect_two_mistral_calls("extra/Mistral-Small-3.2-24B-Instruct-2506.jinja", "[ARGS]"); }

TEST(ToolCalls, GptOssHarmonyCallAndAnalysis) {
  const std::string tmpl = tool_template("openai-gpt-oss-120b.jinja");
  const ChatFormat f = detect_chat_format(tmpl);
  const std::string call_text = generated_part(tmpl, {{"role", "assistant"}, {"content", ""}, {"tool_calls", {call("a", "get_weather", kParis)}}});
  ASSERT_NE(call_text.find("to=functions.get_weather"), std::string::npos) << call_text;
  const auto m = parse_checked(f, call_text);
  ASSERT_EQ(m.tool_calls.size(), 1u) << call_text;
  expect_call(m.tool_calls[0], "get_weather", kParis);

  const std::string answer = generated_part(tmpl, {{"role", "assistant"}, {"thinking", "The user wants weather."}, {"content", "It is sunny."}});
  ASSERT_NE(answer.find("<|channel|>analysis"), std::string::npos) << answer;
  const auto a = parse_checked(f, answer);
  EXPECT_EQ(a.reasoning, "The user wants weather.");
  EXPECT_EQ(a.content, "It is sunny.");
  EXPECT_TRUE(a.tool_calls.empty());
}

TEST(ToolCalls, Qwen3ThinkSplit) {
  const ChatFormat f = detect_chat_format(tool_template("qwen3.jinja"));
  auto m = parse_checked(f, "<think>\nThe user greets.\n</think>\n\nHello there.");
  EXPECT_EQ(m.reasoning, "The user greets.");
  EXPECT_EQ(m.content, "Hello there.");
  m = parse_checked(f, "<think>\nHm.\n</think>\n\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}\n</tool_call>");
  EXPECT_EQ(m.reasoning, "Hm.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m.tool_calls[0], "get_time", {{"zone", "UTC"}});
  // A prompt that opened the block (enable_thinking templates of later Qwen3 releases): the reply starts inside it.
  m = parse_checked(f, "still thinking</think>Done.", true);
  EXPECT_EQ(m.reasoning, "still thinking");
  EXPECT_EQ(m.content, "Done.");
  // Cut by max_tokens inside the block: all reasoning.
  m = parse_checked(f, "<think>\nnot finished");
  EXPECT_EQ(m.reasoning, "not finished");
  EXPECT_EQ(m.content, "");
  EXPECT_TRUE(prompt_opens_reasoning(f, "<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning(f, "<|im_start|>assistant\n<think>\n\n</think>\n\n"));
}

TEST(ToolCalls, GenericFallbackForGemma3) {
  const ChatFormat f = detect_chat_format(tool_template("gemma3.jinja"));
  auto m = parse_checked(f, "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": [1, 2]}}]}");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m.tool_calls[0], "get_weather", kParis);
  m = parse_checked(f, "It is sunny in Paris.");
  EXPECT_EQ(m.content, "It is sunny in Paris.");
  m = parse_checked(f, "{\"city\": \"Paris\"}");
  EXPECT_EQ(m.content, "{\"city\": \"Paris\"}");
  EXPECT_TRUE(m.tool_calls.empty());
  const std::string prompt = generic_tool_prompt(nlohmann::json(kTools), true);
  EXPECT_NE(prompt.find("get_weather"), std::string::npos);
  EXPECT_NE(prompt.find("must call"), std::string::npos);
}

TEST(ToolCalls, StreamingSendsNameBeforeArguments) {
  const ChatFormat f = detect_chat_format(tool_template("qwen3.jinja"));
  ReplyStream rs(f, false, "");
  std::vector<ReplyDelta> all;
  for (const char* piece : {"<tool", "_call>\n{\"name\": \"get_", "time\", \"argu", "ments\": {\"zone\"", ": \"UTC\"}}\n</tool_call>"})
    for (auto& d : rs.feed(piece)) all.push_back(d);
  for (auto& d : rs.finish()) all.push_back(d);
  ASSERT_GE(all.size(), 3u);
  EXPECT_EQ(all[0].kind, ReplyDelta::ToolCallStart);
  EXPECT_EQ(all[0].name, "get_time");
  EXPECT_EQ(all[0].id.substr(0, 5), "call_");
  std::string args;
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_EQ(all[i].kind, ReplyDelta::ToolCallArguments);
    args += all[i].text;
  }
  EXPECT_EQ(args, "{\"zone\": \"UTC\"}");
  EXPECT_GE(all.size() - 1, 2u) << "arguments arrive in more than one piece";
}

}  // namespace
}  // namespace lp::text
