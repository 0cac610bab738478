#include "allocate/precision_inputs.h"

#include "core/error.h"
#include "core/units.h"

namespace lp::allocate {

PrecisionInputs resolve_inputs(const std::string& model, const convert::SourceModel& src, const AutoSettings& f,
                               const plan::PrecisionChoice& choice, bool gguf_auto, int threads, bool progress) {
  if (f.wants_auto() && !gguf_auto) fail("--target-bpw / --target-size need --precision auto");
  if (f.target_bpw > 0 && !f.target_size.empty()) fail("--target-bpw and --target-size both given: use one");
  PrecisionInputs in;
  ImportanceRequest r;
  r.model = model;
  r.imatrix_path = f.imatrix;
  r.calibration = f.calibration;
  r.calibration_ctx = f.calibration_ctx;
  r.calibration_chunks = f.calibration_chunks;
  r.expert_balanced = f.expert_balanced;
  r.threads = threads;
  r.progress = progress;
  in.importance = load_importance(src, r);
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
  AllocateOptions ao;
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
  ao.estimator = estimator_from_name(f.sensitivity);
  ao.sensitivity.model = model;
  ao.sensitivity.text = in.importance.calibration_text;
  ao.sensitivity.ctx = f.sensitivity_ctx;
  ao.sensitivity.chunks = f.sensitivity_chunks;
  ao.sensitivity.threads = threads;
  ao.sensitivity.importance = in.importance.importance();
  ao.sensitivity.expert_usage = in.importance.expert_usage();
  ao.sensitivity.progress = progress;
  in.allocation = allocate(src, base, ao);
  return in;
}

}  // namespace lp::allocate
