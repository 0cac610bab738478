// The row transforms of GgufTensorRecipe that compute values (rope factors) or move rows (q/k permute), written
// once for the converter and the engine's folder loader.
#include <cmath>
#include <numbers>

#include "arch/arch.h"

namespace lp::arch {

std::vector<float> llama3_rope_factors(const HParams& hp) {
  // Per rotary frequency, a divisor that stretches low frequencies by `factor` and blends the middle band.
  const auto& r = hp.rope;
  const double base = hp.rope_theta;
  const int dim = hp.head_dim;
  const double factor = r.factor, low = r.low_freq_factor ? r.low_freq_factor : 1.0,
               high = r.high_freq_factor ? r.high_freq_factor : 4.0;
  const double old_ctx = r.original_max_position ? static_cast<double>(r.original_max_position) : 8192.0;
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(base, static_cast<double>(i) / dim);
    const double wavelen = 2 * std::numbers::pi / freq;
    double f;
    if (wavelen < high_wavelen) f = 1;
    else if (wavelen > low_wavelen) f = factor;
    else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      f = 1 / ((1 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

int64_t permute_qk_source_row(int64_t r, int64_t rows_per_head) {
  // HF keeps each head as [2, hd/2] (rotate-half), llama.cpp's converter as [hd/2, 2]: out row j of a head reads
  // HF row (j % 2) * hd/2 + j / 2 (LlamaModel.permute in convert_hf_to_gguf).
  const int64_t hd = rows_per_head, h = r / hd, j = r % hd;
  return h * hd + (j % 2) * (hd / 2) + j / 2;
}

}  // namespace lp::arch
