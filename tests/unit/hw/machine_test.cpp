// Hardware detection on the machine snapshots of tests/data/hw (their README says where each comes from), the
// profile each matches, and the memory plan / recommendation arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "hw/machine.h"
#include "hw/plan.h"
#include "core/error.h"

namespace lp::hw {
namespace {

Machine snap(const std::string& name) { return detect(std::string(LP_SOURCE_DIR) + "/tests/data/hw/" + name); }

TEST(HwDetect, ParseCpuList) {
  EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_TRUE(parse_cpu_list("").empty());
  EXPECT_EQ(parse_cpu_list("5,x,7"), (std::vector<int>{5, 7}));
}

TEST(HwDetect, RecordedEpycVm) {
  const Machine m = snap("epyc-2core-avx512-vm");
  EXPECT_EQ(m.cpu.arch, "x86_64");
  EXPECT_EQ(m.cpu.vendor, "AMD");
  EXPECT_EQ(m.cpu.model, "AMD EPYC");
  EXPECT_EQ(m.cpu.logical, 2);
  EXPECT_EQ(m.cpu.physical, 2);
  for (const char* f : {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16"}) EXPECT_TRUE(m.cpu.has(f)) << f;
  EXPECT_FALSE(m.cpu.has("amx_int8"));
  ASSERT_EQ(m.cpu.caches.size(), 4u);
  EXPECT_EQ(m.cpu.caches[3].level, 3);
  EXPECT_EQ(m.cpu.caches[3].bytes, 32ull << 20);
  EXPECT_EQ(m.cpu.caches[3].shared_by, 2);
  EXPECT_EQ(m.cpu.numa_nodes, 1);
  EXPECT_EQ(m.memory.total, 24683784ull << 10);
  EXPECT_EQ(m.memory.cgroup_limit, 0u) << "cgroup v1's 'unlimited' value is no limit";
  EXPECT_EQ(m.cgroup_cpus, 0.0);
  EXPECT_TRUE(m.gpus.empty());
  EXPECT_EQ(match_profile(m).id, "x86_avx512_vnni");
  EXPECT_EQ(m.cpu.compute_cores(m.cgroup_cpus), 2);
}

TEST(HwDetect, HybridIntelUsesPerformanceCores) {
  const Machine m = snap("intel-hybrid-i7-12700");
  EXPECT_EQ(m.cpu.vendor, "Intel");
  EXPECT_EQ(m.cpu.logical, 20);
  EXPECT_EQ(m.cpu.physical, 12);
  EXPECT_EQ(m.cpu.performance_cores, 8);
  EXPECT_EQ(m.cpu.efficiency_cores, 4);
  EXPECT_EQ(m.cpu.compute_cores(m.cgroup_cpus), 8);
  EXPECT_TRUE(m.cpu.has("avx_vnni"));
  EXPECT_FALSE(m.cpu.has("avx512f"));
  ASSERT_EQ(m.gpus.size(), 1u);
  EXPECT_EQ(m.gpus[0].vendor, "intel");
  EXPECT_TRUE(m.gpus[0].integrated);
  EXPECT_EQ(match_profile(m).id, "x86_hybrid");
}

TEST(HwDetect, ArmServer) {
  const Machine m = snap("arm-graviton3-64core");
  EXPECT_EQ(m.cpu.arch, "aarch64");
  EXPECT_EQ(m.cpu.vendor, "ARM");
  EXPECT_EQ(m.cpu.model, "Neoverse-V1");
  EXPECT_EQ(m.cpu.physical, 64);
  for (const char* f : {"neon", "dotprod", "fp16", "i8mm", "bf16", "sve"}) EXPECT_TRUE(m.cpu.has(f)) << f;
  EXPECT_FALSE(m.cpu.has("sve2"));
  EXPECT_EQ(match_profile(m).id, "arm_server_sve");
}

TEST(HwDetect, JetsonBoard) {
  const Machine m = snap("jetson-agx-orin-32gb");
  EXPECT_EQ(m.board, "NVIDIA Jetson AGX Orin Developer Kit");
  EXPECT_EQ(m.cpu.model, "Cortex-A78AE");
  EXPECT_FALSE(m.cpu.has("sve"));
  ASSERT_EQ(m.gpus.size(), 1u);
  EXPECT_TRUE(m.gpus[0].integrated);
  const Profile& p = match_profile(m);
  EXPECT_EQ(p.id, "jetson");
  EXPECT_EQ(p.settings.value("cache_type", ""), "q8_0");
}

TEST(HwDetect, ContainerCgroupLimits) {
  const Machine m = snap("container-2gib-cgroup2");
  EXPECT_EQ(m.memory.cgroup_limit, 2ull << 30);
  EXPECT_EQ(m.memory.cgroup_usage, 2040109465u);
  EXPECT_EQ(m.memory.usable(), (2ull << 30) - 2040109465u) << "the host's MemAvailable is not what the container can use";
  EXPECT_DOUBLE_EQ(m.cgroup_cpus, 2.0);
  EXPECT_EQ(m.cpu.logical, 4);
  EXPECT_EQ(m.cpu.compute_cores(m.cgroup_cpus), 2);
}

TEST(HwDetect, NvidiaGpuHost) {
  const Machine m = snap("nvidia-h100-host");
  ASSERT_EQ(m.gpus.size(), 1u);
  EXPECT_EQ(m.gpus[0].vendor, "nvidia");
  EXPECT_EQ(m.gpus[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_FALSE(m.gpus[0].integrated);
  for (const char* f : {"amx_tile", "amx_int8", "avx512_bf16"}) EXPECT_TRUE(m.cpu.has(f)) << f;
  EXPECT_EQ(m.cpu.physical, 8);
  EXPECT_EQ(match_profile(m).id, "nvidia_gpu");
}

TEST(HwDetect, EmptyRootGivesGenericProfile) {
  const Machine m = detect(std::string(LP_SOURCE_DIR) + "/tests/data/hw/no-such-machine");
  EXPECT_EQ(match_profile(m).id, "generic");
  EXPECT_GE(m.cpu.compute_cores(0), 1);
}

// Qwen3-0.6B's shape (config.json of Qwen/Qwen3-0.6B): 28 layers, 8 KV heads of 128, 151,936 tokens.
ModelFacts qwen3_06b() {
  ModelFacts f;
  f.path = "qwen3-0.6b";
  f.architecture = "qwen3";
  f.weight_bytes = 484ull << 20;  // a Q4_K_M file
  f.active_weight_bytes = f.weight_bytes;
  f.n_layer = 28, f.n_embd = 1024, f.n_head = 16, f.n_head_kv = 8, f.head_dim = 128, f.n_ff = 3072, f.n_vocab = 151936;
  f.n_ctx_train = 40960;
  f.active_params = 596'000'000;
  return f;
}

TEST(HwPlan, KvCacheArithmetic) {
  const ModelFacts f = qwen3_06b();
  // 2 (K and V) x 28 layers x 8 heads x 128 x 2 bytes = 114,688 bytes per token at f16
  EXPECT_EQ(plan_memory(f, 4096, "f16", 512).kv_cache, 114688ull * 4096);
  EXPECT_EQ(plan_memory(f, 4096, "f32", 512).kv_cache, 2 * 114688ull * 4096);
  EXPECT_EQ(plan_memory(f, 4096, "q8_0", 512).kv_cache, 114688ull * 4096 / 2 * 34 / 32);
  EXPECT_EQ(plan_memory(f, 4096, "f16", 512, 4).kv_cache, 4 * 114688ull * 4096);
  EXPECT_EQ(plan_memory(f, 4096, "bf16", 512).kv_cache, 114688ull * 4096);
  EXPECT_EQ(plan_memory(f, 4096, "q4_0", 512).kv_cache, 114688ull * 4096 / 2 * 18 / 32);
  // K and V of their own types: each half of the cache at its type's bytes.
  const MemoryPlan mixed = plan_memory(f, 4096, "q8_0", "q4_0", 512);
  EXPECT_EQ(mixed.kv_k, 114688ull * 4096 / 4 * 34 / 32);
  EXPECT_EQ(mixed.kv_v, 114688ull * 4096 / 4 * 18 / 32);
  EXPECT_EQ(mixed.kv_cache, mixed.kv_k + mixed.kv_v);
  EXPECT_EQ(mixed.cache_type, "q8_0/q4_0");
  EXPECT_EQ(plan_memory(f, 4096, "f16", "f16", 512).total(), plan_memory(f, 4096, "f16", 512).total());
  EXPECT_THROW(cache_type_bytes("q3_k"), std::exception);
}

TEST(HwPlan, RefusesWhatDoesNotFitAndSuggestsWhatDoes) {
  const Machine m = snap("container-2gib-cgroup2");
  ModelFacts f = qwen3_06b();
  Request req;
  req.ctx = 131072;
  req.cache_type = "f16";
  req.parallel = 1;
  const Recommendation r = recommend(m, f, req);
  EXPECT_FALSE(r.fits);
  EXPECT_EQ(r.memory.kv_cache, 114688ull * 131072);
  // Usable = 2 GiB - 1.9 GiB used: the weights (484 MiB) alone do not fit, so nothing is suggested but a smaller
  // artifact; on a 2 GiB container with nothing else running (usage 0) a smaller context does.
  EXPECT_TRUE(r.downgrades.empty());
  Machine idle = m;
  idle.memory.cgroup_usage = 0;
  const Recommendation r2 = recommend(idle, f, req);
  EXPECT_FALSE(r2.fits);
  ASSERT_FALSE(r2.downgrades.empty());
  // Smaller KV types are suggested too, each with a longer context than f16's: f16, q8_0 and q4_0 in that order.
  ASSERT_EQ(r2.downgrades.size(), 3u);
  int ctxs[3] = {};
  const char* kinds[3] = {"f16", "q8_0", "q4_0"};
  for (int i = 0; i < 3; ++i) {
    char kv[16] = {};
    ASSERT_EQ(std::sscanf(r2.downgrades[i].c_str(), "--ctx %d --cache-type %15s", &ctxs[i], kv), 2);
    EXPECT_STREQ(kv, kinds[i]);
  }
  EXPECT_LT(ctxs[0], ctxs[1]);
  EXPECT_LT(ctxs[1], ctxs[2]);
  for (const auto& d : r2.downgrades) {
    int ctx = 0;
    char kv[16] = {};
    ASSERT_EQ(std::sscanf(d.c_str(), "--ctx %d --cache-type %15s", &ctx, kv), 2) << d;
    EXPECT_LE(plan_memory(f, ctx, kv, r2.batch).total(), idle.memory.usable()) << d;
    EXPECT_GT(plan_memory(f, ctx * 2, kv, r2.batch).total(), idle.memory.usable()) << "the largest context that fits: " << d;
  }
}

TEST(HwPlan, ThreadsAndSpeedModel) {
  const Machine hybrid = snap("intel-hybrid-i7-12700");
  const Recommendation r = recommend(hybrid, qwen3_06b(), {});
  EXPECT_EQ(r.threads, 8);
  EXPECT_EQ(r.ctx, 4096);
  EXPECT_FALSE(r.bandwidth_measured);
  // Nothing measured: weights at the profile's share of its assumed bandwidth, the KV of half the context at the
  // bandwidth itself.
  EXPECT_EQ(r.decode_depth, 2048);
  EXPECT_EQ(r.decode_model, "bandwidth x efficiency");
  const double w = double(qwen3_06b().active_weight_bytes), kv_half = double(r.memory.kv_cache) / 2;
  EXPECT_NEAR(1.0 / r.expected_decode_tps, w / (60e9 * 0.75) + kv_half / 60e9, 1e-12);
  Machine measured = hybrid;
  measured.bandwidth_gbs = 30.0;
  EXPECT_NEAR(recommend(measured, qwen3_06b(), {}).expected_decode_tps, r.expected_decode_tps / 2, 1e-6);
  // Depth: an empty context reads no KV.
  Request empty;
  empty.depth = 0;
  EXPECT_NEAR(1.0 / recommend(hybrid, qwen3_06b(), empty).expected_decode_tps, w / (60e9 * 0.75), 1e-12);
  // Measured kernel rates per weight type replace the efficiency guess (only when every type was probed).
  ModelFacts mixed = qwen3_06b();
  const MatrixShape q4{GgmlType::Q4_K, 3072, 1024}, q6{GgmlType::Q6_K, 1024, 3072};
  mixed.active_bytes_by_shape = {{q4, 300'000'000}, {q6, 100'000'000}};
  mixed.active_other_bytes = mixed.active_weight_bytes - 400'000'000;
  measured.matvec_gbs = {{q4, 12.0}};
  EXPECT_EQ(recommend(measured, mixed, empty).decode_model, "bandwidth x efficiency") << "Q6_K was not probed";
  measured.matvec_gbs[q6] = 10.0;
  const Recommendation p = recommend(measured, mixed, empty);
  EXPECT_EQ(p.decode_model, "matvec probe");
  EXPECT_NEAR(1.0 / p.expected_decode_tps, 300e6 / 12e9 + 100e6 / 10e9 + double(mixed.active_other_bytes) / 30e9, 1e-12);
  Request given;
  given.threads = 3;
  given.ctx = 1024;
  const Recommendation g = recommend(hybrid, qwen3_06b(), given);
  EXPECT_EQ(g.threads, 3) << "explicit settings win";
  EXPECT_EQ(g.ctx, 1024);
}

TEST(HwPlan, GpuLayersForLlamaCpp) {
  Machine m = snap("nvidia-h100-host");
  m.gpus[0].memory_bytes = 80ull << 30;
  const Recommendation r = recommend(m, qwen3_06b(), {});
  EXPECT_EQ(r.llama_cpp_gpu_layers, 29) << "the whole model (28 layers + output) fits an 80 GB GPU";
}

TEST(HwProbe, MatvecRateIsMeasuredPerType) {
  // A small matrix (in cache) keeps the test fast; the rate is GB/s of weight bytes, positive and finite.
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q8_0, GgmlType::F16}) {
    const double gbs = probe_matvec({t, 64, 512}, 1, 1 << 20, 0.01);
    EXPECT_GT(gbs, 0.0) << ggml_type_name(t);
    EXPECT_TRUE(std::isfinite(gbs)) << ggml_type_name(t);
  }
  EXPECT_EQ(to_string(MatrixShape{GgmlType::Q4_K, 2048, 1024}), "q4_K 2048x1024");
  EXPECT_THROW(probe_matvec({GgmlType::I32, 64, 512}, 1, 1 << 20, 0.01), Error);
  EXPECT_THROW(probe_matvec({GgmlType::Q4_K, 64, 100}, 1, 1 << 20, 0.01), Error) << "100 is not whole 256-blocks";
}

}  // namespace
}  // namespace lp::hw
