// The runtime's hooks for constrained decoding and logprobs (InferenceConfig::constraint / logprobs), on the
// tiny-qwen3 fixture: every generated token is one the constraint allowed, complete() ends the generation, and
// logprobs are the model's log-softmax (the greedy token is the top alternative; they match evaluate()).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>

#include "llama_pajamas/runtime.h"
#include "llama_pajamas/scheduler.h"
#include "peer_skip.h"
#include "tiny_fixture.h"

namespace lp {
namespace {

// Allows only the tokens of a set; complete after `n` tokens.
class SetConstraint : public TokenConstraint {
 public:
  SetConstraint(std::set<int32_t> ok, int n) : ok_(std::move(ok)), left_(n) {}
  bool allows(int32_t t) override { return ok_.count(t) > 0; }
  void mask(float* logits, int n_vocab) override {
    ++masks;
    for (int i = 0; i < n_vocab; ++i)
      if (!ok_.count(i)) logits[i] = -INFINITY;
  }
  void accept(int32_t t) override {
    EXPECT_TRUE(ok_.count(t));
    --left_;
  }
  bool complete() const override { return left_ <= 0; }
  std::shared_ptr<TokenConstraint> clone() const override {
    if (!clonable) return nullptr;
    return std::make_shared<SetConstraint>(*this);
  }
  int masks = 0;
  bool clonable = true;

 private:
  std::set<int32_t> ok_;
  int left_;
};

std::vector<int32_t> prompt_tokens() { return engine::testing::heldout_tokens(16); }

// The tiny-qwen3 fixture (Q8_0), small context, one thread.
std::optional<Runtime> open_tiny() {
  const std::string path = engine::testing::tiny_qwen3_gguf(GgmlType::Q8_0);
  if (path.empty()) return std::nullopt;
  RuntimeOptions o;
  o.ctx = 128;
  o.threads = 1;
  return Runtime::open(path, o);
}

TEST(ConstraintHook, OnlyAllowedTokensAndCompleteEnds) {
  auto tiny = open_tiny();
  if (!tiny) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  Runtime& rt = *tiny;
  const std::set<int32_t> ok = {11, 220, 1000, 2048};
  for (float temperature : {0.0f, 1.0f}) {
    InferenceConfig cfg;
    cfg.max_tokens = 50;
    cfg.sampling.temperature = temperature;
    cfg.seed = 3;
    auto c = std::make_shared<SetConstraint>(ok, 7);
    cfg.constraint = c;
    const GenerationResult r = rt.generate_tokens(prompt_tokens(), cfg);
    ASSERT_EQ(r.tokens.size(), 7u);
    EXPECT_EQ(r.stop_reason, "eos");
    for (int32_t t : r.tokens) EXPECT_TRUE(ok.count(t)) << t;
    EXPECT_GT(c->masks, 0) << "a random model wants other tokens: the mask must have been used";
  }
}

TEST(ConstraintHook, LogprobsAreTheModelsLogSoftmax) {
  auto tiny = open_tiny();
  if (!tiny) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  Runtime& rt = *tiny;
  InferenceConfig cfg;
  cfg.max_tokens = 5;
  cfg.sampling.temperature = 0;
  cfg.ignore_eos = true;
  cfg.logprobs = 3;
  int streamed = 0;
  cfg.on_logprob = [&](const TokenLogprob&) { ++streamed; };
  const auto p = prompt_tokens();
  const GenerationResult r = rt.generate_tokens(p, cfg);
  ASSERT_EQ(r.logprobs.size(), r.tokens.size());
  EXPECT_EQ(streamed, static_cast<int>(r.tokens.size()));
  // Against evaluate(): log-softmax of the logits at each position.
  std::vector<int32_t> all = p;
  all.insert(all.end(), r.tokens.begin(), r.tokens.end());
  const int n_vocab = rt.info().n_vocab;
  const std::vector<float> logits = rt.evaluate(all);
  for (size_t k = 0; k < r.tokens.size(); ++k) {
    const float* row = logits.data() + (p.size() - 1 + k) * static_cast<size_t>(n_vocab);
    double sum = 0, mx = -INFINITY;
    for (int i = 0; i < n_vocab; ++i) mx = std::max<double>(mx, row[i]);
    for (int i = 0; i < n_vocab; ++i) sum += std::exp(row[i] - mx);
    const double want = row[r.tokens[k]] - mx - std::log(sum);
    const auto& lp = r.logprobs[k];
    EXPECT_EQ(lp.token, r.tokens[k]);
    EXPECT_NEAR(lp.logprob, want, 2e-2);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_EQ(lp.top[0].first, r.tokens[k]) << "greedy picks the most likely token";
    EXPECT_GE(lp.top[0].second, lp.top[1].second);
    EXPECT_GE(lp.top[1].second, lp.top[2].second);
  }
}

// The scheduler samples through the same hooks: n = 2 choices each get their own copy of the constraint (a
// shared one would end both after about half the tokens), and the logprobs arrive with the pieces.
TEST(ConstraintHook, SchedulerChoicesEachHaveTheirOwnConstraintAndPieceLogprobs) {
  auto tiny = open_tiny();
  if (!tiny) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  Runtime& rt = *tiny;
  Scheduler sched(rt, {.parallel = 2});
  const std::set<int32_t> ok = {11, 220, 1000, 2048};
  Scheduler::Submission sub;
  sub.prompt = prompt_tokens();
  sub.n = 2;
  sub.config.max_tokens = 50;
  sub.config.sampling.temperature = 1.0f;
  sub.config.seed = 5;
  sub.config.logprobs = 2;
  sub.config.constraint = std::make_shared<SetConstraint>(ok, 7);
  auto job = sched.submit(sub);
  size_t piece_logprobs[2] = {0, 0};
  for (std::vector<Scheduler::Piece> pieces; job->wait(pieces, std::chrono::seconds(5)); pieces.clear())
    for (const auto& p : pieces) piece_logprobs[p.choice] += p.logprobs.size();
  ASSERT_EQ(job->results().size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const GenerationResult& r = job->results()[size_t(i)];
    EXPECT_EQ(r.tokens.size(), 7u) << "choice " << i;
    EXPECT_EQ(r.stop_reason, "eos");
    for (int32_t t : r.tokens) EXPECT_TRUE(ok.count(t)) << t;
    EXPECT_EQ(r.logprobs.size(), r.tokens.size());
    EXPECT_EQ(piece_logprobs[i], r.logprobs.size()) << "every logprob is delivered with the pieces";
  }
  // A constraint that cannot be copied is refused for n > 1, and accepted for n = 1.
  auto fixed = std::make_shared<SetConstraint>(ok, 3);
  fixed->clonable = false;
  sub.config.constraint = fixed;
  EXPECT_THROW(sched.submit(sub), std::runtime_error);
  sub.n = 1;
  auto one = sched.submit(sub);
  for (std::vector<Scheduler::Piece> pieces; one->wait(pieces, std::chrono::seconds(5)); pieces.clear()) {
  }
  EXPECT_EQ(one->results()[0].tokens.size(), 3u);
}

}  // namespace
}  // namespace lp
