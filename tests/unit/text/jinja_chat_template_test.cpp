// The public API on real templates, and finding a model's template (HF folder, GGUF, .jinja).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "text/jinja/chat_template.h"
#include "text/jinja/template_source.h"
#include "peer_skip.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string data_template(const std::string& name) {
  return read_file(fs::path(LP_SOURCE_DIR) / "tests/data/templates" / name);
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("lp-jinja-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name, std::ios::binary) << text; }
};

TEST(ChatTemplate, ChatMLRendersConversation) {
  lp::text::ChatTemplate t(data_template("chatml.jinja"));
  json messages = json::array({{{"role", "user"}, {"content", "Hi"}}, {{"role", "assistant"}, {"content", "Hello"}}});
  EXPECT_EQ(t.render(messages, nullptr, true),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t.render(messages, nullptr, false), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n");
}

TEST(ChatTemplate, Qwen3ToolCallAndThinkingSwitch) {
  lp::text::ChatTemplate t(data_template("qwen3.jinja"));
  ojson tools = ojson::parse(R"([{"type": "function", "function": {"name": "get_weather", "parameters":
      {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  ojson messages = ojson::parse(R"([{"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "content": "sunny"}])");
  std::string out = t.render_ordered(messages, tools, true, {{"enable_thinking", false}});
  EXPECT_NE(out.find("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": "
                     "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n</tools>"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
                     "</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n"),
            std::string::npos)
      << out;
  EXPECT_TRUE(out.ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n")) << out;
}

TEST(ChatTemplate, UnorderedJsonInputRendersKeysSorted) {
  // nlohmann::json sorts object keys; render() therefore prints them sorted, render_ordered() keeps order.
  lp::text::ChatTemplate t("{{ messages[0].args|tojson }}");
  json sorted = json::array({{{"args", {{"b", 1}, {"a", 2}}}}});
  ojson ordered = ojson::array({{{"args", {{"b", 1}, {"a", 2}}}}});
  EXPECT_EQ(t.render(sorted, nullptr, false), R"({"a": 2, "b": 1})");
  EXPECT_EQ(t.render_ordered(ordered, nullptr, false), R"({"b": 1, "a": 2})");
}

TEST(ChatTemplate, ToolsNullIsNoneAndExtraContextIsVisible) {
  lp::text::ChatTemplate t("{{ tools is none }}|{{ tools is defined }}|{{ bos_token }}|{{ add_generation_prompt }}|{{ eos_token is defined }}");
  EXPECT_EQ(t.render(json::array(), nullptr, true, {{"bos_token", "<s>"}}), "True|True|<s>|True|False");
}

TEST(ChatTemplate, GemmaRaisesOnNonAlternatingRoles) {
  lp::text::ChatTemplate t(data_template("gemma3.jinja"));
  json ok = json::array({{{"role", "user"}, {"content", " hi "}}});
  EXPECT_EQ(t.render(ok, nullptr, true, {{"bos_token", "<bos>"}}),
            "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n");
  json bad = json::array({{{"role", "user"}, {"content", "a"}}, {{"role", "user"}, {"content", "b"}}});
  try {
    t.render(bad, nullptr, true, {{"bos_token", "<bos>"}});
    FAIL() << "expected raise_exception";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("Conversation roles must alternate user/assistant/user/assistant/..."),
              std::string::npos);
  }
}

TEST(ChatTemplate, ParsesOnceRendersMany) {
  lp::text::ChatTemplate t(data_template("openai-gpt-oss-120b.jinja"));
  json messages = json::array({{{"role", "user"}, {"content", "Hi"}}});
  std::string a = t.render(messages, nullptr, true, {{"reasoning_effort", "low"}});
  std::string b = t.render(messages, nullptr, true, {{"reasoning_effort", "high"}});
  EXPECT_NE(a.find("Reasoning: low"), std::string::npos);
  EXPECT_NE(b.find("Reasoning: high"), std::string::npos);
  EXPECT_TRUE(a.ends_with("<|start|>user<|message|>Hi<|end|><|start|>assistant"));
}

TEST(TemplateSource, FolderPrefersJinjaFileThenJsonThenTokenizerConfig) {
  TempDir dir;
  dir.write("tokenizer_config.json",
            R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "chat_template": "from-config"})");
  auto src = lp::text::load_chat_template_source(dir.path.string());
  EXPECT_EQ(src.source, "from-config");
  EXPECT_EQ(src.bos_token.value_or("?"), "<s>");
  EXPECT_EQ(src.eos_token.value_or("?"), "</s>");
  EXPECT_EQ(src.special_tokens().dump(), R"({"bos_token":"<s>","eos_token":"</s>"})");
  dir.write("chat_template.json", R"({"chat_template": "from-json"})");
  EXPECT_EQ(lp::text::load_chat_template_source(dir.path.string()).source, "from-json");
  dir.write("chat_template.jinja", "from-jinja");
  EXPECT_EQ(lp::text::load_chat_template_source(dir.path.string()).source, "from-jinja");
}

TEST(TemplateSource, NamedTemplateListUsesDefault) {
  TempDir dir;
  dir.write("tokenizer_config.json",
            R"({"bos_token": null, "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  auto src = lp::text::load_chat_template_source(dir.path.string());
  EXPECT_EQ(src.source, "D");
  EXPECT_FALSE(src.bos_token.has_value());
  EXPECT_EQ(src.special_tokens().dump(), "{}");
}

TEST(TemplateSource, MissingTemplateIsAnErrorNamingTheFolder) {
  TempDir dir;
  dir.write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  try {
    lp::text::load_chat_template_source(dir.path.string());
    FAIL();
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path.string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("no chat template"), std::string::npos);
  }
}

// Minimal GGUF v3 with metadata only (no tensors).
void put_u32(std::string& b, uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string& b, uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }
void put_str(std::string& b, const std::string& s) {
  put_u64(b, s.size());
  b += s;
}

TEST(TemplateSource, GgufMetadata) {
  TempDir dir;
  std::string b;
  put_u32(b, 0x46554747);
  put_u32(b, 3);
  put_u64(b, 0);  // tensors
  put_u64(b, 4);  // kv pairs
  put_str(b, "general.architecture");
  put_u32(b, 8);
  put_str(b, "llama");
  put_str(b, "tokenizer.chat_template");
  put_u32(b, 8);
  put_str(b, "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ eos_token }}");
  put_str(b, "tokenizer.ggml.tokens");
  put_u32(b, 9);
  put_u32(b, 8);
  put_u64(b, 3);
  put_str(b, "<unk>");
  put_str(b, "<s>");
  put_str(b, "</s>");
  put_str(b, "tokenizer.ggml.bos_token_id");
  put_u32(b, 4);
  put_u32(b, 1);
  while (b.size() % 32) b += '\0';
  dir.write("m.gguf", b);
  auto src = lp::text::load_chat_template_source((dir.path / "m.gguf").string());
  EXPECT_EQ(src.bos_token.value_or("?"), "<s>");
  EXPECT_FALSE(src.eos_token.has_value());
  lp::text::ChatTemplate t(src.source);
  EXPECT_EQ(t.render_ordered(ojson::parse(R"([{"role": "user", "content": "hi"}])"), nullptr, false, src.special_tokens()),
            "<s>[user]hi");
}

TEST(TemplateSource, SharedFixtureFolder) {
  fs::path model = fs::path(LP_SHARED_FIXTURES) / "tiny-qwen3";
  if (!fs::exists(model / "tokenizer_config.json")) LP_SKIP_OR_FAIL("shared fixture missing: " << model);
  auto src = lp::text::load_chat_template_source(model.string());
  lp::text::ChatTemplate t(src.source);
  std::string out = t.render_ordered(ojson::parse(R"([{"role": "user", "content": "hi"}])"), nullptr, true, src.special_tokens());
  EXPECT_TRUE(out.starts_with("<|im_start|>user\nhi<|im_end|>\n")) << out;
}

}  // namespace
