// `config`: the memory plan of a model on this machine (weights, KV cache per type, compute buffers) and the
// recommended runtime settings with their expected speed; when it does not fit, what does. docs/HARDWARE.md.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "common/command.h"
#include "core/error.h"
#include "core/units.h"
#include "hw/machine.h"
#include "hw/plan.h"

#include <fmt/format.h>

namespace {

struct ConfigOptions {
  std::string model, root = "/", cache_type, cache_type_k, cache_type_v;
  int ctx = 0, parallel = 0, threads = 0, batch = 0, depth = -1;
  bool json = false, probe = false;
};

int run(const ConfigOptions& o) {
  lp::hw::Machine m = lp::hw::detect(o.root);
  const lp::hw::ModelFacts f = lp::hw::model_facts(o.model);
  if (o.probe) {
    if (o.root != "/") lp::fail("--probe measures this machine; it cannot be combined with --root {}", o.root);
    const int threads = o.threads > 0 ? o.threads : m.cpu.compute_cores(m.cgroup_cpus);
    m.bandwidth_gbs = lp::hw::probe_bandwidth(threads);
    // Our kernel's decode rate for each weight type the model stores its matrices in.
    // Our decode kernel on each matrix shape of the model, over as many bytes as the model reads per token (at least
    // 8, at most 512 MiB): a token streams all of them, so what the caches keep of a shape is what they keep of the
    // whole model, not of that shape alone.
    const uint64_t span = std::clamp<uint64_t>(f.active_weight_bytes, 8ull << 20, 512ull << 20);
    for (const auto& [shape, bytes] : f.active_bytes_by_shape) m.matvec_gbs[shape] = lp::hw::probe_matvec(shape, threads, span, 0.1);
  }
  // One sequence unless --parallel says how many slots `serve` will run (the profile's count is a note).
  lp::hw::Request req;
  req.ctx = o.ctx, req.threads = o.threads, req.batch = o.batch, req.parallel = o.parallel > 0 ? o.parallel : 1;
  req.depth = o.depth;
  req.cache_type = o.cache_type, req.cache_type_k = o.cache_type_k, req.cache_type_v = o.cache_type_v;
  lp::hw::Recommendation r = lp::hw::recommend(m, f, req);
  if (o.parallel <= 0 && r.profile->settings.value("parallel", 1) > 1)
    r.notes.push_back("serving several users: this profile suggests --parallel " + std::to_string(r.profile->settings.value("parallel", 1)) +
                      " slots (plan it with --parallel)");
  if (o.json) {
    nlohmann::json j = lp::hw::to_json(r);
    j["model"] = {{"path", f.path}, {"architecture", f.architecture}, {"weight_bytes", f.weight_bytes},
                  {"active_weight_bytes", f.active_weight_bytes}, {"n_ctx_train", f.n_ctx_train}};
    nlohmann::json per_type = nlohmann::json::object();
    for (const auto& kv : lp::hw::cache_types())
      per_type[kv] = lp::hw::to_json(lp::hw::plan_memory(f, r.ctx, kv, r.batch, r.parallel));
    j["memory_by_cache_type"] = per_type;
    std::printf("%s\n", j.dump(2).c_str());
    return r.fits ? 0 : 3;
  }
  using lp::format_bytes;
  std::printf("model    %s (%s), ctx %d, %d slot(s), batch %d\n", f.path.c_str(), f.architecture.c_str(), r.ctx, r.parallel, r.batch);
  std::printf("machine  profile %s; usable memory %s\n", r.profile->id.c_str(), format_bytes(r.usable_memory).c_str());
  std::printf("memory   %-10s %-10s %-10s %-10s %-10s  KV type\n", "weights", "KV cache", "compute", "runtime", "total");
  for (const auto& kv : lp::hw::cache_types()) {
    const auto p = lp::hw::plan_memory(f, r.ctx, kv, r.batch, r.parallel);
    std::printf("         %-10s %-10s %-10s %-10s %-10s  %s%s\n", format_bytes(p.weights).c_str(), format_bytes(p.kv_cache).c_str(),
                format_bytes(p.compute).c_str(), format_bytes(p.runtime).c_str(), format_bytes(p.total()).c_str(), kv.c_str(),
                kv == r.cache_type ? "  <- chosen" : "");
  }
  if (r.cache_type_k != r.cache_type_v) {
    const auto& p = r.memory;
    std::printf("         %-10s %-10s %-10s %-10s %-10s  %s  <- chosen (K %s, V %s)\n", format_bytes(p.weights).c_str(),
                format_bytes(p.kv_cache).c_str(), format_bytes(p.compute).c_str(), format_bytes(p.runtime).c_str(),
                format_bytes(p.total()).c_str(), r.cache_type.c_str(), format_bytes(p.kv_k).c_str(), format_bytes(p.kv_v).c_str());
  }
  const std::string kv_flags = r.cache_type_k == r.cache_type_v ? "--cache-type " + r.cache_type_k
                                                                : "--cache-type-k " + r.cache_type_k + " --cache-type-v " + r.cache_type_v;
  std::printf("settings --threads %d --ctx %d --batch %d %s --parallel %d (backend %s)\n", r.threads, r.ctx, r.batch,
              kv_flags.c_str(), r.parallel, r.backend.c_str());
  std::printf("expected decode ~%.0f tok/s at %d tokens of context (%s; %.1f GB/s %s), prefill ~%.0f tok/s\n",
              r.expected_decode_tps, r.decode_depth, r.decode_model.c_str(), r.bandwidth_gbs,
              r.bandwidth_measured ? "measured" : "assumed by the profile; --probe measures it", r.expected_prefill_tps);
  if (!m.matvec_gbs.empty()) {
    std::string rates;
    for (const auto& [shape, gbs] : m.matvec_gbs) rates += fmt::format("{}{} {:.1f} GB/s", rates.empty() ? "" : ", ", lp::hw::to_string(shape), gbs);
    std::printf("probe    matvec (one token, %d threads): %s\n", r.threads, rates.c_str());
  }
  for (const auto& n : r.notes) std::printf("note     %s\n", n.c_str());
  if (!r.fits) {
    std::printf("DOES NOT FIT: needs %s, %s usable\n", format_bytes(r.memory.total()).c_str(), format_bytes(r.usable_memory).c_str());
    for (const auto& d : r.downgrades) std::printf("fits     %s\n", d.c_str());
    return 3;
  }
  return 0;
}

lp::app::RegisterCommand reg{{"config", "Memory plan and recommended settings (threads, ctx, KV type, slots) for a model here",
                              [](CLI::App& sub) {
                                auto o = std::make_shared<ConfigOptions>();
                                sub.add_option("-m,--model", o->model, "GGUF file, pipeline output folder (manifest.json), HF or MLX folder")
                                    ->required();
                                sub.add_option("-c,--ctx,--ctx-size", o->ctx, "context length to plan for (0: the profile's default)");
                                sub.add_option("--parallel", o->parallel, "sequences served at once, each with its own KV (default 1; the profile's suggestion for serve is a note)");
                                const auto kv_types = CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0"});
                                sub.add_option("--cache-type", o->cache_type,
                                               "KV cache type (K and V) to plan for: f32, f16, bf16, q8_0, q4_0 (default: the profile's)")
                                    ->check(kv_types);
                                sub.add_option("--cache-type-k", o->cache_type_k, "KV cache type of K (default: --cache-type)")->check(kv_types);
                                sub.add_option("--cache-type-v", o->cache_type_v, "KV cache type of V (default: --cache-type)")->check(kv_types);
                                sub.add_option("-b,--batch,--batch-size", o->batch, "prompt tokens per forward pass (0: the profile's)");
                                lp::app::add_threads(sub, o->threads);
                                sub.add_option("--depth", o->depth,
                                               "tokens already in the context when decoding, for the decode estimate (default: half of --ctx)")
                                    ->check(CLI::NonNegativeNumber);
                                sub.add_flag("--probe", o->probe,
                                             "measure the read bandwidth and our decode kernel's rate for each weight type of the model, "
                                             "for the speed estimate (a second or two)");
                                sub.add_option("--root", o->root, "plan for a recorded machine snapshot under this folder")
                                    ->check(CLI::ExistingDirectory);
                                sub.add_flag("--json", o->json, "machine-readable output");
                                sub.footer("Exit status 3 when the configuration does not fit the usable memory (the output says what does).");
                                return [o] { return run(*o); };
                              }}};

}  // namespace
