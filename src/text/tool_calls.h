// Tool calls and reasoning in model output: which format a chat template speaks (detected from the template's
// source, never from the model's name), and a parser that splits generated text into OpenAI's
// `content` / `reasoning_content` / `tool_calls`, whole or incrementally (streaming deltas).
//
// Formats (docs/CHAT_TEMPLATES.md, "Tool calls and reasoning"):
//   Hermes   Qwen2.5 / Qwen3:      <tool_call>{"name": N, "arguments": {...}}</tool_call>   (several per turn)
//   Llama3   Llama 3.1 / 3.2:      {"name": N, "parameters": {...}}   ([<|python_tag|>] the whole reply)
//   Mistral  Nemo (v3 tokenizer):  [TOOL_CALLS][{"name": N, "arguments": {...}, "id": ...}, ...]
//            Small 3.2 (v11+):     [TOOL_CALLS]N[CALL_ID]id[ARGS]{...}   (repeated)
//   Harmony  gpt-oss:              <|channel|>analysis<|message|>...<|end|><|start|>assistant to=functions.N
//                                  <|channel|>commentary json<|message|>{...}   (<|call|> ends the turn)
//   Generic  templates without tool support (Gemma 3): the tools are described in a system message this module
//            writes (generic_tool_prompt) and the model answers {"tool_calls": [{"name": N, "arguments": {...}}]}.
// Reasoning: Qwen3-style <think>...</think> at the start of the reply; gpt-oss's analysis channel.
// Arguments are the model's own JSON text of the arguments object (not re-serialized), so streamed pieces
// concatenate to exactly the non-streamed string.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace lp::text {

enum class ToolFormat { Hermes, Llama3, Mistral, Harmony, Generic };
const char* tool_format_name(ToolFormat f);

struct ChatFormat {
  ToolFormat tools = ToolFormat::Generic;
  bool think_tags = false;          // <think>...</think> reasoning (Qwen3, QwQ, DeepSeek-R1 distills)
  bool needs_special_tokens = false;  // the markers are special tokens: decode them as text (Mistral, Harmony, Llama3)
  bool parse_tools = true;          // false: no tools were offered, every reply is content (and reasoning)
};

// From the template source: "<|channel|>" -> Harmony; "<tool_call>" -> Hermes; "[TOOL_CALLS]" -> Mistral;
// "<|start_header_id|>" with "ipython"/"<|python_tag|>" -> Llama3; anything else -> Generic.
ChatFormat detect_chat_format(std::string_view template_source);

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text of the arguments object
};

struct ParsedMessage {
  std::string content;
  std::string reasoning;
  std::vector<ToolCall> tool_calls;  // ids left empty by the parser
};

// Parses a reply. partial: the text may be cut anywhere (streaming): trailing text that could still turn into
// a marker, and trailing whitespace of content, are held back, so every partial result's strings are prefixes
// of the final ones. in_reasoning: the prompt already opened the reasoning block (a generation prompt ending
// in "<think>\n"), so the reply starts inside it.
ParsedMessage parse_reply(const ChatFormat& format, std::string_view text, bool partial, bool in_reasoning = false);

// True when the rendered generation prompt leaves a <think> block open.
bool prompt_opens_reasoning(const ChatFormat& format, std::string_view prompt);

// One streaming event, in the order OpenAI sends them: a tool call's first delta carries index, id and name
// (arguments ""), later ones argument pieces.
struct ReplyDelta {
  enum Kind { Content, Reasoning, ToolCallStart, ToolCallArguments } kind;
  std::string text;  // content / reasoning / arguments piece
  int index = 0;     // tool call index
  std::string id, name;
};

// Incremental form: feed text pieces, get the deltas that became certain; finish() flushes the rest.
class ReplyStream {
 public:
  ReplyStream(ChatFormat format, bool in_reasoning, std::string id_prefix);
  std::vector<ReplyDelta> feed(std::string_view piece);
  std::vector<ReplyDelta> finish();
  // The whole reply as parsed at the end (ids as streamed); valid after finish().
  const ParsedMessage& message() const { return sent_; }

 private:
  std::vector<ReplyDelta> diff(const ParsedMessage& now);
  ChatFormat format_;
  bool in_reasoning_;
  std::string id_prefix_;
  std::string text_;
  ParsedMessage sent_;
};

// A fresh tool-call id: Mistral templates demand 9 alphanumerics; others get "call_" + 24.
std::string new_tool_call_id(ToolFormat format);

// The system-prompt text that teaches a template without tool support (Generic) to call `tools` (an OpenAI
// tools array) and how to answer.
std::string generic_tool_prompt(const nlohmann::json& tools, bool required);

}  // namespace lp::text
