// The flags `plan` and `convert` share (precision, recipe, overrides, importance, `--precision auto`) and the
// one path both take from them to per-tensor types, so the two commands cannot drift apart.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "allocate/allocate.h"
#include "allocate/inputs.h"
#include "convert/convert.h"
#include "core/units.h"
#include "plan/recipe.h"

namespace lp::app {

struct AutoFlags {
  std::string imatrix;
  std::vector<std::string> calibration;
  int calibration_ctx = 512, calibration_chunks = 0;
  bool expert_balanced = false;
  double target_bpw = 0;
  std::string target_size;
  std::string sensitivity = "auto";
  int sensitivity_chunks = 4, sensitivity_ctx = 256;
  bool wants_auto() const { return target_bpw > 0 || !target_size.empty(); }
};

inline void add_precision_flags(CLI::App& sub, plan::PrecisionFlags& f) {
  sub.add_option("--tensor-type", f.tensor_types, "GGUF override REGEX=TYPE (repeatable, first match wins; always wins)");
  sub.add_option("--recipe", f.recipe, "Recipe file (YAML or JSON), see docs/PLAN.md");
  sub.add_option("--output-tensor-type", f.output_type, "GGUF type of output.weight");
  sub.add_option("--token-embedding-type", f.token_embedding_type, "GGUF type of token_embd.weight");
  sub.add_option("--embedding-bits", f.embedding_bits, "MLX mixed precision: bits of embeddings/lm_head")->capture_default_str();
  sub.add_flag("--architecture-aware", f.architecture_aware_flag, "Architecture rules on top of the preset (default)");
  sub.add_flag("--no-architecture-aware", f.no_architecture_aware, "Plain llama.cpp mix (the baseline for comparisons)");
}

inline void add_auto_flags(CLI::App& sub, AutoFlags& f) {
  sub.add_option("--imatrix", f.imatrix, "Importance matrix (llama.cpp imatrix.gguf or legacy .dat)");
  sub.add_option("--calibration", f.calibration,
                 "Calibration text (.txt/.jsonl files, folders, a build-calibration folder, or 'builtin'): computes the imatrix "
                 "now and feeds measured sensitivity");
  sub.add_option("--calibration-ctx", f.calibration_ctx, "Tokens per calibration chunk")->capture_default_str();
  sub.add_option("--calibration-chunks", f.calibration_chunks, "Calibration chunks (0: all)")->capture_default_str();
  sub.add_flag("--expert-balanced", f.expert_balanced, "MoE: calibrate on a set chosen to reach every expert");
  sub.add_option("--target-bpw", f.target_bpw, "--precision auto: bits-per-weight budget (e.g. 4.5)");
  sub.add_option("--target-size", f.target_size, "--precision auto: size of the whole GGUF file (4.7GB, 512MiB, bytes): header, vocabulary and padding count");
  sub.add_option("--sensitivity", f.sensitivity, "auto | measured (KLD per tensor, small models) | measured-all (KLD for every tensor x type pair, slowest) | proxy (imatrix error)")
      ->capture_default_str();
  sub.add_option("--sensitivity-chunks", f.sensitivity_chunks, "Calibration chunks per sensitivity measurement")->capture_default_str();
  sub.add_option("--sensitivity-ctx", f.sensitivity_ctx, "Tokens per sensitivity chunk")->capture_default_str();
}

// Importance for quantization plus, with `--precision auto`, the allocator's per-tensor types.
struct PrecisionInputs {
  allocate::ImportanceSource importance;
  std::optional<allocate::Allocation> allocation;
  uint64_t file_budget = 0;          // --target-size in bytes (0: budget given as --target-bpw)
  convert::GgufOverhead overhead;    // taken off file_budget before allocating tensor bytes
};

inline PrecisionInputs resolve_inputs(const std::string& model, const convert::SourceModel& src, const AutoFlags& f,
                                      const plan::PrecisionChoice& choice, bool gguf_auto, int threads, bool progress) {
  if (f.wants_auto() && !gguf_auto) fail("--target-bpw / --target-size need --precision auto");
  if (f.target_bpw > 0 && !f.target_size.empty()) fail("--target-bpw and --target-size both given: use one");
  PrecisionInputs in;
  allocate::ImportanceRequest r;
  r.model = model;
  r.imatrix_path = f.imatrix;
  r.calibration = f.calibration;
  r.calibration_ctx = f.calibration_ctx;
  r.calibration_chunks = f.calibration_chunks;
  r.expert_balanced = f.expert_balanced;
  r.threads = threads;
  r.progress = progress;
  in.importance = allocate::load_importance(src, r);
  if (!gguf_auto) return in;
  if (!f.wants_auto()) fail("--precision auto needs --target-bpw or --target-size");
  if (f.calibration.empty())
    in.importance.warnings.push_back(
        f.imatrix.empty()
            ? "--precision auto without --calibration: per-tensor sensitivity is the proxy (weight error) without an "
              "imatrix and the tensors are quantized without importance weights; pass --calibration builtin (or your own "
              "text) for measured sensitivity and an imatrix (README: what the fallback costs)"
            : "--precision auto without --calibration: per-tensor sensitivity is the proxy (imatrix-weighted error from "
              "--imatrix), not measured KLD; pass --calibration builtin (or your own text) to measure it");
  allocate::AllocateOptions ao;
  plan::GgufPlanOptions base = plan::gguf_plan_options(choice, plan::Preset::Q4_K_M);
  base.has_imatrix = in.importance.imatrix != nullptr;
  if (f.target_bpw > 0) {
    ao.target_bpw = f.target_bpw;
  } else {
    // --target-size bounds the whole file: the header (metadata, vocabulary, tensor infos) and the worst-case
    // alignment padding come off the budget before the allocator sees it.
    in.file_budget = parse_size(f.target_size, "--target-size");
    in.overhead = convert::gguf_overhead(src, plan::plan_gguf(src.hp, src.gguf, base));
    if (in.file_budget <= in.overhead.total())
      fail("--target-size {} bytes leaves nothing for tensors: the GGUF header and vocabulary alone take {} bytes",
           in.file_budget, in.overhead.total());
    ao.target_bytes = in.file_budget - in.overhead.total();
  }
  ao.estimator = allocate::estimator_from_name(f.sensitivity);
  ao.sensitivity.model = model;
  ao.sensitivity.text = in.importance.calibration_text;
  ao.sensitivity.ctx = f.sensitivity_ctx;
  ao.sensitivity.chunks = f.sensitivity_chunks;
  ao.sensitivity.threads = threads;
  ao.sensitivity.importance = in.importance.importance();
  ao.sensitivity.expert_usage = in.importance.expert_usage();
  ao.sensitivity.progress = progress;
  in.allocation = allocate::allocate(src, base, ao);
  return in;
}

}  // namespace lp::app
