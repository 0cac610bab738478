// Llama-Pajamas scheduler: several callers share one model and decode together (continuous batching).
//
//   auto rt = lp::Runtime::open("model.gguf");
//   lp::Scheduler sched(rt, {.parallel = 4});
//   auto job = sched.submit({.prompt = rt.tokenize("Once upon a time"), .config = cfg});
//   for (std::vector<lp::Scheduler::Piece> pieces; job->wait(pieces, std::chrono::seconds(1)); pieces.clear())
//     for (auto& p : pieces) std::cout << p.text;
//   lp::GenerationResult r = job->results()[0];
//
// `parallel` slots each own `ctx` KV cells (a per-slot context: a request gets the same context whether it runs
// alone or beside others; the cache holds parallel * ctx cells in all). A worker thread runs one forward pass per
// step over all active sequences (one weight read for all of them); new requests join between steps, and a
// finished or cancelled request frees its slot at once. A prompt that shares a prefix with a slot's cache
// (the same conversation continued, or a system prompt another slot evaluated) reuses those cells.
// Thread-safe: submit(), stats() and every Job method may be called from any thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "llama_pajamas/runtime.h"

namespace lp {

struct SchedulerOptions {
  int parallel = 4;      // slots (sequences decoded together); 0: the default (4)
  int ctx = 0;           // KV cells per slot; 0: the runtime's context (RuntimeOptions::ctx)
  int max_queue = 64;    // requests waiting for slots; submit() beyond it throws SchedulerFull
};

// submit() when max_queue requests are already waiting.
class SchedulerFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SchedulerStats {
  int slots = 0, busy_slots = 0, queued = 0;
  int slot_ctx = 0;
  int64_t kv_cells_total = 0, kv_cells_used = 0;  // cells holding the slots' cached tokens (busy or kept for reuse)
  int64_t kv_cells_busy = 0;                      // cells of busy slots
  uint64_t requests = 0, requests_finished = 0, requests_cancelled = 0, requests_rejected = 0;
  uint64_t prompt_tokens = 0, prompt_tokens_cached = 0, generated_tokens = 0;
  uint64_t steps = 0;
  double busy_seconds = 0;  // time the worker spent in forward passes and sampling
};

class Scheduler {
 public:
  struct Submission {
    std::vector<int32_t> prompt;
    InferenceConfig config;
    int n = 1;  // choices: parallel sequences sharing the prompt's KV (n <= parallel)
    std::optional<std::chrono::steady_clock::time_point> deadline;  // stop_reason "timeout" when reached
  };
  struct Piece {
    int choice = 0;
    std::string text;
    // With InferenceConfig::logprobs >= 0: the logprobs of the tokens sampled since the choice's previous piece
    // (a piece may carry logprobs and no text, e.g. while a stop string or a UTF-8 sequence is incomplete).
    std::vector<TokenLogprob> logprobs;
  };

  class Job {
   public:
    // Moves the pieces produced since the last call into out, waiting up to timeout for some. Returns false
    // once the job has finished and everything was delivered (results() is then complete).
    bool wait(std::vector<Piece>& out, std::chrono::milliseconds timeout);
    void cancel();  // stops the job at the next step (stop_reason "cancelled") and frees its slots
    bool finished() const;
    const std::vector<GenerationResult>& results() const;  // one per choice; complete once finished()
    int id() const { return id_; }

   private:
    friend class Scheduler;
    struct Choice;
    int id_ = 0;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Piece> pending_;
    std::vector<GenerationResult> results_;
    bool finished_ = false;
    std::atomic<bool> cancel_{false};
  };

  Scheduler(Runtime& runtime, const SchedulerOptions& options = {});
  ~Scheduler();  // shutdown()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Throws SchedulerFull when the queue is full, lp::Error (std::runtime_error) when n is not
  // 1..parallel, the prompt is empty or does not fit a slot's context, n > 1 with a constraint that cannot be
  // cloned (TokenConstraint::clone), or the scheduler is shut down. Each choice samples under its own copy of
  // config.constraint.
  std::shared_ptr<Job> submit(Submission submission);
  // Cancels every queued and running job (stop_reason "cancelled") and stops the worker. Idempotent.
  void shutdown();
  SchedulerStats stats() const;
  int parallel() const;
  int slot_ctx() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp
