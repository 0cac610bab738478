// lp::Scheduler: continuous batching over one multi-sequence engine::Context. One worker thread owns the
// context; callers only touch the queue (under mu) and their Job (under the job's own mutex).
//
// A step: admit queued jobs into free slots (best cached prefix first), then one Context::decode over
//   - each prefilling slot's next prompt tokens (at most n_batch rows of prefill per step, so running streams
//     keep their pace while a long prompt is read), the last one with logits;
//   - each decoding slot's last sampled token, with logits;
// then sample every slot that got logits and deliver its text. n > 1 choices: the first choice's slot reads the
// prompt but its last token, the other choices' slots copy those cells (Context::seq_copy), then each choice
// evaluates the last prompt token itself and samples on its own.
#include "llama_pajamas/scheduler.h"

#include <algorithm>
#include <deque>
#include <thread>

#include "core/error.h"
#include "engine/runtime_impl.h"

namespace lp {
using Clock = std::chrono::steady_clock;

namespace {
size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}
}  // namespace

struct Scheduler::Job::Choice {
  std::shared_ptr<Job> job;
  int index = 0;
  int slot = -1;
  std::vector<int32_t> pending;  // prompt tokens still to evaluate
  std::optional<engine::Generation> gen;
  std::shared_ptr<TokenConstraint> constraint;  // this choice's own (config.constraint or a clone of it)
  size_t logprobs_sent = 0;      // gen->result().logprobs already delivered in pieces
  int32_t next = -1;             // sampled token to evaluate next
  bool waiting_leader = false;   // n > 1, not the first choice: waits for the shared prompt cells
  double prefill_seconds = 0;
  Clock::time_point admitted;
};

struct Scheduler::Impl {
  Runtime::Impl& rt;
  SchedulerOptions opt;
  std::unique_ptr<engine::Context> ctx;
  int slot_ctx = 0;

  mutable std::mutex mu;
  std::condition_variable cv;
  struct Queued {
    std::shared_ptr<Job> job;
    Submission sub;
    std::vector<std::shared_ptr<TokenConstraint>> constraints;  // one per choice when config.constraint is set
  };
  std::deque<Queued> queue;
  bool stopping = false;
  int next_id = 1;

  // Worker-owned (stats read under mu).
  struct Slot {
    std::vector<int32_t> cached;  // tokens whose K/V are in this slot's cells, in order
    std::shared_ptr<Job::Choice> choice;  // null: free
    Clock::time_point last_used;
  };
  std::vector<Slot> slots;
  struct Active {
    std::shared_ptr<Job> job;
    Submission sub;
    std::vector<std::shared_ptr<Job::Choice>> choices;
    int done = 0;
  };
  std::vector<std::shared_ptr<Active>> active;
  SchedulerStats st;
  std::thread worker;
  std::mutex shutdown_mu;  // shutdown() from several threads joins once

  Impl(Runtime::Impl& r, const SchedulerOptions& o) : rt(r), opt(o) {
    if (opt.parallel <= 0) opt.parallel = 4;
    if (opt.max_queue < 0) opt.max_queue = 0;
    slot_ctx = opt.ctx > 0 ? opt.ctx : rt.n_ctx();
    engine::ContextOptions co = rt.context_options(opt.parallel);
    co.n_ctx = slot_ctx * opt.parallel;
    ctx = std::make_unique<engine::Context>(*rt.model, co);
    slots.resize(opt.parallel);
    st.slots = opt.parallel;
    st.slot_ctx = slot_ctx;
    st.kv_cells_total = int64_t(slot_ctx) * opt.parallel;
    worker = std::thread([this] { run(); });
  }

  // Hands a step's text and the logprobs recorded since the choice's last piece to the caller.
  void deliver(Job::Choice& c, std::string text) {
    const auto& lps = c.gen->result().logprobs;
    if (text.empty() && c.logprobs_sent == lps.size()) return;
    Piece piece{c.index, std::move(text), {}};
    piece.logprobs.assign(lps.begin() + std::ptrdiff_t(c.logprobs_sent), lps.end());
    c.logprobs_sent = lps.size();
    std::lock_guard lk(c.job->mu_);
    c.job->pending_.push_back(std::move(piece));
    c.job->cv_.notify_all();
  }

  // Counts the job, then hands its results over (a caller that sees it finished also sees the counts).
  void finish_job(Active& a) {
    {
      std::lock_guard lk(mu);
      ++st.requests_finished;
      if (a.job->cancel_) ++st.requests_cancelled;
      for (auto& c : a.choices) st.generated_tokens += c->gen ? c->gen->result().tokens.size() : 0;
    }
    std::lock_guard lk(a.job->mu_);
    for (size_t i = 0; i < a.choices.size(); ++i) {
      if (!a.choices[i]->gen) continue;
      a.job->results_[i] = a.choices[i]->gen->result();
      a.job->results_[i].prefill_seconds = a.choices[i]->prefill_seconds;
    }
    a.job->finished_ = true;
    a.job->cv_.notify_all();
  }

  // A job whose choices never reached a slot (queued when cancelled or at shutdown).
  static void fail_unstarted(Job& job, const Submission& sub, const char* reason) {
    std::lock_guard lk(job.mu_);
    for (auto& r : job.results_) {
      r.prompt_tokens = static_cast<int>(sub.prompt.size());
      r.stop_reason = reason;
    }
    job.finished_ = true;
    job.cv_.notify_all();
  }

  void release(Job::Choice& c) {
    if (c.slot < 0) return;
    slots[c.slot].choice.reset();
    slots[c.slot].last_used = Clock::now();
    c.slot = -1;
  }

  // Slots for a job's n choices; the first gets the best cached prefix (its own or copied from another slot).
  bool admit(Queued& q) {
    std::vector<int> free;
    for (int s = 0; s < int(slots.size()); ++s)
      if (!slots[s].choice) free.push_back(s);
    const int n = q.sub.n;
    if (int(free.size()) < n) return false;
    const auto& prompt = q.sub.prompt;
    // Best free slot: longest own prefix, then least recently used.
    std::sort(free.begin(), free.end(), [&](int a, int b) {
      const size_t pa = common_prefix(slots[a].cached, prompt), pb = common_prefix(slots[b].cached, prompt);
      if (pa != pb) return pa > pb;
      return slots[a].last_used < slots[b].last_used;
    });
    auto a = std::make_shared<Active>();
    a->job = q.job;
    a->sub = std::move(q.sub);
    const auto& p = a->sub.prompt;
    const int lead = free[0];
    size_t own = common_prefix(slots[lead].cached, p);
    // Another slot (busy or not: a busy slot only appends past its prompt) may hold a longer prefix.
    int donor = -1;
    size_t best = own;
    for (int s = 0; s < int(slots.size()); ++s) {
      if (s == lead) continue;
      const size_t c = std::min<size_t>(common_prefix(slots[s].cached, p), size_t(ctx->seq_n_past(s)));
      if (c > best) best = c, donor = s;
    }
    // Always evaluate at least the last prompt token (its logits start the generation); with n > 1 the leader
    // stops before it so every choice evaluates it in its own slot.
    const size_t limit = p.size() - 1;
    size_t reuse = std::min(best, limit);
    // Recurrent layers (qwen35) keep their state only at the end of a sequence: a donor's whole sequence or nothing.
    if (donor >= 0 && reuse > own && (ctx->can_rewind() || reuse == size_t(ctx->seq_n_past(donor)))) {
      ctx->seq_copy(donor, lead, int(reuse));
    } else {
      reuse = std::min(own, limit);
      if (!ctx->can_rewind() && reuse < size_t(ctx->seq_n_past(lead))) reuse = 0;
      ctx->seq_truncate(lead, int(reuse));
    }
    slots[lead].cached.assign(p.begin(), p.begin() + reuse);
    const auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto c = std::make_shared<Job::Choice>();
      c->job = a->job;
      c->index = i;
      c->slot = free[i];
      c->admitted = now;
      if (!q.constraints.empty()) c->constraint = q.constraints[size_t(i)];
      if (i == 0) {
        c->pending.assign(p.begin() + reuse, p.begin() + (n > 1 ? limit : p.size()));
      } else {
        c->waiting_leader = true;
      }
      a->choices.push_back(c);
      slots[free[i]].choice = c;
      slots[free[i]].last_used = now;
    }
    {
      std::lock_guard lk(mu);
      st.prompt_tokens += p.size();
      st.prompt_tokens_cached += reuse;
    }
    a->choices[0]->prefill_seconds = 0;
    a->job->results_[0].cached_prompt_tokens = int(reuse);
    active.push_back(a);
    return true;
  }

  void start_generation(Active& a, Job::Choice& c, int cached) {
    if (c.constraint == a.sub.config.constraint) {
      c.gen.emplace(rt, a.sub.config, a.sub.prompt, cached);
    } else {
      InferenceConfig config = a.sub.config;
      config.constraint = c.constraint;
      c.gen.emplace(rt, config, a.sub.prompt, cached);
    }
  }

  void run() {
    std::vector<engine::BatchRow> rows;
    std::vector<std::shared_ptr<Job::Choice>> row_owner;  // choice of each logits row
    while (true) {
      // 1. admit, or sleep until there is work
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return stopping || !queue.empty() || !active.empty(); });
        if (stopping) break;
        for (auto it = queue.begin(); it != queue.end();) {  // cancelled while waiting: done now
          if (!it->job->cancel_) {
            ++it;
            continue;
          }
          ++st.requests_cancelled;
          ++st.requests_finished;
          fail_unstarted(*it->job, it->sub, "cancelled");
          it = queue.erase(it);
        }
        while (!queue.empty()) {
          Queued q = std::move(queue.front());
          queue.pop_front();
          if (q.job->cancel_) {
            ++st.requests_cancelled;
            ++st.requests_finished;
            lk.unlock();
            fail_unstarted(*q.job, q.sub, "cancelled");
            lk.lock();
            continue;
          }
          lk.unlock();
          const bool ok = admit(q);
          lk.lock();
          if (!ok) {
            queue.push_front(std::move(q));
            break;
          }
        }
      }
      // 2. cancellations and deadlines; n > 1 siblings whose leader has read the shared prompt
      const auto now = Clock::now();
      for (auto& a : active) {
        const bool expired = a->sub.deadline && now >= *a->sub.deadline;
        for (auto& c : a->choices) {
          if (c->slot < 0) continue;
          if (a->job->cancel_ || expired) {
            if (!c->gen) start_generation(*a, *c, a->job->results_[0].cached_prompt_tokens);
            c->gen->finish(a->job->cancel_ ? "cancelled" : "timeout");
            release(*c);
            ++a->done;
          }
        }
        auto& lead = *a->choices[0];
        if (a->choices.size() > 1 && a->choices[1]->waiting_leader && lead.slot >= 0 && lead.pending.empty() && !lead.gen) {
          const int shared = ctx->seq_n_past(lead.slot);
          for (size_t i = 1; i < a->choices.size(); ++i) {
            auto& c = *a->choices[i];
            ctx->seq_copy(lead.slot, c.slot, shared);
            slots[c.slot].cached = slots[lead.slot].cached;
            c.waiting_leader = false;
          }
          for (auto& c : a->choices) c->pending.assign(a->sub.prompt.end() - 1, a->sub.prompt.end());
        }
      }
      finish_done();
      publish();
      if (active.empty()) continue;
      // 3. one forward pass over every active sequence
      rows.clear();
      row_owner.clear();
      int prefill_budget = std::max(1, opt_batch());
      for (auto& a : active) {
        for (auto& c : a->choices) {
          if (c->slot < 0 || c->waiting_leader) continue;
          if (!c->pending.empty()) {
            const int take = std::min<int>(int(c->pending.size()), prefill_budget);
            if (take == 0) continue;
            int pos = ctx->seq_n_past(c->slot);
            for (int i = 0; i < take; ++i) {
              const bool logits = size_t(pos) + 1 == a->sub.prompt.size();  // the prompt's last token
              rows.push_back({c->slot, pos++, c->pending[i], logits});
              if (logits) row_owner.push_back(c);
            }
            prefill_budget -= take;
            continue;
          }
          if (c->gen && !c->gen->done()) {
            rows.push_back({c->slot, ctx->seq_n_past(c->slot), c->next, true});
            row_owner.push_back(c);
          }
        }
      }
      if (rows.empty()) continue;
      const auto t0 = Clock::now();
      try {
        ctx->decode(rows);
      } catch (const std::exception& e) {  // an engine failure ends every running job; the worker lives on
        for (auto& a : active)
          for (auto& c : a->choices) {
            if (c->slot < 0) continue;
            if (!c->gen) start_generation(*a, *c, 0);
            c->gen->finish("error");
            ctx->seq_truncate(c->slot, 0);
            slots[c->slot].cached.clear();
            release(*c);
            ++a->done;
          }
        finish_done();
        continue;
      }
      // bookkeeping of the evaluated tokens
      for (const auto& r : rows) slots[r.seq].cached.push_back(r.token);
      for (auto& a : active)
        for (auto& c : a->choices) {
          if (c->slot < 0 || c->pending.empty() || c->waiting_leader) continue;
          // drop what this step evaluated
          size_t evaluated = 0;
          for (const auto& r : rows) evaluated += r.seq == c->slot;
          c->pending.erase(c->pending.begin(), c->pending.begin() + std::min(evaluated, c->pending.size()));
          c->prefill_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
        }
      // 4. sample every sequence that got logits
      for (size_t k = 0; k < row_owner.size(); ++k) {
        auto& c = *row_owner[k];
        auto& a = *find_active(c.job.get());
        if (!c.gen) start_generation(a, c, a.job->results_[0].cached_prompt_tokens);
        const bool room = ctx->seq_n_past(c.slot) < slot_ctx;
        std::string text = c.gen->step(ctx->batch_logits(int(k)), ctx->n_vocab(), room, &c.next);
        deliver(c, std::move(text));
        if (c.gen->done()) {
          release(c);
          ++a.done;
        }
      }
      {
        std::lock_guard lk(mu);
        ++st.steps;
        st.busy_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      }
      finish_done();
      publish();
    }
    // shutdown: everything still running or queued ends "cancelled"
    for (auto& a : active) {
      for (auto& c : a->choices) {
        if (!c->gen) start_generation(*a, *c, 0);
        c->gen->finish("cancelled");
        release(*c);
      }
      a->job->cancel_ = true;
      finish_job(*a);
    }
    active.clear();
    std::deque<Queued> rest;
    {
      std::lock_guard lk(mu);
      rest.swap(queue);
    }
    for (auto& q : rest) fail_unstarted(*q.job, q.sub, "cancelled");
    publish();
  }

  // Slot occupancy for stats() and submit() (the slots themselves belong to the worker).
  void publish() {
    int busy = 0;
    int64_t used = 0, busy_cells = 0;
    for (const auto& sl : slots) {
      busy += sl.choice != nullptr;
      used += int64_t(sl.cached.size());
      if (sl.choice) busy_cells += int64_t(sl.cached.size());
    }
    std::lock_guard lk(mu);
    st.busy_slots = busy;
    st.kv_cells_used = used;
    st.kv_cells_busy = busy_cells;
    st.queued = int(queue.size());
  }

  int opt_batch() const { return std::max(1, rt.options.batch); }

  Active* find_active(const Job* j) {
    for (auto& a : active)
      if (a->job.get() == j) return a.get();
    return nullptr;
  }

  void finish_done() {
    std::vector<std::shared_ptr<Active>> done;
    for (size_t i = 0; i < active.size();) {
      if (active[i]->done >= int(active[i]->choices.size())) {
        done.push_back(active[i]);
        active.erase(active.begin() + i);
      } else {
        ++i;
      }
    }
    if (done.empty()) return;
    publish();  // their slots are free before anyone is told they finished
    for (auto& a : done) finish_job(*a);
  }

};

bool Scheduler::Job::wait(std::vector<Piece>& out, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return finished_ || !pending_.empty(); });
  for (auto& p : pending_) out.push_back(std::move(p));
  pending_.clear();
  return !(finished_ && out.empty());
}

void Scheduler::Job::cancel() { cancel_ = true; }

bool Scheduler::Job::finished() const {
  std::lock_guard lk(mu_);
  return finished_;
}

const std::vector<GenerationResult>& Scheduler::Job::results() const { return results_; }

Scheduler::Scheduler(Runtime& runtime, const SchedulerOptions& options)
    : impl_(std::make_unique<Impl>(runtime.impl(), options)) {}

Scheduler::~Scheduler() { shutdown(); }

std::shared_ptr<Scheduler::Job> Scheduler::submit(Submission sub) {
  auto& I = *impl_;
  if (sub.prompt.empty()) fail("the prompt is empty");
  if (sub.n < 1 || sub.n > I.opt.parallel) fail("n = {}: the server decodes at most {} sequences at once (--parallel)", sub.n, I.opt.parallel);
  if (static_cast<int>(sub.prompt.size()) >= I.slot_ctx)
    fail("the prompt has {} tokens but a slot's context holds {} (use a larger --ctx)", sub.prompt.size(), I.slot_ctx);
  std::vector<std::shared_ptr<TokenConstraint>> constraints;
  if (sub.config.constraint) {  // each choice samples under its own constraint state
    constraints.push_back(sub.config.constraint);
    for (int i = 1; i < sub.n; ++i) {
      auto copy = sub.config.constraint->clone();
      if (!copy) fail("n = {}: this constraint cannot be copied for several choices", sub.n);
      constraints.push_back(std::move(copy));
    }
  }
  auto job = std::make_shared<Job>();
  job->results_.resize(sub.n);
  {
    std::lock_guard lk(I.mu);
    if (I.stopping) fail("the scheduler is shutting down");
    if (static_cast<int>(I.queue.size()) >= I.opt.max_queue && I.opt.max_queue >= 0) {
      // Full queue: refuse unless a slot is free right now (the worker admits it at the next step).
      if (I.queue.size() + size_t(I.st.busy_slots + sub.n) > I.slots.size() + size_t(I.opt.max_queue)) {
        ++I.st.requests_rejected;
        throw SchedulerFull(fmt::format("the server is busy: {} requests are waiting (--max-queue {})", I.queue.size(), I.opt.max_queue));
      }
    }
    job->id_ = I.next_id++;
    ++I.st.requests;
    I.queue.push_back({job, std::move(sub), std::move(constraints)});
    I.st.queued = int(I.queue.size());
  }
  I.cv.notify_all();
  return job;
}

void Scheduler::shutdown() {
  if (!impl_) return;
  std::lock_guard once(impl_->shutdown_mu);
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lk(impl_->mu);
  return impl_->st;
}

int Scheduler::parallel() const { return impl_->opt.parallel; }
int Scheduler::slot_ctx() const { return impl_->slot_ctx; }

}  // namespace lp
