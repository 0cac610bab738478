// llama-pajamas-run bench: llama-bench style pp512 prefill and tg128 decode throughput from an empty
// context, plus load time and peak RSS.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/command.h"
#include "core/units.h"
#include "engine_cli.h"

namespace {

struct Opts : lp::app::EngineCli {
  int pp = 512, tg = 128, reps = 2;
  bool bandwidth = false;
};

// Read bandwidth of a 1 GiB buffer summed by all threads (best of 3): the ceiling for decode, which
// streams every weight once per token.
double measure_read_bandwidth(int threads) {
  const size_t n = (size_t{1} << 30) / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  double best = 0;
  uint64_t sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t total = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
    for (size_t i = 0; i < n; ++i) total += buf[i];
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink += total;
    best = std::max(best, n * sizeof(uint64_t) / s);
  }
  if (sink == 42) std::printf(" ");
  return best;
}

lp::app::RegisterCommand reg{{"bench", "Measure prefill and decode throughput", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 1024);
  o->add_json(sub);
  sub.add_option("--prompt-tokens,--pp", o->pp, "prefill tokens (llama-bench's -p)")->capture_default_str();
  sub.add_option("-n,--gen-tokens,--n-predict,--tg", o->tg, "decode tokens (tokens to generate, llama-bench's -n)")->capture_default_str();
  lp::app::add_deprecated_alias(sub, "-p", o->pp, "--prompt-tokens (-p means --prompt in every command)");
  sub.add_option("-r,--repetitions", o->reps, "runs per test (best is reported)")->capture_default_str();
  sub.add_flag("--bandwidth", o->bandwidth, "also measure memory read bandwidth and decode's share of it");
  return [o]() {
    if (o->runtime.ctx < o->pp + o->tg) o->runtime.ctx = o->pp + o->tg;
    if (o->runtime.batch < o->pp) o->runtime.batch = o->pp;
    lp::Runtime rt = o->open();
    const lp::BenchmarkResult r = rt.benchmark(o->pp, o->tg, o->reps);
    const double bw = o->bandwidth ? measure_read_bandwidth(r.threads) : 0.0;
    // Decode reads (about) every weight byte once per token.
    const double share = bw > 0 ? r.decode_tokens_per_second * static_cast<double>(r.model_bytes) / bw : 0.0;
    if (o->json) {
      std::printf("%s\n", nlohmann::json{{"load_seconds", r.load_seconds},
                                         {"prefill_tokens_per_second", r.prefill_tokens_per_second},
                                         {"decode_tokens_per_second", r.decode_tokens_per_second},
                                         {"peak_rss_bytes", r.peak_rss_bytes},
                                         {"model_bytes", r.model_bytes},
                                         {"threads", r.threads},
                                         {"prompt_tokens", r.prompt_tokens},
                                         {"gen_tokens", r.gen_tokens},
                                         {"read_bandwidth_bytes_per_second", bw},
                                         {"decode_bandwidth_share", share}}
                              .dump(2)
                              .c_str());
    } else {
      const lp::ModelInfo info = rt.info();
      std::printf("model    %s (%s, %s)\n", info.path.c_str(), info.architecture.c_str(), lp::format_bytes(r.model_bytes).c_str());
      std::printf("threads  %d\nload     %.3f s\n", r.threads, r.load_seconds);
      std::printf("pp%-5d  %.1f tok/s\ntg%-5d  %.1f tok/s\n", r.prompt_tokens, r.prefill_tokens_per_second, r.gen_tokens, r.decode_tokens_per_second);
      std::printf("peak RSS %s\n", lp::format_bytes(r.peak_rss_bytes).c_str());
      if (bw > 0) std::printf("memory   %.1f GB/s read; decode uses %.0f%% of it\n", bw / 1e9, 100 * share);
    }
    return 0;
  };
}}};

}  // namespace
