// The flags `plan` and `convert` share (precision, recipe, overrides, importance, `--precision auto`). What they
// mean (importance, allocation) is pipeline code in allocate/precision_inputs.h, shared with the Python bindings.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "allocate/precision_inputs.h"
#include "plan/recipe.h"

namespace lp::app {

// The settings themselves live with the pipeline (allocate/precision_inputs.h); this header only declares flags.
using AutoFlags = allocate::AutoSettings;
using allocate::PrecisionInputs;
using allocate::resolve_inputs;

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

}  // namespace lp::app
