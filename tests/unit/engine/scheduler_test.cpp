// lp::Scheduler (continuous batching) on the trained fixtures: a request gives the same greedy text alone and
// inside a batch of four (every family), requests join a running batch, cancellation and a full queue free or
// refuse slots, a full slot context ends with "context" (finish_reason "length"), n > 1 choices share the
// prompt, and a prompt prefix another slot holds is reused.
#include <gtest/gtest.h>

#include <thread>

#include "llama_pajamas/scheduler.h"
#include "peer_skip.h"
#include "tiny_fixture.h"

namespace lp {
namespace {

using namespace std::chrono_literals;

Runtime open_fixture(const char* name, int ctx = 160) {
  const std::string dir = engine::testing::fixture_dir(name);
  if (dir.empty()) return Runtime::open("");  // throws; callers check fixture_dir first
  RuntimeOptions o;
  o.ctx = ctx;
  o.threads = 2;
  return Runtime::open(dir, o);
}

InferenceConfig greedy(int max_tokens) {
  InferenceConfig c;
  c.max_tokens = max_tokens;
  c.sampling.temperature = 0;
  c.ignore_eos = true;
  return c;
}

// Waits for a job, collecting its text per choice.
std::vector<std::string> drain(Scheduler::Job& job) {
  std::vector<std::string> text(job.results().size());
  std::vector<Scheduler::Piece> pieces;
  while (job.wait(pieces, 100ms)) {
    for (auto& p : pieces) text[p.choice] += p.text;
    pieces.clear();
  }
  return text;
}

Scheduler::Submission sub(std::vector<int32_t> prompt, const InferenceConfig& config, int n = 1) {
  Scheduler::Submission s;
  s.prompt = std::move(prompt);
  s.config = config;
  s.n = n;
  return s;
}

SchedulerOptions slots(int parallel, int ctx = 0, int max_queue = 64) {
  SchedulerOptions o;
  o.parallel = parallel;
  o.ctx = ctx;
  o.max_queue = max_queue;
  return o;
}

const char* const kPrompts[] = {"Once upon a time", "The capital of France is", "1, 2, 3, 4,", "In the beginning the"};

class SchedulerFamilies : public ::testing::TestWithParam<const char*> {};

TEST_P(SchedulerFamilies, SameGreedyTextAloneAndInABatchOfFour) {
  if (engine::testing::fixture_dir(GetParam()).empty()) LP_SKIP_OR_FAIL(std::string("shared fixture ") + GetParam() + " missing");
  Runtime rt = open_fixture(GetParam());
  std::vector<std::string> alone;
  for (const char* p : kPrompts) {
    rt.reset();
    alone.push_back(rt.generate(p, greedy(24)).text);
  }
  Scheduler sched(rt, slots(4));
  std::vector<std::shared_ptr<Scheduler::Job>> jobs;
  for (const char* p : kPrompts) jobs.push_back(sched.submit(sub(rt.tokenize(p), greedy(24))));
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto text = drain(*jobs[i]);
    EXPECT_EQ(text[0], alone[i]) << GetParam() << " prompt " << i;
    EXPECT_EQ(jobs[i]->results()[0].text, alone[i]);
    EXPECT_EQ(jobs[i]->results()[0].tokens.size(), 24u);
    EXPECT_EQ(jobs[i]->results()[0].stop_reason, "length");
  }
  const SchedulerStats s = sched.stats();
  EXPECT_EQ(s.busy_slots, 0);
  EXPECT_EQ(s.requests_finished, 4u);
  EXPECT_EQ(s.generated_tokens, 96u);
  EXPECT_LT(s.steps, 4u * 25u) << "four requests should share forward passes";
}

INSTANTIATE_TEST_SUITE_P(Families, SchedulerFamilies, ::testing::Values("tiny-qwen3", "tiny-qwen3moe", "tiny-gptoss", "tiny-gemma3"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (engine::testing::fixture_dir("tiny-qwen3").empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  }
};

TEST_F(SchedulerTest, ARequestJoinsARunningBatch) {
  Runtime rt = open_fixture("tiny-qwen3");
  const std::string want_b = rt.generate(kPrompts[1], greedy(8)).text;
  Scheduler sched(rt, slots(2));
  auto a = sched.submit(sub(rt.tokenize(kPrompts[0]), greedy(120)));
  std::vector<Scheduler::Piece> pieces;
  while (pieces.empty() && a->wait(pieces, 100ms)) {
  }
  ASSERT_FALSE(a->finished());
  auto b = sched.submit(sub(rt.tokenize(kPrompts[1]), greedy(8)));
  EXPECT_EQ(drain(*b)[0], want_b);
  EXPECT_FALSE(a->finished()) << "b finished while a was still running: it joined the batch";
  drain(*a);
  EXPECT_EQ(a->results()[0].tokens.size(), 120u);
}

TEST_F(SchedulerTest, CancelFreesTheSlot) {
  Runtime rt = open_fixture("tiny-qwen3");
  Scheduler sched(rt, slots(1));
  auto a = sched.submit(sub(rt.tokenize(kPrompts[0]), greedy(150)));
  std::vector<Scheduler::Piece> pieces;
  while (pieces.empty() && a->wait(pieces, 100ms)) {
  }
  a->cancel();
  drain(*a);
  EXPECT_EQ(a->results()[0].stop_reason, "cancelled");
  EXPECT_LT(a->results()[0].tokens.size(), 150u);
  EXPECT_EQ(sched.stats().busy_slots, 0);
  // The slot serves the next request.
  auto b = sched.submit(sub(rt.tokenize(kPrompts[1]), greedy(4)));
  drain(*b);
  EXPECT_EQ(b->results()[0].tokens.size(), 4u);
  EXPECT_EQ(sched.stats().requests_cancelled, 1u);
}

TEST_F(SchedulerTest, FullQueueRefusesAndQueuedCancelEndsAtOnce) {
  Runtime rt = open_fixture("tiny-qwen3");
  Scheduler sched(rt, slots(1, 0, 1));
  auto a = sched.submit(sub(rt.tokenize(kPrompts[0]), greedy(150)));
  std::vector<Scheduler::Piece> pieces;
  while (pieces.empty() && a->wait(pieces, 100ms)) {
  }
  auto b = sched.submit(sub(rt.tokenize(kPrompts[1]), greedy(4)));  // waits
  EXPECT_THROW(sched.submit(sub(rt.tokenize(kPrompts[2]), greedy(4))), SchedulerFull);
  EXPECT_EQ(sched.stats().requests_rejected, 1u);
  b->cancel();
  a->cancel();
  drain(*b);
  drain(*a);
  EXPECT_EQ(b->results()[0].stop_reason, "cancelled");
  EXPECT_TRUE(b->results()[0].tokens.empty());
  EXPECT_EQ(sched.stats().busy_slots, 0);
}

TEST_F(SchedulerTest, ContextExhaustionEndsWithContext) {
  Runtime rt = open_fixture("tiny-qwen3");
  Scheduler sched(rt, slots(2, 24));
  const auto p = rt.tokenize(kPrompts[0]);
  auto a = sched.submit(sub(p, greedy(1000)));
  drain(*a);
  EXPECT_EQ(a->results()[0].stop_reason, "context");  // finish_reason "length" over HTTP
  EXPECT_EQ(int(p.size() + a->results()[0].tokens.size()), 24 + 1);  // the last token is sampled, never stored
  std::vector<int32_t> too_long(24, p[0]);
  EXPECT_THROW(sched.submit(sub(too_long, greedy(4))), std::runtime_error);
  EXPECT_THROW(sched.submit(sub(p, greedy(4), 3)), std::runtime_error);  // n > parallel
}

TEST_F(SchedulerTest, ChoicesShareThePromptAndMatchAlone) {
  Runtime rt = open_fixture("tiny-qwen3");
  const std::string want = rt.generate(kPrompts[3], greedy(12)).text;
  Scheduler sched(rt, slots(3));
  auto a = sched.submit(sub(rt.tokenize(kPrompts[3]), greedy(12), 3));
  const auto text = drain(*a);
  ASSERT_EQ(text.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(text[i], want) << i;
    EXPECT_EQ(a->results()[i].text, want) << i;
  }
}

TEST_F(SchedulerTest, PrefixIsReusedInTheSameSlotAndAcrossSlots) {
  Runtime rt = open_fixture("tiny-qwen3", 256);
  const std::string system = "You are a helpful assistant. Answer in one short sentence, and never repeat the question.";
  const auto p1 = rt.tokenize(system + " Q: sky?"), p2 = rt.tokenize(system + " Q: grass?");
  rt.reset();
  const std::string want2 = rt.generate_tokens(p2, greedy(10)).text;
  Scheduler sched(rt, slots(2));
  auto a = sched.submit(sub(p1, greedy(150)));  // occupies slot 0
  std::vector<Scheduler::Piece> pieces;
  while (pieces.empty() && a->wait(pieces, 100ms)) {
  }
  auto b = sched.submit(sub(p2, greedy(10)));  // slot 1 copies the shared prefix from slot 0
  drain(*b);
  size_t common = 0;
  while (p1[common] == p2[common]) ++common;
  EXPECT_EQ(b->results()[0].cached_prompt_tokens, int(common));
  EXPECT_EQ(b->results()[0].text, want2);
  a->cancel();
  drain(*a);
  // The same conversation again reuses its own slot's cache.
  auto c = sched.submit(sub(p2, greedy(10)));
  drain(*c);
  EXPECT_EQ(c->results()[0].cached_prompt_tokens, int(p2.size()) - 1);
  EXPECT_EQ(c->results()[0].text, want2);
}

}  // namespace
}  // namespace lp
