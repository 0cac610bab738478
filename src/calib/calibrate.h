// `llama-pajamas-quant calibrate`: runs the original model through our engine over calibration text and
// accumulates, for every matmul weight, the per-input-column sum of squared activations and token counts
// (llama.cpp's imatrix). The original checkpoint is first exported losslessly (F32 GGUF) to a temporary
// folder, so the engine sees exactly the original weights.
#pragma once
#include <string>
#include <vector>

#include "calib/imatrix.h"

namespace lp::calib {

struct CalibrateOptions {
  std::string model;                  // HF checkpoint folder (or a .gguf, used as is)
  std::vector<std::string> inputs;    // text files, or folders of .txt files
  int ctx = 512;                      // tokens per chunk (llama-imatrix -c)
  int chunks = 0;                     // 0 = every full chunk of the text
  int threads = 0;
  bool progress = true;
};

struct CalibrateResult {
  Imatrix imatrix;
  int chunks = 0;
  int64_t tokens = 0;
  double seconds = 0;
};

// Errors: no text, or text shorter than one chunk ("calibration set too small for --chunks N: M tokens, need ...").
CalibrateResult calibrate(const CalibrateOptions& options);

// Concatenated calibration text (load_calibration on each input: a build-calibration folder's train split,
// .txt/.jsonl files, or folders of them), samples separated by a blank line.
std::string read_calibration_text(const std::vector<std::string>& inputs);

}  // namespace lp::calib
