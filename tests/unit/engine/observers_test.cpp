// Observers belong to one Context: two contexts over one model (the multi-sequence server's layout), on
// one thread or on two, each see only their own forward passes, and nothing leaks to unobserved contexts.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/context.h"
#include "engine/model.h"
#include "engine/observers.h"
#include "peer_skip.h"
#include "tiny_fixture.h"

namespace lp::engine {
namespace {

struct Counter {
  std::map<std::string, int64_t> tokens;  // weight name -> activation rows seen
  Observers observers() {
    Observers o;
    o.activation = [this](const ActivationEvent& e) { tokens[e.weight] += e.n_tokens; };
    return o;
  }
};

std::vector<int32_t> some_tokens(int n, int offset) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = 100 + offset + 7 * i;
  return t;
}

ContextOptions small() {
  ContextOptions o;
  o.n_ctx = 64;
  o.n_batch = 16;
  o.threads = 1;
  return o;
}

// Three contexts over one model: ca and cb observed by a and b, plain unobserved.
class ContextObservers : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = testing::tiny_qwen3_gguf(GgmlType::F32);
    if (path.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
    m_ = Model::load(path);
    ca_.emplace(*m_, small());
    cb_.emplace(*m_, small());
    plain_.emplace(*m_, small());
    ca_->set_observers(a.observers());
    cb_->set_observers(b.observers());
  }
  decltype(Model::load("")) m_;
  std::optional<Context> ca_, cb_, plain_;
  Counter a, b;
};

TEST_F(ContextObservers, BelongToTheirContextOnOneThread) {
  Context &ca = *ca_, &cb = *cb_, &plain = *plain_;
  ca.eval(some_tokens(5, 0));
  cb.eval(some_tokens(9, 1));
  cb.eval(some_tokens(2, 2));  // decode-like second call on the same context
  plain.eval(some_tokens(20, 3));
  EXPECT_EQ(current_observers(), nullptr);  // eval's scope ended
  const std::string q = "blk.0.attn_q.weight";
  EXPECT_EQ(a.tokens.at(q), 5);
  EXPECT_EQ(b.tokens.at(q), 11);
  EXPECT_EQ(a.tokens.size(), b.tokens.size());
  // Every layer's weights reported, each with the context's own token count (last-token-only output aside).
  for (const auto& [name, n] : a.tokens)
    if (name != "output.weight" && name != "token_embd.weight") {
      EXPECT_EQ(n, 5) << name;
    }
  // Removing a context's observers silences it.
  ca.set_observers({});
  ca.eval(some_tokens(3, 4));
  EXPECT_EQ(a.tokens.at(q), 5);
}

TEST_F(ContextObservers, BelongToTheirContextAcrossThreads) {
  Context &ca = *ca_, &cb = *cb_, &plain = *plain_;
  // Observers installed on this thread's scope must not reach contexts evaluated on other threads.
  Counter outer;
  const Observers outer_obs = outer.observers();
  const ObserverScope scope(&outer_obs);
  std::thread ta([&] {
    for (int i = 0; i < 4; ++i) ca.eval(some_tokens(3, i));
  });
  std::thread tb([&] {
    for (int i = 0; i < 4; ++i) cb.eval(some_tokens(4, i));
  });
  std::thread tp([&] {
    for (int i = 0; i < 2; ++i) plain.eval(some_tokens(8, i));
  });
  ta.join();
  tb.join();
  tp.join();
  EXPECT_EQ(a.tokens.at("blk.1.ffn_down.weight"), 12);
  EXPECT_EQ(b.tokens.at("blk.1.ffn_down.weight"), 16);
  EXPECT_TRUE(outer.tokens.empty());
  EXPECT_EQ(current_observers(), &outer_obs);
}

}  // namespace
}  // namespace lp::engine
