// The one path `plan`, `convert` and the Python bindings take from their importance / `--precision auto` settings to
// importance weights and, for auto, the allocator's per-tensor types (moved out of the quant app's flag header, which
// now only declares the flags).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "allocate/allocate.h"
#include "allocate/inputs.h"
#include "convert/convert.h"
#include "plan/recipe.h"

namespace lp::allocate {

// --imatrix, --calibration*, --expert-balanced, --target-bpw / --target-size, --sensitivity* as given.
struct AutoSettings {
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

// Importance for quantization plus, with `--precision auto`, the allocator's per-tensor types.
struct PrecisionInputs {
  ImportanceSource importance;
  std::optional<Allocation> allocation;
  uint64_t file_budget = 0;          // --target-size in bytes (0: budget given as --target-bpw)
  convert::GgufOverhead overhead;    // taken off file_budget before allocating tensor bytes
};

// Contradictory or incomplete settings (a target without auto, auto without a target, both targets) fail with
// the flag names.
PrecisionInputs resolve_inputs(const std::string& model, const convert::SourceModel& src, const AutoSettings& f,
                               const plan::PrecisionChoice& choice, bool gguf_auto, int threads, bool progress);

}  // namespace lp::allocate
