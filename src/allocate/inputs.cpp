#include "allocate/inputs.h"

#include <map>
#include <numeric>

#include "calib/calibrate.h"
#include "calib/dataset.h"
#include "core/error.h"

namespace lp::allocate {

ImportanceFn ImportanceSource::importance() const {
  if (!imatrix) return {};
  return [im = imatrix](const std::string& name, int expert, int64_t n_per_row) { return im->importance(name, expert, n_per_row); };
}

std::function<double(const std::string&, int)> ImportanceSource::expert_usage() const {
  if (!imatrix) return {};
  return [im = imatrix](const std::string& name, int expert) {
    auto it = im->entries.find(name);
    if (it == im->entries.end() || it->second.n_mat() <= 1 || expert >= it->second.n_mat()) return 1.0;
    const auto& counts = it->second.counts;
    const double total = static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
    if (total <= 0) return 1.0;
    return static_cast<double>(counts[static_cast<size_t>(expert)]) * static_cast<double>(counts.size()) / total;
  };
}

ImportanceSource load_importance(const convert::SourceModel& src, const ImportanceRequest& request) {
  ImportanceSource s;
  ImportanceRequest r = request;
  // `--expert-balanced` alone (issue #7's command line) calibrates inline on the built-in material.
  if (r.expert_balanced && r.calibration.empty() && r.imatrix_path.empty()) {
    r.calibration = {calib::kBuiltinCalibration};
    s.warnings.push_back("--expert-balanced without --calibration: calibrating on the built-in calibration set");
  }
  // Both given: the imatrix file weighs quantization, the text only feeds measured sensitivity.
  if (!r.calibration.empty() && r.imatrix_path.empty()) {
    calib::CalibrateOptions co;
    co.model = r.model;
    co.inputs = r.calibration;
    co.ctx = r.calibration_ctx;
    co.chunks = r.calibration_chunks;
    co.threads = r.threads;
    co.progress = r.progress;
    co.expert_balanced = r.expert_balanced;
    calib::CalibrateResult cr = calib::calibrate(co);
    s.warnings.insert(s.warnings.end(), cr.notes.begin(), cr.notes.end());
    s.imatrix = std::make_shared<calib::Imatrix>(std::move(cr.imatrix));
    s.calibration_text = calib::read_calibration_text(r.calibration);
    return s;
  }
  if (!r.calibration.empty()) s.calibration_text = calib::read_calibration_text(r.calibration);
  if (r.expert_balanced)
    s.warnings.push_back("--expert-balanced is ignored with --imatrix (the imatrix file is used as is)");
  if (r.imatrix_path.empty()) return s;
  // Checked against the model's weight matrices before anything is written.
  s.imatrix = std::make_shared<calib::Imatrix>(calib::Imatrix::load(r.imatrix_path));
  std::map<std::string, calib::WeightShape> weights;
  for (const auto& t : src.gguf)
    if (arch::role_is_matrix(t.role) && !t.is_bias && t.ne.size() >= 2 && t.role != arch::Role::Router)
      weights[t.gguf_name] = {t.ne[0], t.ne.size() > 2 ? t.ne[2] : 1};
  calib::ImatrixCoverage cov = calib::check_imatrix(*s.imatrix, weights, r.imatrix_path);
  for (const auto& m : cov.missing) s.warnings.push_back("imatrix: no data for " + m + ": quantized without importance weights");
  for (const auto& x : cov.uncovered_experts)
    s.warnings.push_back("imatrix: " + x + " saw no calibration tokens: uniform importance (as llama.cpp)");
  return s;
}

}  // namespace lp::allocate
