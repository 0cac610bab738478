// Quantize / dequantize throughput per ggml type (scalar reference code, one thread unless noted).
// bytes_per_second = f32 input bytes (quantize) or f32 output bytes (dequantize).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "core/ggml_type.h"
#include "quant/mlx_affine.h"
#include "quant/quantize.h"

namespace {

using lp::GgmlType;
constexpr int64_t kRows = 64, kCols = 4096;

std::vector<float> bench_input() {
  std::vector<float> x(static_cast<size_t>(kRows * kCols));
  uint64_t s = 0x1234567;
  for (auto& v : x) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = (static_cast<float>(s >> 40) / 16777216.0f - 0.5f) * 0.05f;
  }
  return x;
}

const std::vector<float>& input() {
  static const std::vector<float> x = bench_input();
  return x;
}

const std::vector<float>& importance() {
  static const std::vector<float> w = [] {
    std::vector<float> v(kCols);
    for (int64_t i = 0; i < kCols; ++i) v[i] = 0.5f + static_cast<float>((i * 37) % 101);
    return v;
  }();
  return w;
}

void BM_Quantize(benchmark::State& state, GgmlType type, bool use_importance) {
  const auto& x = input();
  std::vector<uint8_t> out(lp::ggml_row_bytes(type, kCols) * kRows);
  const float* imp = use_importance ? importance().data() : nullptr;
  for (auto _ : state) {
    lp::quant::quantize(type, x.data(), out.data(), kRows, kCols, imp);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * static_cast<int64_t>(sizeof(float)));
}

void BM_QuantizeParallel(benchmark::State& state, GgmlType type) {
  const auto& x = input();
  std::vector<uint8_t> out(lp::ggml_row_bytes(type, kCols) * kRows);
  for (auto _ : state) {
    lp::quant::quantize_parallel(type, x.data(), out.data(), kRows, kCols, nullptr, 0);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * static_cast<int64_t>(sizeof(float)));
}

void BM_Dequantize(benchmark::State& state, GgmlType type) {
  const auto& x = input();
  const size_t rb = lp::ggml_row_bytes(type, kCols);
  std::vector<uint8_t> q(rb * kRows);
  lp::quant::quantize(type, x.data(), q.data(), kRows, kCols);
  std::vector<float> y(static_cast<size_t>(kCols));
  for (auto _ : state) {
    for (int64_t r = 0; r < kRows; ++r) lp::quant::dequantize_row(type, q.data() + r * rb, y.data(), kCols);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * static_cast<int64_t>(sizeof(float)));
}

void BM_MlxQuantize(benchmark::State& state, int bits) {
  const auto& x = input();
  std::vector<uint32_t> packed;
  std::vector<float> scales, biases;
  for (auto _ : state) {
    lp::quant::mlx_quantize(x.data(), kRows, kCols, bits, 64, packed, scales, biases);
    benchmark::DoNotOptimize(packed.data());
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * static_cast<int64_t>(sizeof(float)));
}

#define LP_TYPES(X) \
  X(F16) X(BF16) X(Q8_0) X(Q4_0) X(Q4_1) X(Q5_0) X(Q5_1) X(Q2_K) X(Q3_K) X(Q4_K) X(Q5_K) X(Q6_K) X(IQ4_NL) X(IQ4_XS) X(MXFP4)

#define LP_REGISTER(T)                                                                              \
  BENCHMARK_CAPTURE(BM_Quantize, T, GgmlType::T, false)->Unit(benchmark::kMillisecond);             \
  BENCHMARK_CAPTURE(BM_Quantize, T##_imatrix, GgmlType::T, true)->Unit(benchmark::kMillisecond);    \
  BENCHMARK_CAPTURE(BM_Dequantize, T, GgmlType::T)->Unit(benchmark::kMillisecond);
LP_TYPES(LP_REGISTER)

BENCHMARK_CAPTURE(BM_QuantizeParallel, Q4_K, GgmlType::Q4_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_QuantizeParallel, IQ4_XS, GgmlType::IQ4_XS)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MlxQuantize, 4bit, 4)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MlxQuantize, 3bit, 3)->Unit(benchmark::kMillisecond);

}  // namespace
