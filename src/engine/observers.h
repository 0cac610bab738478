// Hooks through which the pipeline watches the engine run: calibration (importance matrix, expert
// coverage) and validation (router agreement, expert-usage correlation). Observers belong to one engine
// Context (Context::set_observers, or engine::set_observers on a Runtime): only that context's forward
// passes report to them, so several contexts in one process (one per sequence, on one thread or many)
// never see each other's events. An empty function disables a hook; unset hooks cost one branch per matmul.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace lp {
class Runtime;
}

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

struct Observers {
  ActivationObserver activation;
  RoutingObserver routing;
};

// The observers of the forward pass running on this thread: Context::eval installs its context's
// observers for the duration of the call, and matmul()/moe_ffn() report to them. Events are raised on
// the thread that called eval (never on the kernels' worker threads). Scopes nest; the destructor
// restores the enclosing scope's observers.
class ObserverScope {
 public:
  explicit ObserverScope(const Observers* observers);  // nullptr: no observers in this scope
  ~ObserverScope();
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;

 private:
  const Observers* previous_;
};
// The observers in scope on this thread (nullptr when none).
const Observers* current_observers();

// Installs observers on a Runtime's context, replacing any previous ones ({} removes them): how the
// pipeline watches a Runtime it opened (calibration, validation). Defined in runtime.cpp.
void set_observers(Runtime& runtime, Observers observers);

}  // namespace lp::engine
