// Mixture-of-experts FFN (mixtral, qwen3moe, gpt-oss), following llama.cpp's build_moe_ffn:
//   logits = router * x (+ bias); pick k experts; weights per llama.cpp's gating function; optional
//   renormalisation and scale; out = sum over the k slots, in slot order, of weight * expert(x).
// Prefill groups tokens by expert (gather the rows routed to e, one matmul per expert and weight, scatter);
// decode reads only the k chosen experts' rows.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/model.h"

namespace lp::engine {

struct RouterConfig {
  int n_expert = 0, k = 0;
  MoeGating gating = MoeGating::Softmax;
  bool normalize = false;  // divide the k weights by their sum (clamped like llama.cpp)
  float scale = 0.0f;      // 0 or 1: none
};

// One token: logits[n_expert] -> selected[k] (highest first; ties to the lower id) and weights[k].
void route_token(const float* logits, const RouterConfig& cfg, int32_t* selected, float* weights);

// Scratch reused across layers and calls (sized on first use).
struct MoeScratch {
  std::vector<float> logits, weights, gathered, gate, up, down, slots, shared_gate, shared_up;
  std::vector<int32_t> selected;
  std::vector<int32_t> order;  // (token*k + slot) ids grouped by expert
};

// out[t] = MoE(xn[t]) for n tokens of hp.n_embd floats. Reports routing and per-expert activations to
// the observers (engine/observers.h).
void moe_ffn(const HParams& hp, const LayerDesc& L, int layer, const float* xn, int n, float* out, MoeScratch& s, int threads);

}  // namespace lp::engine
