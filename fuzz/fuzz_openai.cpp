// Any HTTP request body sent to /v1/chat/completions or /v1/completions must either parse or raise
// lp::serve::ApiError (a 400 naming the field): no other exception, crash or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "serve/openai_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  lp::serve::RequestDefaults defaults;
  for (auto* parse : {&lp::serve::parse_chat_request, &lp::serve::parse_completion_request}) {
    try {
      const auto r = parse(body, defaults);
      // What the server does next with a parsed request: build the response shapes.
      lp::GenerationResult g;
      g.text = r.prompt;
      for (const auto& m : r.messages) g.text += m.content;
      (void)lp::serve::sse_event(lp::serve::chat_completion({"id", 0, r.model}, g, lp::serve::ReplyMessage{g.text, "", {}}));
    } catch (const lp::serve::ApiError& e) {
      if (e.status != 400 || e.type != "invalid_request_error") __builtin_trap();
    }
  }
  return 0;
}
