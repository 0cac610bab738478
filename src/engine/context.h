// An inference context: one sequence's KV cache plus scratch buffers, running the transformer forward
// pass over batches of tokens. Read forward.cpp top to bottom for the math.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/moe.h"
#include "engine/observers.h"

namespace lp::engine {

struct ContextOptions {
  int n_ctx = 4096;    // clamped to the model's training context when 0
  int n_batch = 512;   // prompt tokens per forward call (prefill batch)
  int threads = 0;     // 0 = physical cores
  CacheType cache_type = CacheType::F16;
};

int default_thread_count();

class Context {
 public:
  Context(const Model& model, const ContextOptions& options);

  // Appends tokens at positions n_past().. and runs them. When all_logits, logits(i) is available for
  // every token of this call; otherwise only for the last one (logits(0)). Throws when the context is full.
  void eval(std::span<const int32_t> tokens, bool all_logits = false);

  const float* logits(int i = 0) const { return logits_.data() + static_cast<size_t>(i) * model_.hp().n_vocab; }
  int n_vocab() const { return model_.hp().n_vocab; }
  int n_past() const { return n_past_; }
  int n_ctx() const { return n_ctx_; }
  int threads() const { return threads_; }
  void reset() { n_past_ = 0; }
  void truncate(int n) { n_past_ = n < n_past_ ? n : n_past_; }  // drops cached positions >= n
  const Model& model() const { return model_; }
  const KvCache& cache() const { return cache_; }
  // This context's observers (engine/observers.h): its eval() calls report to them, no other context's do.
  void set_observers(Observers observers) { observers_ = std::move(observers); }
  const Observers& observers() const { return observers_; }

 private:
  void forward_batch(const int32_t* tokens, int n, bool all_logits, float* out_logits);

  const Model& model_;
  int n_ctx_, n_batch_, threads_;
  KvCache cache_;
  int n_past_ = 0;
  std::vector<float> logits_;
  // scratch, sized for n_batch tokens
  std::vector<float> x_, xn_, q_, k_, v_, attn_, o_, gate_, up_, scores_;
  MoeScratch moe_;
  Observers observers_;
};

}  // namespace lp::engine
