// Engine internals behind lp::Runtime and lp::Scheduler: the loaded model, the tokenizer, the
// single-sequence context (made on first use, so a server that only schedules never allocates it), and one
// sequence's generation state (sampler, streaming detokenizer, stop strings), shared by both front ends.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/context.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/stop_strings.h"
#include "llama_pajamas/runtime.h"
#include "text/tokenizer/tokenizer.h"

namespace lp {

struct Runtime::Impl {
  std::string path;
  RuntimeOptions options;
  std::unique_ptr<engine::Model> model;
  std::optional<text::Tokenizer> tokenizer;
  std::string tokenizer_error;
  std::vector<int32_t> cached;  // tokens whose K/V are in ctx, in order
  std::set<int32_t> eog;
  double load_seconds = 0;
  uint64_t instance = next_instance();  // Runtime::instance_id()

  static uint64_t next_instance() {
    static std::atomic<uint64_t> n{0};
    return ++n;
  }
  const text::Tokenizer& tok() const {
    if (!tokenizer) fail("{}: tokenizer unavailable: {}", path, tokenizer_error);
    return *tokenizer;
  }
  engine::ContextOptions context_options(int n_seq = 1) const;
  engine::Context& context();  // the single-sequence context, allocated on first use
  int n_ctx() const { return options.ctx > 0 ? options.ctx : model->hp().n_ctx_train; }

 private:
  std::unique_ptr<engine::Context> ctx_;
};

namespace engine {

// One sequence's sampling and text: feed it each step's logits; it picks the token (under the sequence's own
// constraint, if any), records its logprob, decodes and filters the text, and decides whether generation ends
// (end of generation, a complete constrained output, stop string, max_tokens, no room left).
class Generation {
 public:
  using Clock = std::chrono::steady_clock;
  // prompt: the whole prompt (for penalties); cached: how many of its tokens came from the cache.
  Generation(const Runtime::Impl& rt, const InferenceConfig& config, std::span<const int32_t> prompt, int cached);
  // Samples from logits and returns the text to emit (possibly empty). When !done() afterwards, *next is
  // the token to evaluate next. room: whether the sequence can hold another token.
  std::string step(const float* logits, int n_vocab, bool room, int32_t* next);
  void finish(const char* reason);
  bool done() const { return done_; }
  GenerationResult& result() { return result_; }

 private:
  const Runtime::Impl& rt_;
  InferenceConfig config_;
  Sampler sampler_{SamplerParams{}};
  std::optional<text::StreamingDecoder> decoder_;
  StopStringFilter stops_;
  std::vector<int32_t> history_;  // prompt + generated, for penalties
  GenerationResult result_;
  bool done_ = false;
  Clock::time_point decode_start_;
  std::vector<float> masked_;  // logits under the constraint's mask
};

}  // namespace engine
}  // namespace lp
