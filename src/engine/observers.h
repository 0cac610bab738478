// Hooks through which the pipeline watches the engine run: calibration (importance matrix, expert
// coverage) and validation (router agreement, expert-usage correlation). Process-wide and not for
// concurrent sessions; an empty function disables a hook. They cost one branch per matmul when unset.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace lp::engine {

// Every weight matmul reports its input activations before multiplying: `weight` is the GGUF tensor
// name ("blk.0.attn_q.weight", "blk.3.ffn_down_exps.weight"); for stacked MoE expert weights `expert` is
// the expert index and `n_expert` the stack size, and x holds only the rows routed to that expert;
// dense weights report expert 0 of 1.
struct ActivationEvent {
  const std::string& weight;
  int expert = 0;
  int n_expert = 1;
  const float* x = nullptr;  // n_tokens rows of `cols` floats
  int n_tokens = 0;
  int64_t cols = 0;
};
using ActivationObserver = std::function<void(const ActivationEvent&)>;
void set_activation_observer(ActivationObserver observer);

// Every MoE layer reports its routing decision for a batch: for token t, selected[t*k .. t*k+k) are the
// chosen expert ids (in the router's order, highest weight first) and weights[...] their mixing weights.
struct RoutingEvent {
  int layer = 0;
  int n_tokens = 0;
  int n_expert = 0;
  int k = 0;
  const int32_t* selected = nullptr;  // n_tokens * k
  const float* weights = nullptr;     // n_tokens * k
};
using RoutingObserver = std::function<void(const RoutingEvent&)>;
void set_routing_observer(RoutingObserver observer);
// The current observers (empty when unset), for the forward pass.
const ActivationObserver& activation_observer();
const RoutingObserver& routing_observer();

}  // namespace lp::engine
