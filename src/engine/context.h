// An inference context: a KV cache for one or several sequences plus scratch buffers, running the
// transformer forward pass over batches of tokens. Read forward.cpp top to bottom for the math.
//
// Several sequences (n_seq > 1): the KV cache is one pool of n_ctx cells split into n_seq equal slots of
// n_ctx / n_seq cells (llama-server's --ctx / --parallel); sequence s owns cells [s * seq_ctx, (s+1) * seq_ctx).
// decode() runs a batch of (sequence, position, token) rows in one forward pass: every weight matrix is read
// once for all rows (the multi-token GEMM tiles), and each row attends only to its own sequence's cells
// (positions <= its own, within the sliding window where the layer has one).
#pragma once
#include <algorithm>
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
  CacheType cache_type_k = CacheType::F16;  // KV cache types of K and of V (engine/kv_cache.h)
  CacheType cache_type_v = CacheType::F16;
  void set_cache_type(CacheType t) { cache_type_k = cache_type_v = t; }
  int n_seq = 1;       // sequences sharing the cache; each gets n_ctx / n_seq cells
};

// One row of a multi-sequence batch. pos must be the sequence's next position (n_past(seq) plus the rows of
// the same sequence before it in this batch).
struct BatchRow {
  int32_t seq = 0;
  int32_t pos = 0;
  int32_t token = 0;
  bool logits = false;  // compute this row's logits (batch_logits(k) for the k-th such row)
};

int default_thread_count();

class Context {
 public:
  Context(const Model& model, const ContextOptions& options);

  // Appends tokens at positions n_past().. and runs them. When all_logits, logits(i) is available for
  // every token of this call; otherwise only for the last one (logits(0)). Throws when the context is full.
  void eval(std::span<const int32_t> tokens, bool all_logits = false);

  // Runs rows of several sequences in one pass (split into n_batch-row forward calls). Throws, changing
  // nothing, on a sequence id out of range, a position that does not continue its sequence, a full
  // sequence, or a token outside the vocabulary. Logits of the flagged rows: batch_logits(0..).
  void decode(std::span<const BatchRow> rows);
  const float* batch_logits(int k) const { return logits_.data() + static_cast<size_t>(k) * model_.hp().n_vocab; }

  int n_seq() const { return n_seq_; }
  int seq_ctx() const { return seq_ctx_; }                 // cells per sequence
  int seq_n_past(int seq) const { return seq_past_[seq]; }
  // Drops sequence seq's positions >= n. A model with recurrent layers (qwen35) cannot rewind its state: n must be
  // 0 (clears it) or at least the sequence's length (can_rewind() says which models can).
  void seq_truncate(int seq, int n);
  bool can_rewind() const { return model_.hp().n_recurrent == 0; }
  // Copies the first n cached positions of src into dst (a shared prompt prefix: n > 1 choices, or another
  // slot's system prompt) and sets dst's length to n. Cheaper than evaluating them again. Recurrent models: n must be
  // 0 or src's whole length (the state exists only at the end of the sequence).
  void seq_copy(int src, int dst, int n);
  int cells_used() const;  // sum of the sequences' lengths

  const float* logits(int i = 0) const { return logits_.data() + static_cast<size_t>(i) * model_.hp().n_vocab; }
  int n_vocab() const { return model_.hp().n_vocab; }
  int n_past() const { return seq_past_[0]; }  // sequence 0 (the single-sequence API)
  int n_ctx() const { return n_ctx_; }
  int threads() const { return threads_; }
  void reset() {
    std::fill(seq_past_.begin(), seq_past_.end(), 0);
    std::fill(conv_state_.begin(), conv_state_.end(), 0.0f);
    std::fill(ssm_state_.begin(), ssm_state_.end(), 0.0f);
  }
  void truncate(int n) { seq_truncate(0, n); }  // drops sequence 0's cached positions >= n
  const Model& model() const { return model_; }
  const KvCache& cache() const { return cache_; }
  // This context's observers (engine/observers.h): its eval() calls report to them, no other context's do.
  void set_observers(Observers observers) { observers_ = std::move(observers); }
  const Observers& observers() const { return observers_; }

 private:
  void forward_batch(const BatchRow* rows, int n, float* out_logits);
  // Gated DeltaNet layer il on xn_ (normed input) -> o_ (engine/linear_attention.cpp); updates each row's sequence state.
  void linear_attention(const LayerDesc& L, int il, const BatchRow* rows, int n);
  void clear_recurrent(int seq);
  float* conv_state(int seq, int il);  // [(kernel - 1) x conv_dim], oldest input first
  float* ssm_state(int seq, int il);   // [v_heads x head_dim (v) x head_dim (k)]

  const Model& model_;
  int n_ctx_, n_batch_, threads_, n_seq_, seq_ctx_;
  KvCache cache_;
  std::vector<int> seq_past_;
  std::vector<float> logits_;
  // scratch, sized for n_batch tokens
  std::vector<float> x_, xn_, q_, k_, v_, attn_, o_, gate_, up_, scores_;
  std::vector<float> ple_, ple_g_;  // gemma4: per-layer inputs [token][layer][P], and the gated slice [token][P]
  std::vector<float> qg_, ag_;  // gated attention (qwen35): wq output [query, gate] per head, and the gates
  // Recurrent layers (qwen35): per sequence and recurrent layer, the conv inputs and the delta-rule state.
  std::vector<int> rec_index_;  // layer -> recurrent slot, -1 for attention layers
  std::vector<int> kv_index_;   // layer -> KV cache layer, -1 for recurrent layers (they keep no KV)
  std::vector<float> conv_state_, ssm_state_;
  std::vector<float> qkv_, z_, beta_, alpha_, conv_out_;
  MoeScratch moe_;
  Observers observers_;
};

}  // namespace lp::engine
