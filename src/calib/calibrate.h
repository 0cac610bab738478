// `llama-pajamas-quant calibrate`: runs the original model through our engine over calibration text and
// accumulates, for every matmul weight, the per-input-column sum of squared activations and token counts
// (llama.cpp's imatrix), per expert for MoE weights. The original checkpoint is first exported losslessly
// (F32 GGUF) to a temporary folder, so the engine sees exactly the original weights.
// For MoE models it also reports expert coverage (tokens routed to each expert, per layer) and, with
// `expert_balanced`, first profiles a candidate pool and builds a calibration set that reaches rare experts.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "calib/balance.h"
#include "calib/coverage.h"
#include "calib/imatrix.h"
#include "engine/observers.h"

namespace lp::calib {

struct CalibrateOptions {
  std::string model;                  // HF checkpoint folder (or a .gguf, used as is)
  std::vector<std::string> inputs;    // text files, or folders of .txt files
  int ctx = 512;                      // tokens per chunk (llama-imatrix -c)
  int chunks = 0;                     // 0 = every full chunk of the text
  int threads = 0;
  bool progress = true;
  // MoE: an expert routed fewer tokens than this is "under threshold" in the coverage report, the balancer's
  // target, and the point below which importance is shrunk toward the layer's other experts (shrinkage.h).
  int64_t min_expert_tokens = 64;
  // Profile every built-in calibration sample plus `inputs` (each sample separately), then select samples
  // greedily until every expert reaches min_expert_tokens (or no candidate helps), within chunks x ctx tokens.
  // A dense model: a note in CalibrateResult::notes, plain calibration.
  bool expert_balanced = false;
  uint64_t seed = 42;                 // tie-breaking and fill order of the balanced set
};

struct CalibrateResult {
  Imatrix imatrix;
  int chunks = 0;
  int64_t tokens = 0;
  double seconds = 0;
  ExpertCoverage coverage;             // empty (no layers) for dense models
  std::optional<BalanceReport> balance;  // with expert_balanced on a MoE model
  std::vector<BalanceCandidate> candidates;  // the profiled pool the balance report indexes
  std::vector<std::string> notes;      // user-facing remarks (e.g. "not a MoE model: nothing to balance")
};

// Errors: no text, or text shorter than one chunk ("calibration set too small for --chunks N: M tokens, need ...").
CalibrateResult calibrate(const CalibrateOptions& options);

// The engine observers calibrate() installs on its model's context: every matmul's input accumulates into
// `imatrix` (per expert for stacked MoE weights), every MoE routing decision into `coverage.routed`.
engine::Observers calibration_observers(Imatrix& imatrix, ExpertCoverage& coverage);

// Concatenated calibration text (load_calibration on each input: a build-calibration folder's train split,
// .txt/.jsonl files, or folders of them), samples separated by a blank line.
std::string read_calibration_text(const std::vector<std::string>& inputs);

// The coverage report stored next to the imatrix: ExpertCoverage::to_json() plus "expert_balanced" (the
// balance report: chosen samples, deficits, unreachable experts) and "notes".
nlohmann::ordered_json coverage_report_json(const CalibrateResult& result);

// Where `calibrate` stores the coverage report next to an imatrix: "x/imatrix.gguf" -> "x/imatrix.coverage.json".
std::string coverage_path_for(const std::string& imatrix_path);

}  // namespace lp::calib
