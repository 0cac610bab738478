// llama-pajamas-run bench: llama-bench style pp512 prefill and tg128 decode throughput from an empty
// context, plus load time and peak RSS.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "core/units.h"
#include "engine_cli.h"

namespace {

struct Opts : lp::app::EngineCli {
  int pp = 512, tg = 128, reps = 2;
};

lp::app::RegisterCommand reg{{"bench", "Measure prefill and decode throughput", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 1024);
  o->add_json(sub);
  sub.add_option("-p,--prompt-tokens", o->pp, "prefill tokens (pp)")->capture_default_str();
  sub.add_option("-n,--gen-tokens", o->tg, "decode tokens (tg)")->capture_default_str();
  sub.add_option("-r,--repetitions", o->reps, "runs per test (best is reported)")->capture_default_str();
  return [o]() {
    if (o->runtime.ctx < o->pp + o->tg) o->runtime.ctx = o->pp + o->tg;
    if (o->runtime.batch < o->pp) o->runtime.batch = o->pp;
    lp::Runtime rt = o->open();
    const lp::BenchmarkResult r = rt.benchmark(o->pp, o->tg, o->reps);
    if (o->json) {
      std::printf("%s\n", nlohmann::json{{"load_seconds", r.load_seconds},
                                         {"prefill_tokens_per_second", r.prefill_tokens_per_second},
                                         {"decode_tokens_per_second", r.decode_tokens_per_second},
                                         {"peak_rss_bytes", r.peak_rss_bytes},
                                         {"model_bytes", r.model_bytes},
                                         {"threads", r.threads},
                                         {"prompt_tokens", r.prompt_tokens},
                                         {"gen_tokens", r.gen_tokens}}
                              .dump(2)
                              .c_str());
    } else {
      const lp::ModelInfo info = rt.info();
      std::printf("model    %s (%s, %s)\n", info.path.c_str(), info.architecture.c_str(), lp::format_bytes(r.model_bytes).c_str());
      std::printf("threads  %d\nload     %.3f s\n", r.threads, r.load_seconds);
      std::printf("pp%-5d  %.1f tok/s\ntg%-5d  %.1f tok/s\n", r.prompt_tokens, r.prefill_tokens_per_second, r.gen_tokens, r.decode_tokens_per_second);
      std::printf("peak RSS %s\n", lp::format_bytes(r.peak_rss_bytes).c_str());
    }
    return 0;
  };
}}};

}  // namespace
