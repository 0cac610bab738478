// The attention inner loops (F16 KV cache) against plain float math, for head sizes that hit the
// 32-, 16- and 8-wide vector loops and the scalar tail.
#include "engine/attention_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/fp16.h"

namespace lp::engine {
namespace {

TEST(AttentionOps, DotAndAxpyMatchFloatMath) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int n : {1, 7, 16, 24, 64, 80, 128, 131, 256}) {
    std::vector<float> q(n), acc(n), want_acc(n);
    std::vector<uint16_t> k(n);
    double want = 0;
    for (int i = 0; i < n; ++i) {
      q[i] = dist(rng);
      k[i] = f32_to_f16(dist(rng));
      acc[i] = want_acc[i] = dist(rng);
      want += static_cast<double>(q[i]) * f16_to_f32(k[i]);
    }
    EXPECT_NEAR(dot_f32_f16(q.data(), k.data(), n), want, 1e-5 * n) << "n=" << n;
    const float w = 0.37f;
    axpy_f16(w, k.data(), acc.data(), n);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(acc[i], want_acc[i] + w * f16_to_f32(k[i]), 1e-6) << "n=" << n << " i=" << i;
  }
}

}  // namespace
}  // namespace lp::engine
