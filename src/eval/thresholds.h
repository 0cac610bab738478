// PASS/FAIL gates per precision class (nominal bit width), set from what correct quantizations measure on the
// trained fixtures with a margin (docs/VALIDATION.md, "Gates"). Flags and recipes override them.
#pragma once
#include <optional>
#include <string>

namespace lp::eval {

struct Gate {
  double max_ppl_increase = 0;  // fraction: 0.05 = +5%
  double max_kld_mean = 0;      // nats
  // MoE only (issue #7 defaults): expert activation correlation and router top-k agreement must exceed these.
  double min_expert_correlation = 0.95;
  double min_router_agreement = 0.95;  // fraction
};

// Nominal bits of a precision name: "Q4_K_M" -> 4, "IQ4_XS" -> 4, "Q8_0" -> 8, "MXFP4_MOE" -> 4, "F16" -> 16,
// "4bit-mixed" -> 4. nullopt when the name says nothing recognisable.
std::optional<int> nominal_bits(const std::string& precision);

Gate default_gate(const std::string& precision);

struct GateOverrides {
  std::optional<double> max_ppl_increase, max_kld_mean, min_expert_correlation, min_router_agreement;
};
Gate resolve_gate(const std::string& precision, const GateOverrides& overrides);

}  // namespace lp::eval
