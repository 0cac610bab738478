// The attention inner loops (F16 KV cache) against plain float math, for head sizes that hit the
// 32-, 16- and 8-wide vector loops and the scalar tail.
#include "engine/attention_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "engine/kv_cache.h"

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

// ---- KV cache types (engine/kv_cache.h) and attend_rows ----
namespace kvtypes {

const CacheType kTypes[] = {CacheType::F32, CacheType::F16, CacheType::BF16, CacheType::Q8_0, CacheType::Q4_0};

// The largest |x - decode(encode(x))| a type allows for a value of a block (32 values) whose largest magnitude is
// amax: f16 and bf16 round to nearest (half an ulp: 2^-11 and 2^-8 relative); q8_0 rounds x / d to an integer,
// d = amax / 127 (half a step, plus 127 steps of the f16 rounding of d); q4_0 has d = amax / 8 and clamps the
// value of opposite sign to the largest, -amax, to 7 steps instead of 8 (a whole step), plus 8 steps of d's f16
// rounding.
double max_error(CacheType t, double x, double amax) {
  switch (t) {
    case CacheType::F32: return 0;
    case CacheType::F16: return std::fabs(x) * std::ldexp(1.0, -11) + std::ldexp(1.0, -25);
    case CacheType::BF16: return std::fabs(x) * std::ldexp(1.0, -8);
    case CacheType::Q8_0: return amax / 254 + amax * std::ldexp(1.0, -11);
    case CacheType::Q4_0: return amax / 8 + amax * std::ldexp(1.0, -8);
  }
  return 0;
}

TEST(KvCacheTypes, RoundTripWithinEachTypesRoundingBound) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  const int n = 128;
  for (CacheType t : kTypes) {
    std::vector<float> x(n), back(n);
    for (float& v : x) v = dist(rng);
    x[7] = 0.0f;
    std::vector<uint8_t> row(cache_row_bytes(t, n));
    cache_encode(t, x.data(), n, row.data());
    cache_decode(t, row.data(), 0, n, back.data());
    double worst_ratio = 0;
    for (int i = 0; i < n; ++i) {
      double amax = 0;
      for (int j = i / 32 * 32; j < i / 32 * 32 + 32; ++j) amax = std::max(amax, double(std::fabs(x[j])));
      const double err = std::fabs(double(back[i]) - x[i]), bound = max_error(t, x[i], amax);
      EXPECT_LE(err, bound) << cache_type_name(t) << " i=" << i;
      if (bound > 0) worst_ratio = std::max(worst_ratio, err / bound);
    }
    if (t != CacheType::F32) {
      EXPECT_GT(worst_ratio, 0.2) << cache_type_name(t) << ": the bound is not loose by 5x";
    }
    // A slice from an element offset decodes the same values (attention reads one KV head of a row).
    std::vector<float> part(40);
    cache_decode(t, row.data(), 70, 40, part.data());
    for (int i = 0; i < 40; ++i) EXPECT_EQ(part[i], back[70 + i]) << cache_type_name(t);
  }
  EXPECT_EQ(cache_row_bytes(CacheType::Q4_0, 128), 4u * 18);
  EXPECT_EQ(cache_row_bytes(CacheType::Q8_0, 128), 4u * 34);
  EXPECT_EQ(cache_row_bytes(CacheType::BF16, 128), 256u);
  EXPECT_THROW(cache_row_bytes(CacheType::Q4_0, 48), Error);
  EXPECT_THROW(cache_type_from_name("q4_1"), Error);
}

// attend_rows over every K type x V type: (1) against double-precision attention over the values the cache holds
// (decoded), within float rounding: the kernel (tiles, AVX-512 decoders, offsets) is right; (2) against attention
// over the exact f32 inputs, within the bound the types' rounding allows: a score moves by at most
// delta = scale * sum|q_i| * e_k, so each softmax weight by a factor within e^(+-2 delta) and the output by at most
// e_v + (e^(2 delta) - 1) * max|v| (e_k, e_v: the largest K / V element error, bounds above).
TEST(KvCacheTypes, AttendRowsEveryKAndVTypeAgainstF32) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int hd = 64, n_kv = 2, row_len = n_kv * hd, heads = 2, keys = 75;  // 75: two full tiles and a tail
  std::vector<float> kf(size_t(keys) * row_len), vf(size_t(keys) * row_len), q(heads * hd), sinks = {0.3f, -0.2f};
  for (float& x : kf) x = dist(rng);
  for (float& x : vf) x = dist(rng);
  for (float& x : q) x = 0.25f * dist(rng);
  const float scale = 1.0f / 8;
  for (CacheType kt : kTypes)
    for (CacheType vt : kTypes) {
      const size_t kb = cache_row_bytes(kt, row_len), vb = cache_row_bytes(vt, row_len);
      std::vector<uint8_t> K(kb * keys), V(vb * keys);
      std::vector<float> kd(kf.size()), vd(vf.size());
      for (int j = 0; j < keys; ++j) {
        cache_encode(kt, &kf[size_t(j) * row_len], row_len, &K[j * kb]);
        cache_encode(vt, &vf[size_t(j) * row_len], row_len, &V[j * vb]);
        cache_decode(kt, &K[j * kb], 0, row_len, &kd[size_t(j) * row_len]);
        cache_decode(vt, &V[j * vb], 0, row_len, &vd[size_t(j) * row_len]);
      }
      for (int kvh = 0; kvh < n_kv; ++kvh)
        for (const float* sink : std::vector<const float*>{nullptr, sinks.data()}) {
          const int first = 3, last = keys - 1, count = last - first + 1;
          std::vector<float> scores(heads * count), tile(kAttendTile * hd), out(heads * hd);
          attend_rows(q.data(), heads, {K.data(), kb, kt, kvh * hd}, {V.data(), vb, vt, kvh * hd}, first, last, hd, scale, sink,
                      scores.data(), tile.data(), out.data());
          for (int h = 0; h < heads; ++h) {
            auto reference = [&](const std::vector<float>& k, const std::vector<float>& v) {
              std::vector<double> s, o(hd, 0.0);
              for (int j = first; j <= last; ++j) {
                double d = 0;
                for (int i = 0; i < hd; ++i) d += double(q[h * hd + i]) * k[size_t(j) * row_len + kvh * hd + i];
                s.push_back(d * scale);
              }
              double mx = sink ? sink[h] : -INFINITY, sum = 0;
              for (double x : s) mx = std::max(mx, x);
              if (sink) sum += std::exp(sink[h] - mx);
              for (double& x : s) sum += (x = std::exp(x - mx));
              for (int j = first; j <= last; ++j)
                for (int i = 0; i < hd; ++i) o[i] += s[j - first] / sum * v[size_t(j) * row_len + kvh * hd + i];
              return o;
            };
            const auto stored = reference(kd, vd), exact = reference(kf, vf);
            double qsum = 0, ek = 0, ev = 0;
            for (int i = 0; i < hd; ++i) qsum += std::fabs(q[h * hd + i]);
            for (size_t i = 0; i < kf.size(); ++i) {
              ek = std::max(ek, max_error(kt, kf[i], 1.0));
              ev = std::max(ev, max_error(vt, vf[i], 1.0));
            }
            const double delta = scale * qsum * ek, bound = ev + std::expm1(2 * delta) + 1e-5;
            for (int i = 0; i < hd; ++i) {
              const float got = out[h * hd + i];
              ASSERT_NEAR(got, stored[i], 2e-6) << cache_type_name(kt) << "/" << cache_type_name(vt) << " head " << h << " i " << i;
              ASSERT_NEAR(got, exact[i], bound) << cache_type_name(kt) << "/" << cache_type_name(vt) << " head " << h << " i " << i;
            }
          }
        }
    }
}

}  // namespace kvtypes

}  // namespace
}  // namespace lp::engine
