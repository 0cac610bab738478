// Any byte string used as a chat template must either render or raise lp::Error: no crash, hang,
// unbounded memory or undefined behaviour. The input is the template; the context is a small
// conversation with tools so that loops, attribute access and tojson paths get exercised.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "text/jinja/chat_template.h"

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "sys"},
      {"role": "user", "content": "héllo 👋"},
      {"role": "assistant", "content": "", "reasoning_content": "think",
       "tool_calls": [{"id": "call000001", "type": "function", "function": {"name": "f", "arguments": {"a": 1, "b": [true, null, 0.5]}}}]},
      {"role": "tool", "tool_call_id": "call000001", "content": "{\"ok\": true}"}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "enable_thinking": false
  })");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  try {
    lp::text::ChatTemplate tmpl(std::string(reinterpret_cast<const char*>(data), size));
    volatile size_t sink = tmpl.render_context(context()).size();
    (void)sink;
  } catch (const lp::Error&) {
  }
  return 0;
}
