#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "engine/sampler.h"
#include "engine/stop_strings.h"

namespace lp::engine {
namespace {

TEST(Sampler, GreedyPicksArgmax) {
  SamplerParams p;
  p.temperature = 0;
  Sampler s(p);
  std::vector<float> l = {0.1f, 3.0f, 2.9f, -1.0f};
  EXPECT_EQ(s.sample(l.data(), 4, {}), 1);
}

TEST(Sampler, RepetitionPenaltyDemotesSeenTokens) {
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  std::vector<float> l = {0.0f, 3.0f, 2.0f};
  std::vector<int32_t> hist = {1};
  EXPECT_EQ(s.sample(l.data(), 3, hist), 2);  // 3/2 = 1.5 < 2
  SamplerParams q = p;
  q.repeat_penalty = 1.0f;
  q.presence_penalty = 0.5f;
  q.frequency_penalty = 0.3f;
  Sampler s2(q);
  std::vector<int32_t> hist2 = {1, 1};
  EXPECT_EQ(s2.sample(l.data(), 3, hist2), 2);  // 3 - 0.6 - 0.5 = 1.9 < 2
}

TEST(Sampler, TopKOneIsGreedyAndSeedIsDeterministic) {
  std::vector<float> l = {1.0f, 1.2f, 0.9f, 1.1f};
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 1;
  Sampler s(p);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(l.data(), 4, {}), 1);
  SamplerParams r;
  r.temperature = 1.0f;
  r.top_k = 0;
  r.top_p = 1.0f;
  r.min_p = 0.0f;
  r.seed = 7;
  Sampler a(r), b(r);
  std::map<int, int> counts;
  for (int i = 0; i < 400; ++i) {
    const int x = a.sample(l.data(), 4, {});
    EXPECT_EQ(x, b.sample(l.data(), 4, {}));
    ++counts[x];
  }
  EXPECT_EQ(counts.size(), 4u);  // every token is reachable at temperature 1 without truncation
}

TEST(Sampler, MinPAndTopPTruncate) {
  // p ~ {0.64, 0.24, 0.09, 0.03}
  std::vector<float> l = {2.0f, 1.0f, 0.0f, -1.0f};
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.3f;  // keeps tokens with p >= 0.3*0.64 = 0.19: ids 0 and 1
  p.seed = 1;
  Sampler s(p);
  for (int i = 0; i < 200; ++i) EXPECT_LT(s.sample(l.data(), 4, {}), 2);
  p.min_p = 0.0f;
  p.top_p = 0.5f;  // the first token alone reaches 0.5
  Sampler t(p);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(t.sample(l.data(), 4, {}), 0);
}

TEST(StopStrings, HoldsPossiblePrefixesAndCutsAtMatch) {
  StopStringFilter f({"\nUser:", "###"});
  EXPECT_EQ(f.push("Hello"), "Hello");
  EXPECT_EQ(f.push(" world\nUs"), " world");  // "\nUs" may start "\nUser:"
  EXPECT_EQ(f.push("ual"), "\nUsual");        // it did not
  EXPECT_EQ(f.push(" end\nUse"), " end");
  EXPECT_EQ(f.push("r: hi"), "");
  EXPECT_TRUE(f.stopped());
  StopStringFilter g({"##"});
  EXPECT_EQ(g.push("a#"), "a");
  EXPECT_EQ(g.flush(""), "#");  // end of generation releases held text
}

}  // namespace
}  // namespace lp::engine
