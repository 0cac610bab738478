// `--precision auto`: per-tensor GGUF types that minimise the predicted loss under a byte budget.
//   1. the base plan (Q4_K_M rules, user overrides) fixes what the allocator must not touch: tensors never
//      quantized (norms, biases, routers), user choices (--tensor-type, --output-tensor-type, recipe), and
//      with architecture rules native MXFP4 experts (kept bit-exact);
//   2. every other tensor gets its candidate types (candidates.h) and a loss per type (sensitivity.h),
//      multiplied by the architecture priors (plan/priors.h) when architecture-aware;
//   3. solver.h picks the types: least summed loss within the budget.
// Budgets count tensor data (what `plan` reports as total); the file adds metadata and the vocabulary.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "allocate/sensitivity.h"
#include "convert/source_model.h"
#include "plan/gguf_plan.h"

namespace lp::allocate {

// Measured: one KLD measurement per tensor at Q4_K (its scale) times the proxy's curve across types (its
// shape); MeasuredAll: a KLD measurement per tensor and type (7x the forward passes); Proxy: the error alone.
enum class Estimator { Auto, Measured, MeasuredAll, Proxy };
Estimator estimator_from_name(const std::string& name);  // "auto" | "measured" | "measured-all" | "proxy"

struct AllocateOptions {
  std::optional<double> target_bpw;     // bits per weight over all tensors
  std::optional<uint64_t> target_bytes; // tensor bytes (one of the two is required)
  Estimator estimator = Estimator::Auto;
  // Auto measures when calibration text is given and the model has at most this many parameters.
  uint64_t measured_max_params = 200'000'000;
  SensitivityOptions sensitivity;       // model, text, chunks, importance, ...
};

struct Allocation {
  std::map<std::string, plan::AssignedType> assigned;  // feed to GgufPlanOptions::assigned
  std::string estimator;                               // "measured" | "proxy"
  std::string label;                                   // "AUTO-4.50BPW"
  uint64_t budget_bytes = 0;
  uint64_t bytes = 0;                                   // tensor bytes of the chosen plan
  double predicted_loss = 0;
};

Allocation allocate(const convert::SourceModel& src, const plan::GgufPlanOptions& base, const AllocateOptions& options);

}  // namespace lp::allocate
