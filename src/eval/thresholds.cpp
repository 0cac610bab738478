#include "eval/thresholds.h"

#include <algorithm>
#include <cctype>

namespace lp::eval {

std::optional<int> nominal_bits(const std::string& precision) {
  std::string p = precision;
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (p == "F32") return 32;
  if (p == "F16" || p == "BF16") return 16;
  if (p.starts_with("MXFP4")) return 4;
  // "Q4_K_M", "IQ4_XS", "TQ2_0": the first digit after Q; MLX "4BIT-MIXED": the leading digits.
  size_t q = p.find('Q');
  if (q != std::string::npos && q + 1 < p.size() && std::isdigit(static_cast<unsigned char>(p[q + 1]))) return p[q + 1] - '0';
  if (!p.empty() && std::isdigit(static_cast<unsigned char>(p[0])) && p.find("BIT") != std::string::npos) return std::stoi(p);
  return std::nullopt;
}

Gate default_gate(const std::string& precision) {
  const int bits = nominal_bits(precision).value_or(4);
  // Per precision class, from what correct quantizations measure on the trained fixtures (docs/VALIDATION.md,
  // "Gates"): mean-KLD ceilings are about 4x the largest mean KLD measured at that width on any fixture, ΔPPL
  // ceilings at least 3x the largest ΔPPL, floored at 0.25% (16 chunks of noise). A sound quantization passes
  // with room; one broken tensor (KLD in the hundredths) fails at every width but 2-bit.
  const auto gate = [](double ppl, double kld) {
    Gate g;
    g.max_ppl_increase = ppl;
    g.max_kld_mean = kld;
    return g;
  };
  if (bits >= 16) return gate(0.0025, 0.0001);
  if (bits >= 8) return gate(0.0025, 0.0004);
  if (bits >= 6) return gate(0.005, 0.0016);
  if (bits == 5) return gate(0.0075, 0.0021);
  if (bits == 4) return gate(0.01, 0.009);
  if (bits == 3) return gate(0.02, 0.014);
  return gate(0.05, 0.035);
}

Gate resolve_gate(const std::string& precision, const GateOverrides& o) {
  Gate g = default_gate(precision);
  if (o.max_ppl_increase) g.max_ppl_increase = *o.max_ppl_increase;
  if (o.max_kld_mean) g.max_kld_mean = *o.max_kld_mean;
  if (o.min_expert_correlation) g.min_expert_correlation = *o.min_expert_correlation;
  if (o.min_router_agreement) g.min_router_agreement = *o.min_router_agreement;
  return g;
}

}  // namespace lp::eval
