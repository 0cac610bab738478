// Multi-sequence forward pass (Context::decode) on the trained fixtures of every family the engine runs:
// dense qwen3, qwen3moe (routed experts), gpt-oss (sliding window + sinks, MoE), gemma3 (local/global layers,
// softcap), qwen35 (Gated DeltaNet recurrent state per sequence), and a generated qwen35moe checkpoint (no trained
// fixture: `make-test-model --family qwen35moe`, recurrent state + routed and shared experts, read as its HF folder). Rows of four sequences in one pass give the logits each sequence gets alone, up to float summation
// order (the multi-token GEMM tiles add in another order than the one-token path): |diff| <= kTolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/context.h"
#include "engine/model.h"
#include "peer_skip.h"
#include "testgen/generate.h"
#include "tiny_fixture.h"

namespace lp::engine {
namespace {

// Max |batched - alone| over a logit row. The fixtures' logits are O(10); the batched path differs from the
// one-token path only in summation order (the test prints the largest difference it saw: 7e-6 to 8.3e-5 on
// AVX-512, 2026-12-07), so 1e-3 is over ten times the noise and far below a masking bug (differences of O(1)).
constexpr double kTolerance = 1e-3;

const char* const kFamilies[] = {"tiny-qwen3", "tiny-qwen3moe", "tiny-gptoss", "tiny-gemma3", "tiny-qwen35",
                                 "generated-qwen35moe"};

// A shared fixture's folder, or for "generated-F" a tiny checkpoint of family F generated once per run (seed 7)
// under the temp dir and removed at exit.
std::string model_dir(const std::string& name) {
  constexpr std::string_view kGenerated = "generated-";
  if (name.rfind(kGenerated, 0) != 0) return testing::fixture_dir(name);
  struct Generated {
    std::filesystem::path dir;
    ~Generated() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir.parent_path(), ec);
    }
  };
  static std::map<std::string, Generated> cache;
  Generated& g = cache[name];
  if (g.dir.empty()) {
    std::string root = (std::filesystem::temp_directory_path() / "lp-batch-gen-XXXXXX").string();
    if (!mkdtemp(root.data())) return "";
    testgen::GenerateOptions o;
    o.family = name.substr(kGenerated.size());
    o.seed = 7;
    o.progress = false;
    g.dir = std::filesystem::path(root) / "model";
    testgen::generate_checkpoint(o, g.dir);
  }
  return g.dir.string();
}

std::vector<int32_t> tokens(int seq, int n, int vocab) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = static_cast<int32_t>((seq * 7919 + i * 104729 + 13) % (vocab - 10) + 5);
  return t;
}

double max_diff(const float* a, const float* b, int n) {
  double m = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

int argmax(const float* l, int n) { return int(std::max_element(l, l + n) - l); }

class Batch : public ::testing::TestWithParam<const char*> {};

// Four sequences of different prompt lengths (two longer than gpt-oss's and gemma3's sliding windows when
// those are small); sequence 3 joins after the others have decoded three tokens. Teacher-forced with the
// tokens each sequence picks alone, so a difference cannot compound.
TEST_P(Batch, FourSequencesInOnePassMatchEachAlone) {
  const std::string dir = model_dir(GetParam());
  if (dir.empty()) LP_SKIP_OR_FAIL(std::string("shared fixture ") + GetParam() + " missing");
  auto m = Model::load(dir);
  const int vocab = m->hp().n_vocab;
  const int lens[4] = {37, 5, 20, 11};
  const int steps = 8, join = 3;
  ContextOptions o;
  o.n_ctx = 96;
  o.n_batch = 32;  // the 73-row prefill runs as three forward calls
  o.threads = 2;
  // Alone: each sequence in its own context; logits of the prompt's last token and of each decode step.
  std::vector<std::vector<int32_t>> prompt(4), picked(4);
  std::vector<std::vector<std::vector<float>>> want(4);
  for (int s = 0; s < 4; ++s) {
    prompt[s] = tokens(s, lens[s], vocab);
    Context c(*m, o);
    c.eval(prompt[s]);
    for (int k = 0; k <= steps; ++k) {
      want[s].emplace_back(c.logits(0), c.logits(0) + vocab);
      const int32_t t = argmax(c.logits(0), vocab);
      picked[s].push_back(t);
      if (k < steps) c.eval(std::span<const int32_t>(&t, 1));
    }
  }
  ContextOptions ob = o;
  ob.n_seq = 4;
  ob.n_ctx = 4 * o.n_ctx;
  Context b(*m, ob);
  ASSERT_EQ(b.seq_ctx(), o.n_ctx);
  // Prefill of sequences 0..2 in one call (interleaved rows), then decode steps; sequence 3 prefills in the
  // step where the others decode their `join`-th token.
  std::vector<BatchRow> rows;
  std::vector<std::pair<int, int>> owner;  // (seq, step) per logits row
  auto prefill = [&](int s) {
    for (int i = 0; i < lens[s]; ++i) rows.push_back({s, i, prompt[s][i], i == lens[s] - 1});
    owner.push_back({s, 0});
  };
  int step[4] = {0, 0, 0, 0};
  double worst = 0;
  for (int s = 0; s < 3; ++s) prefill(s);
  while (true) {
    b.decode(rows);
    for (size_t k = 0; k < owner.size(); ++k) {
      const auto [s, st] = owner[k];
      const double d = max_diff(b.batch_logits(int(k)), want[s][st].data(), vocab);
      worst = std::max(worst, d);
      EXPECT_LE(d, kTolerance) << GetParam() << " sequence " << s << " step " << st;
      step[s] = st + 1;
    }
    rows.clear();
    owner.clear();
    for (int s = 0; s < 4; ++s) {
      if (s == 3 && step[3] == 0) {
        if (step[0] == join) prefill(3);
        continue;
      }
      if (step[s] > steps) continue;
      rows.push_back({s, lens[s] + step[s] - 1, picked[s][step[s] - 1], true});
      owner.push_back({s, step[s]});
    }
    if (rows.empty()) break;
  }
  std::printf("%s: max |batched - alone| logit difference %.3g\n", GetParam(), worst);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(b.seq_n_past(s), lens[s] + steps) << s;
  EXPECT_EQ(b.cells_used(), 37 + 5 + 20 + 11 + 4 * steps);
}

// Copying a sequence's cells (a shared prompt prefix) continues exactly like evaluating them.
TEST_P(Batch, CopiedPrefixContinuesLikeEvaluated) {
  const std::string dir = model_dir(GetParam());
  if (dir.empty()) LP_SKIP_OR_FAIL(std::string("shared fixture ") + GetParam() + " missing");
  auto m = Model::load(dir);
  const int vocab = m->hp().n_vocab;
  ContextOptions o;
  o.n_ctx = 128;
  o.n_seq = 2;
  o.threads = 2;
  Context c(*m, o);
  const auto p = tokens(1, 30, vocab);
  std::vector<BatchRow> rows;
  for (int i = 0; i < 30; ++i) rows.push_back({0, i, p[i], i == 29});
  c.decode(rows);
  std::vector<float> want(c.batch_logits(0), c.batch_logits(0) + vocab);
  if (!c.can_rewind()) {
    // Recurrent layers (qwen35): the state exists only after all 30 tokens, so a 29-token copy is refused, and a
    // whole-sequence copy continues exactly like the original.
    EXPECT_THROW(c.seq_copy(0, 1, 29), Error);
    EXPECT_THROW(c.seq_truncate(0, 12), Error);
    c.seq_copy(0, 1, 30);
    const std::vector<BatchRow> next = {{0, 30, p[3], true}, {1, 30, p[3], true}};
    c.decode(next);
    EXPECT_LE(max_diff(c.batch_logits(0), c.batch_logits(1), vocab), kTolerance);
    c.seq_truncate(1, 0);  // back to an empty sequence: allowed, and the state is cleared
    std::vector<BatchRow> again;
    for (int i = 0; i < 30; ++i) again.push_back({1, i, p[i], i == 29});
    c.decode(again);
    EXPECT_LE(max_diff(c.batch_logits(0), want.data(), vocab), kTolerance);
    return;
  }
  c.seq_copy(0, 1, 29);
  EXPECT_EQ(c.seq_n_past(1), 29);
  const BatchRow last{1, 29, p[29], true};
  c.decode(std::span<const BatchRow>(&last, 1));
  EXPECT_LE(max_diff(c.batch_logits(0), want.data(), vocab), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Families, Batch, ::testing::ValuesIn(kFamilies), [](const auto& info) {
  std::string n = info.param;
  for (char& ch : n)
    if (ch == '-') ch = '_';
  return n;
});

TEST(BatchErrors, BadRowsAreRefusedWithoutChangingTheCache) {
  const std::string path = testing::tiny_qwen3_gguf(GgmlType::Q8_0);
  if (path.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  auto m = Model::load(path);
  ContextOptions o;
  o.n_ctx = 16;
  o.n_seq = 2;
  Context c(*m, o);
  EXPECT_EQ(c.seq_ctx(), 8);
  std::vector<BatchRow> ok = {{0, 0, 1, false}, {1, 0, 2, true}};
  c.decode(ok);
  std::vector<BatchRow> gap = {{0, 2, 1, true}};
  EXPECT_THROW(c.decode(gap), lp::Error);
  std::vector<BatchRow> seq = {{2, 0, 1, true}};
  EXPECT_THROW(c.decode(seq), lp::Error);
  std::vector<BatchRow> full;
  for (int i = 1; i <= 8; ++i) full.push_back({0, i, 1, false});
  EXPECT_THROW(c.decode(full), lp::Error);  // sequence 0 holds 8 cells
  EXPECT_EQ(c.seq_n_past(0), 1);
  EXPECT_EQ(c.seq_n_past(1), 1);
  EXPECT_THROW(c.seq_copy(0, 1, 5), lp::Error);
  ContextOptions bad = o;
  bad.n_ctx = 3;
  bad.n_seq = 4;
  EXPECT_THROW(Context(*m, bad), lp::Error);
}

}  // namespace
}  // namespace lp::engine
