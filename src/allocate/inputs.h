// Where importance (and, for measured sensitivity, calibration text) comes from for `convert` and `plan`:
// an imatrix file (`--imatrix`, checked against the model so one from another model is refused) or
// calibration text run through our engine right now (`--calibration`, calib::calibrate). Both given: the
// imatrix file weighs quantization and the text only feeds measured sensitivity.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "allocate/sensitivity.h"
#include "calib/imatrix.h"
#include "convert/source_model.h"

namespace lp::allocate {

struct ImportanceRequest {
  std::string model;                     // HF checkpoint folder
  std::string imatrix_path;              // --imatrix
  std::vector<std::string> calibration;  // --calibration DIR|FILE (repeatable)
  int calibration_ctx = 512;
  int calibration_chunks = 0;            // 0: every full chunk
  bool expert_balanced = false;          // MoE: balanced calibration set (calib)
  int threads = 0;
  bool progress = true;
};

struct ImportanceSource {
  std::shared_ptr<calib::Imatrix> imatrix;  // null: no importance
  std::string calibration_text;             // the text, when --calibration was given
  std::vector<std::string> warnings;        // coverage gaps, notes
  ImportanceFn importance() const;          // empty without an imatrix
  // Share of routed tokens of one expert of a stacked tensor, relative to the tensor's mean (1 = average).
  std::function<double(const std::string&, int)> expert_usage() const;
};

// An imatrix from another model fails in check_imatrix; too little text for --calibration-chunks fails in calibrate.
ImportanceSource load_importance(const convert::SourceModel& src, const ImportanceRequest& request);

}  // namespace lp::allocate
