// Matmul kernel throughput on Qwen3-0.6B shapes (hidden 1024, FFN 3072, vocab 151936) and the
// machine's streaming read bandwidth, so decode speed can be stated as a share of the memory limit.
//   bench_kernels --benchmark_filter='Matvec|MemRead'
// GB/s counters are 10^9 bytes of weights (or buffer) read per second.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/matmul.h"
#include "quant/mlx_affine.h"
#include "quant/quantize.h"

namespace {

using lp::GgmlType;

// Random (but valid) weights, built once per shape and reused across benchmark registrations.
const std::vector<uint8_t>& weights(GgmlType type, int64_t rows, int64_t cols) {
  static std::vector<std::pair<std::tuple<GgmlType, int64_t, int64_t>, std::vector<uint8_t>>> cache;
  for (auto& [key, w] : cache) {
    if (key == std::make_tuple(type, rows, cols)) return w;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> f(static_cast<size_t>(cols) * 256);
  for (auto& v : f) v = dist(rng);
  const size_t rb = lp::ggml_row_bytes(type, cols);
  std::vector<uint8_t> w(rb * rows);
  // Quantize 256 distinct rows and tile them: same bytes/row as a real model, fast to build.
  std::vector<uint8_t> block(rb * 256);
  // The IQ1/IQ2 quantizers need an importance vector (as llama-quantize does): a smooth positive one.
  std::vector<float> importance(static_cast<size_t>(cols));
  for (size_t i = 0; i < importance.size(); ++i) importance[i] = 1.0f + static_cast<float>(i % 7) / 7.0f;
  lp::quant::quantize(type, f.data(), block.data(), 256, cols,
                      lp::quant::uses_importance(type) && lp::quant::requires_importance(type) ? importance.data() : nullptr);
  for (int64_t r = 0; r < rows; ++r) std::memcpy(w.data() + r * rb, block.data() + (r % 256) * rb, rb);
  cache.emplace_back(std::make_tuple(type, rows, cols), std::move(w));
  return cache.back().second;
}

void BM_Matmul(benchmark::State& state, GgmlType type) {
  const int64_t rows = state.range(0), cols = state.range(1), n_tokens = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const auto& w = weights(type, rows, cols);
  std::vector<float> x(static_cast<size_t>(cols * n_tokens), 0.5f), y(static_cast<size_t>(rows * n_tokens));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  for (auto _ : state) {
    lp::kernels::matmul(type, w.data(), rows, cols, x.data(), n_tokens, y.data(), threads);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.size()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * rows * cols * n_tokens * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(lp::kernels::active_target());
}

void matvec_shapes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{3072, 1024}, {1024, 3072}, {151936, 1024}}) {
      b->Args({rows, cols, 1, threads});
    }
  }
  b->ArgNames({"rows", "cols", "tokens", "threads"})->UseRealTime();
}

void prefill_shapes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) b->Args({3072, 1024, 64, threads});
  b->Args({3072, 1024, 512, 1});
  b->Args({1024, 3072, 512, 1});  // one pp512 FFN-down matmul (set LP_KERNELS_NO_TILES=1 for the 4-token path)
  b->ArgNames({"rows", "cols", "tokens", "threads"})->UseRealTime();
}

BENCHMARK_CAPTURE(BM_Matmul, Matvec_Q4_K, GgmlType::Q4_K)->Apply(matvec_shapes);
BENCHMARK_CAPTURE(BM_Matmul, Matvec_Q8_0, GgmlType::Q8_0)->Apply(matvec_shapes);
BENCHMARK_CAPTURE(BM_Matmul, Matvec_Q6_K, GgmlType::Q6_K)->Args({151936, 1024, 1, 1})->Args({151936, 1024, 1, 2})->UseRealTime();
BENCHMARK_CAPTURE(BM_Matmul, Matvec_F16, GgmlType::F16)->Args({3072, 1024, 1, 1})->Args({3072, 1024, 1, 2})->UseRealTime();
// Cache-resident weights (256 rows, ~150-280 KB): the kernels' compute ceiling, no DRAM traffic.
BENCHMARK_CAPTURE(BM_Matmul, CacheResident_Q4_K, GgmlType::Q4_K)->Args({256, 1024, 1, 1})->UseRealTime();
BENCHMARK_CAPTURE(BM_Matmul, CacheResident_Q8_0, GgmlType::Q8_0)->Args({256, 1024, 1, 1})->UseRealTime();
BENCHMARK_CAPTURE(BM_Matmul, CacheResident_Q6_K, GgmlType::Q6_K)->Args({256, 1024, 1, 1})->UseRealTime();
BENCHMARK_CAPTURE(BM_Matmul, Prefill_Q4_K, GgmlType::Q4_K)->Apply(prefill_shapes);
BENCHMARK_CAPTURE(BM_Matmul, Prefill_Q8_0, GgmlType::Q8_0)->Apply(prefill_shapes);
BENCHMARK_CAPTURE(BM_Matmul, Prefill_Q6_K, GgmlType::Q6_K)->Apply(prefill_shapes);
BENCHMARK_CAPTURE(BM_Matmul, Prefill_Q5_K, GgmlType::Q5_K)->Apply(prefill_shapes);
BENCHMARK_CAPTURE(BM_Matmul, Prefill_BF16, GgmlType::BF16)->Apply(prefill_shapes);
BENCHMARK_CAPTURE(BM_Matmul, Prefill_F32, GgmlType::F32)->Apply(prefill_shapes);
BENCHMARK_CAPTURE(BM_Matmul, Prefill_Q2_K, GgmlType::Q2_K)->Apply(prefill_shapes);

// The i-quants (issue #15): an FFN-up-shaped matvec (decode), the cache-resident compute ceiling, and prefill.
void iq_shapes(benchmark::internal::Benchmark* b) {
  b->Args({3072, 1024, 1, 1})->Args({3072, 1024, 1, 2})->Args({256, 1024, 1, 1})->Args({3072, 1024, 64, 1});
  b->Args({3072, 1024, 512, 1});  // one pp512 FFN-up matmul
  b->ArgNames({"rows", "cols", "tokens", "threads"})->UseRealTime();
}
BENCHMARK_CAPTURE(BM_Matmul, IQ2_XXS, GgmlType::IQ2_XXS)->Apply(iq_shapes);
BENCHMARK_CAPTURE(BM_Matmul, IQ2_XS, GgmlType::IQ2_XS)->Apply(iq_shapes);
BENCHMARK_CAPTURE(BM_Matmul, IQ2_S, GgmlType::IQ2_S)->Apply(iq_shapes);
BENCHMARK_CAPTURE(BM_Matmul, IQ3_XXS, GgmlType::IQ3_XXS)->Apply(iq_shapes);
BENCHMARK_CAPTURE(BM_Matmul, IQ3_S, GgmlType::IQ3_S)->Apply(iq_shapes);
BENCHMARK_CAPTURE(BM_Matmul, IQ1_S, GgmlType::IQ1_S)->Apply(iq_shapes);
BENCHMARK_CAPTURE(BM_Matmul, IQ1_M, GgmlType::IQ1_M)->Apply(iq_shapes);

// MLX affine weights (mlx-lm layout) against the GGUF type of the same bits, same shapes: the FFN-up
// matmul of Qwen3-0.6B for decode (1 token) and a 64-token prefill, 1 thread.
//   bench_kernels --benchmark_filter='SameBits'
struct MlxBench {
  std::vector<uint32_t> packed;
  std::vector<float> scales, biases;
};
const MlxBench& mlx_weights(int bits, int group, int64_t rows, int64_t cols) {
  static std::vector<std::pair<std::tuple<int, int, int64_t, int64_t>, MlxBench>> cache;
  for (auto& [key, w] : cache) {
    if (key == std::make_tuple(bits, group, rows, cols)) return w;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> f(static_cast<size_t>(cols) * 256);
  for (auto& v : f) v = dist(rng);
  MlxBench block, w;
  lp::quant::mlx_quantize(f.data(), 256, cols, bits, group, block.packed, block.scales, block.biases);
  const int64_t words = lp::quant::mlx_packed_cols(cols, bits), groups = cols / group;
  for (int64_t r = 0; r < rows; ++r) {  // 256 distinct rows tiled, as weights() does
    const int64_t s = r % 256;
    w.packed.insert(w.packed.end(), block.packed.begin() + s * words, block.packed.begin() + (s + 1) * words);
    w.scales.insert(w.scales.end(), block.scales.begin() + s * groups, block.scales.begin() + (s + 1) * groups);
    w.biases.insert(w.biases.end(), block.biases.begin() + s * groups, block.biases.begin() + (s + 1) * groups);
  }
  cache.emplace_back(std::make_tuple(bits, group, rows, cols), std::move(w));
  return cache.back().second;
}

void BM_MatmulMlx(benchmark::State& state, int bits, int group) {
  const int64_t rows = state.range(0), cols = state.range(1), n_tokens = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const auto& w = mlx_weights(bits, group, rows, cols);
  const lp::kernels::MlxWeights view{w.packed.data(), w.scales.data(), w.biases.data(), bits, group};
  std::vector<float> x(static_cast<size_t>(cols * n_tokens)), y(static_cast<size_t>(rows * n_tokens));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  for (auto _ : state) {
    lp::kernels::matmul_mlx(view, rows, cols, x.data(), n_tokens, y.data(), threads);
    benchmark::DoNotOptimize(y.data());
  }
  // Bytes read per call: codes plus fp32 scales and biases (the loader's in-memory form).
  const double bytes = 4.0 * static_cast<double>(w.packed.size() + w.scales.size() + w.biases.size());
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * rows * cols * n_tokens * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(lp::kernels::active_target());
}

void same_bits_shapes(benchmark::internal::Benchmark* b) {
  b->Args({3072, 1024, 1, 1})->Args({3072, 1024, 64, 1});
  b->ArgNames({"rows", "cols", "tokens", "threads"})->UseRealTime();
}

BENCHMARK_CAPTURE(BM_Matmul, SameBits_Q2_K, GgmlType::Q2_K)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_MatmulMlx, SameBits_Mlx2_g64, 2, 64)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_Matmul, SameBits_Q3_K, GgmlType::Q3_K)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_MatmulMlx, SameBits_Mlx3_g64, 3, 64)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_Matmul, SameBits_Q4_0, GgmlType::Q4_0)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_Matmul, SameBits_Q4_K, GgmlType::Q4_K)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_MatmulMlx, SameBits_Mlx4_g32, 4, 32)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_MatmulMlx, SameBits_Mlx4_g64, 4, 64)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_MatmulMlx, SameBits_Mlx4_g128, 4, 128)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_Matmul, SameBits_Q5_K, GgmlType::Q5_K)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_MatmulMlx, SameBits_Mlx5_g64, 5, 64)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_Matmul, SameBits_Q6_K, GgmlType::Q6_K)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_MatmulMlx, SameBits_Mlx6_g64, 6, 64)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_Matmul, SameBits_Q8_0, GgmlType::Q8_0)->Apply(same_bits_shapes);
BENCHMARK_CAPTURE(BM_MatmulMlx, SameBits_Mlx8_g64, 8, 64)->Apply(same_bits_shapes);

// Streaming read of a 1 GiB buffer (vectorised sum of 64-bit words, rows split across threads):
// the bandwidth ceiling a memory-bound decode can reach on this machine.
void BM_MemReadBandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  constexpr size_t kBytes = size_t{1} << 30;
  static std::vector<uint64_t> buf;
  if (buf.empty()) {
    buf.resize(kBytes / sizeof(uint64_t));
#pragma omp parallel for num_threads(2)
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = i;  // touch every page
  }
  const int64_t n = static_cast<int64_t>(buf.size());
  for (auto _ : state) {
    uint64_t total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
    for (int64_t blk = 0; blk < n / 1024; ++blk) {
      const uint64_t* p = buf.data() + blk * 1024;
      uint64_t s = 0;
#pragma omp simd reduction(+ : s)
      for (int i = 0; i < 1024; ++i) s += p[i];
      total += s;
    }
    benchmark::DoNotOptimize(total);
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(kBytes), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemReadBandwidth)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
