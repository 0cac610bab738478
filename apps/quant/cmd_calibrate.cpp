// llama-pajamas-quant calibrate MODEL --calibration DIR|FILE --output imatrix.gguf [--expert-balanced]
#include <cstdio>
#include <nlohmann/json.hpp>

#include "calib/calibrate.h"
#include "common/command.h"
#include "core/atomic_file.h"
#include "core/error.h"

namespace {

struct CalibrateArgs {
  std::string model, output = "imatrix.gguf";
  std::vector<std::string> calibration;
  int ctx = 512, chunks = 0, threads = 0;
  int64_t min_expert_tokens = 64;
  uint64_t seed = 42;
  bool legacy = false, json = false, quiet = false, expert_balanced = false;
};

int run_calibrate(const CalibrateArgs& a) {
  using namespace lp;
  calib::CalibrateOptions o;
  o.model = a.model;
  o.inputs = a.calibration;
  o.ctx = a.ctx;
  o.chunks = a.chunks;
  o.threads = a.threads;
  o.min_expert_tokens = a.min_expert_tokens;
  o.expert_balanced = a.expert_balanced;
  o.seed = a.seed;
  o.progress = !a.quiet && !a.json;
  calib::CalibrateResult r = calib::calibrate(o);
  if (a.legacy) r.imatrix.save_legacy(a.output);
  else r.imatrix.save_gguf(a.output);
  // MoE: the coverage (and balance) report next to the imatrix, for the planner and for people.
  std::string coverage_file;
  if (!r.coverage.empty()) {
    coverage_file = calib::coverage_path_for(a.output);
    AtomicFile f(coverage_file);
    f.write(calib::coverage_report_json(r).dump(2) + "\n");
    f.commit();
  }
  if (a.json) {
    nlohmann::ordered_json j = {{"output", a.output}, {"format", a.legacy ? "dat" : "gguf"}, {"chunks", r.chunks},
                                {"ctx", a.ctx}, {"tokens", r.tokens}, {"tensors", r.imatrix.entries.size()},
                                {"seconds", r.seconds}, {"notes", r.notes}};
    if (!r.coverage.empty()) {
      j["coverage_file"] = coverage_file;
      j["expert_coverage"] = calib::coverage_report_json(r);
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    if (r.balance) std::printf("%s", r.balance->render(r.candidates).c_str());
    std::printf("%s", r.coverage.render().c_str());
    for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
    std::printf("imatrix: %zu tensors, %d chunks of %d tokens (%lld tokens) in %.1f s -> %s\n", r.imatrix.entries.size(),
                r.chunks, a.ctx, static_cast<long long>(r.tokens), r.seconds, a.output.c_str());
    if (!coverage_file.empty()) std::printf("expert coverage -> %s\n", coverage_file.c_str());
  }
  return 0;
}

lp::app::RegisterCommand reg{{"calibrate", "Compute an importance matrix (llama.cpp imatrix format) with our engine",
                              [](CLI::App& sub) {
                                auto a = std::make_shared<CalibrateArgs>();
                                sub.add_option("model", a->model, "Hugging Face checkpoint folder (or a .gguf)")->required();
                                sub.add_option("--calibration", a->calibration,
                                               "Text file(s), folder(s) of .txt files, a build-calibration folder, or builtin (the project's own samples)")
                                    ->required();
                                sub.add_option("--output,-o", a->output, "imatrix file to write")->capture_default_str();
                                sub.add_option("-c,--ctx", a->ctx, "Tokens per chunk")->capture_default_str();
                                sub.add_option("--chunks", a->chunks, "Chunks to process (0: all full chunks)")->capture_default_str();
                                lp::app::add_threads(sub, a->threads);
                                sub.add_flag("--expert-balanced", a->expert_balanced,
                                             "MoE: profile built-in + given samples and oversample those reaching rare experts");
                                sub.add_option("--min-expert-tokens", a->min_expert_tokens,
                                               "MoE: tokens an expert needs to count as covered (report, balancer, shrinkage)")
                                    ->capture_default_str();
                                sub.add_option("--seed", a->seed, "Seed of the expert-balanced selection")->capture_default_str();
                                sub.add_flag("--legacy-format", a->legacy, "Write llama.cpp's legacy .dat format");
                                lp::app::add_quiet(sub, a->quiet);
                                sub.add_flag("--json", a->json, "Machine-readable summary");
                                return [a] { return run_calibrate(*a); };
                              }}};

}  // namespace
