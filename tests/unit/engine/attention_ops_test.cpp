// The attention inner loops (F16 KV cache) against plain float math, for head sizes that hit the
// 32-, 16- and 8-wide vector loops and the scalar tail.
#include "engine/attention_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
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


// Key-by-key attention as forward.cpp did it before attend_f16: the blocked kernel must match it bit
// for bit (the oracle tests were validated against this order).
std::vector<float> attend_key_by_key(const float* q, F16Rows k, F16Rows v, int first, int last, int n, float scale,
                                     const float* sink) {
  std::vector<float> s(last - first + 1), out(n, 0.0f);
  float mx = -INFINITY;
  for (int j = first; j <= last; ++j) {
    s[j - first] = dot_f32_f16(q, k.row(j), n) * scale;
    mx = std::max(mx, s[j - first]);
  }
  if (sink) mx = std::max(mx, *sink);
  double sum = sink ? std::exp(*sink - mx) : 0.0;
  for (float& x : s) {
    x = std::exp(x - mx);
    sum += x;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int j = first; j <= last; ++j) axpy_f16(s[j - first] * inv, v.row(j), out.data(), n);
  return out;
}

// Plain double-precision softmax attention, to catch an error shared by both float paths.
std::vector<double> attend_reference(const float* q, F16Rows k, F16Rows v, int first, int last, int n, float scale,
                                     const float* sink) {
  std::vector<double> s;
  for (int j = first; j <= last; ++j) {
    double d = 0;
    for (int i = 0; i < n; ++i) d += double(q[i]) * f16_to_f32(k.row(j)[i]);
    s.push_back(d * scale);
  }
  double mx = sink ? *sink : -INFINITY;
  for (double x : s) mx = std::max(mx, x);
  double sum = sink ? std::exp(*sink - mx) : 0.0;
  for (double& x : s) sum += (x = std::exp(x - mx));
  std::vector<double> out(n, 0.0);
  for (int j = first; j <= last; ++j)
    for (int i = 0; i < n; ++i) out[i] += s[j - first] / sum * f16_to_f32(v.row(j)[i]);
  return out;
}

TEST(AttentionOps, BlockedAttentionMatchesKeyByKeyAndReference) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int n_ctx = 37, n_kv_heads = 2;
  for (int n : {16, 24, 64, 80, 128, 256}) {
    const size_t stride = size_t(n) * n_kv_heads;  // GQA: a KV head's rows interleave with the other head's
    std::vector<uint16_t> kc(stride * n_ctx), vc(stride * n_ctx);
    for (auto& x : kc) x = f32_to_f16(dist(rng));
    for (auto& x : vc) x = f32_to_f16(dist(rng));
    std::vector<float> q(n), scores(n_ctx), out(n);
    for (auto& x : q) x = 2.0f * dist(rng);
    const float scale = 1.0f / std::sqrt(float(n)), sink = 0.8f;
    for (int kvh = 0; kvh < n_kv_heads; ++kvh) {
      const F16Rows k{kc.data() + kvh * n, stride}, v{vc.data() + kvh * n, stride};
      // (first, last): a single key, odd causal lengths, sliding windows that start past key 0
      for (auto [first, last] : {std::pair{0, 0}, {0, 2}, {0, 6}, {0, 36}, {5, 13}, {29, 36}, {3, 3}}) {
        for (const float* s : {static_cast<const float*>(nullptr), &sink}) {
          attend_f16(q.data(), k, v, first, last, n, scale, s, scores.data(), out.data());
          const auto want = attend_key_by_key(q.data(), k, v, first, last, n, scale, s);
          const auto ref = attend_reference(q.data(), k, v, first, last, n, scale, s);
          for (int i = 0; i < n; ++i) {
            ASSERT_EQ(out[i], want[i]) << "n=" << n << " kvh=" << kvh << " keys " << first << ".." << last
                                       << " sink=" << (s != nullptr) << " i=" << i;
            ASSERT_NEAR(out[i], ref[i], 2e-5) << "n=" << n << " keys " << first << ".." << last << " i=" << i;
          }
        }
      }
    }
  }
}

TEST(AttentionOps, GroupedHeadsMatchHeadByHead) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int n_ctx = 23;
  for (int n : {24, 64, 128}) {
    for (int heads : {1, 2, 3, 4}) {
      std::vector<uint16_t> kc(size_t(n) * n_ctx), vc(size_t(n) * n_ctx);
      for (auto& x : kc) x = f32_to_f16(dist(rng));
      for (auto& x : vc) x = f32_to_f16(dist(rng));
      std::vector<float> q(size_t(n) * heads), sinks(heads), scores(2 * n_ctx), out(q.size()), want(n);
      for (auto& x : q) x = 2.0f * dist(rng);
      for (auto& x : sinks) x = dist(rng);
      const F16Rows k{kc.data(), size_t(n)}, v{vc.data(), size_t(n)};
      for (bool with_sinks : {false, true}) {
        const float* s = with_sinks ? sinks.data() : nullptr;
        attend_f16_heads(q.data(), heads, k, v, 4, 18, n, 0.125f, s, scores.data(), out.data());
        for (int h = 0; h < heads; ++h) {
          attend_f16(q.data() + h * n, k, v, 4, 18, n, 0.125f, s ? s + h : nullptr, scores.data(), want.data());
          for (int i = 0; i < n; ++i) ASSERT_EQ(out[h * n + i], want[i]) << "n=" << n << " heads=" << heads << " h=" << h;
        }
      }
    }
  }
}

}  // namespace
}  // namespace lp::engine
