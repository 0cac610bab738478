// Architecture priors for bit allocation (src/allocate): multipliers on a tensor's predicted loss that carry
// knowledge a short calibration run cannot see, or that a cheap error proxy misses. Kept here as data so
// every factor is explainable; `allocate` multiplies, it does not decide.
//
// Two kinds of evidence use them differently:
//  - measured sensitivity (KLD on calibration chunks with only that tensor lowered) already sees how much
//    each tensor matters on that text, so only priors about what the text cannot show apply (long-range
//    context of full-attention layers among sliding ones, shared experts on out-of-calibration tokens);
//  - the proxy (imatrix-weighted quantization error) sees only the tensor's own output error, so priors for
//    how errors propagate (attn_v, ffn_down, first/last layers, GQA fan-out, the output projection) apply too.
#pragma once
#include <string>
#include <vector>

#include "arch/arch.h"

namespace lp::plan {

struct PriorFactor {
  std::string id;   // "prior:global_attention"
  double factor = 1;
  std::string why;  // one sentence
};

struct SensitivityPrior {
  double factor = 1;                // product of the factors
  std::vector<PriorFactor> applied;
  std::string summary() const;      // "prior:attn_v x1.5, prior:first_last x1.25" (empty when none)
};

// `measured`: the loss comes from a measurement (fewer priors apply, see above).
SensitivityPrior sensitivity_prior(const arch::HParams& hp, const arch::GgufTensorRecipe& t, bool measured);

}  // namespace lp::plan
