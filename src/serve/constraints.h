// Constrained decoding and logprobs for the server (docs/SERVE.md, "Structured output", "Logprobs"):
// response_format and forced tool calls compiled to a grammar (text/json_grammar.h) and applied as a token mask
// over the vocabulary (lp::TokenConstraint), and the logprobs objects of responses and stream chunks.
//
// Hook points: configure_generation() sets InferenceConfig::constraint / decode_special / logprobs before the
// runtime generates; each sequence's sampling step (engine::Generation::step in src/engine/runtime.cpp, used by
// Runtime and lp::Scheduler alike, one constraint per sequence) asks the
// constraint (allows / mask / accept / complete) and records logprobs.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "llama_pajamas/runtime.h"
#include "serve/chat_prompt.h"
#include "serve/openai_api.h"
#include "text/json_grammar.h"

namespace lp::serve {

// The vocabulary as bytes, in the tries constrained decoding walks; built once per model and kept.
class VocabIndex;

// A grammar applied to a model's vocabulary. Masks are cached per matcher state and shared by every request
// with the same grammar (the same schema), so a state's mask is computed once.
class GrammarConstraint : public TokenConstraint {
 public:
  struct Shared;
  GrammarConstraint(std::shared_ptr<Shared> shared);
  bool allows(int32_t token) override;
  void mask(float* logits, int n_vocab) override;
  void accept(int32_t token) override;
  bool complete() const override;
  std::shared_ptr<TokenConstraint> clone() const override { return std::make_shared<GrammarConstraint>(*this); }

  // The allowed-token set of the current state (for tests and benchmarks): one flag per token id.
  std::vector<bool> allowed_tokens();
  // Feeds text the grammar must take (a tool-call marker found by a TriggeredConstraint); false: rejected.
  bool accept_text(std::string_view bytes) { return matcher_.accept(bytes); }
  bool allows_text(std::string_view bytes) const { return matcher_.allows(bytes); }
  const std::shared_ptr<Shared>& shared() const { return shared_; }

 private:
  const std::vector<uint64_t>& current_mask();
  std::shared_ptr<Shared> shared_;
  text::GrammarMatcher matcher_;
};

// A constraint from a grammar builder (compiled once per key and model; key: what the grammar was built from).
// build adds rules to the grammar and returns the root rule. Throws ApiError for schema errors
// (param = `param`, the message names the keyword).
std::shared_ptr<GrammarConstraint> grammar_constraint(const Runtime& rt, bool with_special, const std::string& key,
                                                      const std::function<int(text::Grammar&)>& build);

// Fills r.config.constraint (response_format; tool_choice required / named; tool_choice auto with a "strict"
// tool or parallel_tool_calls false: free text until the template's call marker, then well-formed calls whose
// arguments match the strict tools' schemas, at most one call when parallel_tool_calls is false), decode_special (the template's
// markers are special tokens) and logprobs from the request. Throws ApiError (400) for unsupported schemas.
void configure_generation(const Runtime& rt, GenerationRequest& r, const ChatPrompt* chat);

// Tests only: every constraint configure_generation sets (null when it sets none) goes through `w`, so a test
// can force a reply's text through the real server path (tests/unit/serve/structured_test.cpp, Reasoning).
// Set it before a server starts and clear it (empty function) after it stops.
using ConstraintWrapper = std::function<std::shared_ptr<TokenConstraint>(std::shared_ptr<TokenConstraint>)>;
void set_constraint_wrapper_for_tests(ConstraintWrapper w);

// choices[0].logprobs of a response.
nlohmann::json response_logprobs(const Runtime& rt, std::span<const TokenLogprob> lps, bool chat);

// Streaming: logprobs collected since the last chunk, put on the next chunk's choice.
class StreamLogprobs {
 public:
  StreamLogprobs(const Runtime& rt, const GenerationRequest& r, bool chat) : rt_(rt), on_(r.top_logprobs >= 0), chat_(chat) {}
  void add(const TokenLogprob& t) { pending_.push_back(t); }
  void attach(nlohmann::json& chunk);

 private:
  const Runtime& rt_;
  bool on_, chat_;
  std::vector<TokenLogprob> pending_;
  size_t offset_ = 0;
};

}  // namespace lp::serve
