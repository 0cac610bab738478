// llama-pajamas-run bench: llama-bench style pp512 prefill and tg128 decode throughput from an empty
// context, plus load time and peak RSS.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/command.h"
#include "core/units.h"
#include "engine_cli.h"

namespace {

struct Opts : lp::app::EngineCli {
  int pp = 512, tg = 128, reps = 2;
  bool bandwidth = false;
  std::string artifact;  // manifest folder: bench only this artifact (precision name or path in the manifest)
};

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  return json::parse(in, nullptr, false);
}

// What is benchmarked: format and precision of a .gguf (from our metadata.json next to it), an MLX folder
// (metadata.json / config.json "quantization") or an HF folder (config.json torch_dtype). null when unknown.
struct Described {
  std::string path;
  json format = nullptr, precision = nullptr;
};

Described describe(const std::string& path) {
  Described d{path};
  const fs::path p(path);
  if (p.extension() == ".gguf") {
    d.format = "gguf";
    const json meta = read_json(p.parent_path() / "metadata.json");
    if (meta.is_object() && meta.contains("files"))
      for (const auto& f : meta["files"])
        if (f.value("file", "") == p.filename().string()) d.precision = f.value("precision", "");
    return d;
  }
  const json meta = read_json(p / "metadata.json");
  if (meta.is_object() && meta.value("format", "") == "mlx") {
    d.format = "mlx";
    d.precision = meta.value("precision", "");
    return d;
  }
  const json cfg = read_json(p / "config.json");
  if (cfg.is_object()) {
    if (cfg.contains("quantization") && cfg["quantization"].contains("bits")) {
      d.format = "mlx";
      d.precision = std::to_string(cfg["quantization"]["bits"].get<int>()) + "bit";
    } else {
      d.format = "safetensors";
      if (cfg.contains("torch_dtype") && cfg["torch_dtype"].is_string()) d.precision = cfg["torch_dtype"];
    }
  }
  return d;
}

// A manifest folder: every artifact it lists (GGUF and MLX), in manifest order; --artifact keeps one.
std::vector<Described> manifest_artifacts(const fs::path& dir, const std::string& pick) {
  const json m = read_json(dir / "manifest.json");
  if (!m.is_object() || !m.contains("formats")) lp::fail("{}: manifest.json has no 'formats' list", (dir / "manifest.json").string());
  std::vector<Described> out;
  std::string known;
  for (const auto& f : m["formats"]) {
    const std::string rel = f.value("path", ""), precision = f.value("precision", "");
    known += (known.empty() ? "" : ", ") + precision;
    if (!pick.empty() && pick != precision && pick != rel && fs::path(pick).filename() != fs::path(rel).filename()) continue;
    out.push_back({(dir / rel).string(), f.value("format", ""), precision});
  }
  if (out.empty()) lp::fail("--artifact '{}': not in {} (artifacts: {})", pick, (dir / "manifest.json").string(), known);
  return out;
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
  sub.add_option("--artifact", o->artifact,
                 "manifest folder: bench only this artifact (its precision, e.g. Q4_K_M or 4bit-mixed, or its path); "
                 "default: every artifact in turn");
  return [o]() {
    if (o->runtime.ctx < o->pp + o->tg) o->runtime.ctx = o->pp + o->tg;
    if (o->runtime.batch < o->pp) o->runtime.batch = o->pp;
    const bool folder = fs::is_directory(o->model) && fs::exists(fs::path(o->model) / "manifest.json");
    if (!o->artifact.empty() && !folder) lp::fail("--artifact needs --model to be a converted folder (manifest.json)");
    const std::vector<Described> targets = folder ? manifest_artifacts(o->model, o->artifact) : std::vector<Described>{describe(o->model)};
    // Measured once, shared by every artifact (it is a property of the machine).
    double bw = 0;  // 0: not measured (reported as null, never as 0)
    json results = json::array();
    for (const auto& t : targets) {
      lp::app::EngineCli one = *o;
      one.model = t.path;
      lp::Runtime rt = one.open();
      const lp::BenchmarkResult r = rt.benchmark(o->pp, o->tg, o->reps);
      if (o->bandwidth && bw <= 0) bw = lp::hw::probe_bandwidth(r.threads, 1ull << 30) * 1e9;  // 1 GiB, as before
      // Decode reads (about) every weight byte once per token.
      const double share = bw > 0 ? r.decode_tokens_per_second * static_cast<double>(r.model_bytes) / bw : 0.0;
      const lp::ModelInfo info = rt.info();
      if (o->json) {
        results.push_back({{"model", t.path},
                           {"format", t.format},
                           {"precision", t.precision},
                           {"architecture", info.architecture},
                           {"load_seconds", r.load_seconds},
                           {"prefill_tokens_per_second", r.prefill_tokens_per_second},
                           {"decode_tokens_per_second", r.decode_tokens_per_second},
                           {"peak_rss_bytes", r.peak_rss_bytes},
                           // the process's high-water mark: after the first artifact of a folder it includes the earlier ones
                           {"peak_rss_includes_earlier_artifacts", !results.empty()},
                           {"model_bytes", r.model_bytes},
                           {"threads", r.threads},
                           {"prompt_tokens", r.prompt_tokens},
                           {"gen_tokens", r.gen_tokens},
                           {"read_bandwidth_bytes_per_second", bw > 0 ? json(bw) : json(nullptr)},
                           {"decode_bandwidth_share", bw > 0 ? json(share) : json(nullptr)}});
      } else {
        const std::string fp = t.format.is_string() ? t.format.get<std::string>() + (t.precision.is_string() ? " " + t.precision.get<std::string>() : "") : "";
        std::printf("model    %s (%s%s%s, %s)\n", info.path.c_str(), info.architecture.c_str(), fp.empty() ? "" : ", ", fp.c_str(),
                    lp::format_bytes(r.model_bytes).c_str());
        std::printf("threads  %d\nload     %.3f s\n", r.threads, r.load_seconds);
        std::printf("pp%-5d  %.1f tok/s\ntg%-5d  %.1f tok/s\n", r.prompt_tokens, r.prefill_tokens_per_second, r.gen_tokens, r.decode_tokens_per_second);
        std::printf("peak RSS %s\n", lp::format_bytes(r.peak_rss_bytes).c_str());
        if (bw > 0) std::printf("memory   %.1f GB/s read; decode uses %.0f%% of it\n", bw / 1e9, 100 * share);
        if (targets.size() > 1) std::printf("\n");
        std::fflush(stdout);
      }
    }
    // One model: one object (as before); a manifest folder: {"model": DIR, "artifacts": [one object each]}.
    if (o->json) {
      const json out = folder ? json{{"model", o->model}, {"artifacts", results}} : results[0];
      std::printf("%s\n", out.dump(2).c_str());
    }
    return 0;
  };
}}};

}  // namespace
