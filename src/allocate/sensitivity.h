// How much a tensor's precision matters, per candidate type. Two estimators:
//
// measured (small models): the mean KL divergence of the next-token distribution, over a few calibration
//   chunks, between the original model and the model with ONLY that tensor quantized to the type (then
//   dequantized into an F32 copy; every other tensor untouched), run through our engine. Quantizing into F32
//   (instead of storing the block type) gives the same values the quantized kernels see, needs no engine
//   support per type, and lets one in-memory GgufView variant per (tensor, type) share every other tensor
//   with the original by pointer. Cost: one forward pass over the chunks per (tensor, type).
// proxy (large models, or no calibration text): the imatrix-weighted squared quantization error,
//   sum over rows and columns of importance[col] * (w - q(w))^2 -- the expected squared change of the
//   matmul's output for activations with the imatrix's second moments. Units differ from KLD; the solver
//   compares tensors of one model with one estimator, so a global scale does not change the allocation.
//
// Both use the same quantizer with the same importance as the conversion will, so they see its real error.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ggml_type.h"

namespace lp::allocate {

// (GGUF tensor name, expert, n_per_row) -> importance weights, as convert takes them.
using ImportanceFn = std::function<std::optional<std::vector<float>>(const std::string&, int, int64_t)>;

// loss[tensor][type]
using LossTable = std::map<std::string, std::map<GgmlType, double>>;

struct SensitivityOptions {
  std::string model;         // HF checkpoint folder (or a .gguf with float weights)
  std::string text;          // calibration text (measured only)
  int ctx = 256;             // tokens per chunk; the second half of each chunk is scored (llama-perplexity)
  int chunks = 4;
  int threads = 0;
  ImportanceFn importance;   // may be empty: uniform importance
  // Proxy, stacked MoE experts: each expert slice's error is weighted by its share of routed tokens (from the
  // calibration's routing counts; 1 = average use) so rarely used experts cost less. Empty: all 1.
  std::function<double(const std::string& name, int expert)> expert_usage;
  bool progress = true;
};

// candidates: tensor name -> types to try.
LossTable measure_kld(const SensitivityOptions& options, const std::map<std::string, std::vector<GgmlType>>& candidates);
LossTable proxy_error(const SensitivityOptions& options, const std::map<std::string, std::vector<GgmlType>>& candidates);

}  // namespace lp::allocate
