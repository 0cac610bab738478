// The chat side of a request between the wire format and the runtime: the prompt rendered through the model's
// own template with tools, tool-call history and template kwargs (docs/CHAT_TEMPLATES.md, "Tool calls and
// reasoning"), and the reply parsed back into content / reasoning_content / tool_calls, whole or as stream deltas.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llama_pajamas/runtime.h"
#include "serve/openai_api.h"
#include "text/tool_calls.h"

namespace lp::serve {

struct ChatPrompt {
  std::string text;          // the rendered prompt (BOS written by the template)
  text::ChatFormat format;   // how the reply is parsed (format.parse_tools: tools offered and tool_choice != none)
  bool in_reasoning = false; // the prompt opened a <think> block
};

// Throws ApiError (400) for a conversation the template rejects and for chat_template_kwargs /
// reasoning_effort the template never reads.
ChatPrompt render_chat_prompt(const Runtime::ChatTemplateInfo& tmpl, const GenerationRequest& r);

// A finished reply as the response message (fresh tool-call ids; every call the model wrote: parallel_tool_calls false is
// enforced while decoding, by configure_generation's constraint).
ReplyMessage reply_message(const ChatPrompt& p, const GenerationRequest& r, const std::string& text);

// Streaming: text pieces in, chat-chunk deltas out ({"content"}, {"reasoning_content"}, {"tool_calls": [...]}).
class ReplyDeltas {
 public:
  ReplyDeltas(const ChatPrompt& p, const GenerationRequest& r);
  std::vector<nlohmann::json> feed(std::string_view piece);
  std::vector<nlohmann::json> finish();
  // The reply as streamed (valid after finish()): the finish reason is decided from it.
  ReplyMessage message() const;

 private:
  std::vector<nlohmann::json> convert(const std::vector<text::ReplyDelta>& ds) const;
  text::ReplyStream stream_;
};

}  // namespace lp::serve
