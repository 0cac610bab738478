#include "plan/priors.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace lp::plan {
namespace {

using arch::Role;

struct Context {
  const arch::HParams& hp;
  const arch::GgufTensorRecipe& t;
  bool mixed_attention = false;  // some layers slide, some attend to everything
};

// One row per prior: when it applies, its factor for proxy and for measured losses, and why.
struct PriorRow {
  const char* id;
  bool (*applies)(const Context&);
  double proxy_factor;
  double measured_factor;
  const char* why;
};

bool is_attention_matrix(Role r) { return r == Role::AttnQ || r == Role::AttnK || r == Role::AttnV || r == Role::AttnO; }
bool is_down(Role r) { return r == Role::FfnDown || r == Role::ExpertDown || r == Role::SharedExpertDown; }
bool first_or_last(const Context& c) {
  return c.t.layer >= 0 && (c.t.layer == 0 || c.t.layer == c.hp.n_layer - 1);
}

const PriorRow kPriors[] = {
    {"prior:global_attention",
     [](const Context& c) {
       return c.mixed_attention && is_attention_matrix(c.t.role) && c.t.layer >= 0 &&
              c.t.layer < static_cast<int>(c.hp.layers.size()) && !c.hp.layers[c.t.layer].sliding;
     },
     2.0, 2.0,
     "full-attention layer among sliding-window ones: it alone carries context longer than the window, which "
     "short calibration chunks under-exercise"},
    {"prior:shared_expert", [](const Context& c) { return arch::role_is_shared_expert(c.t.role); }, 2.0, 1.5,
     "shared expert runs for every token, including kinds of text the calibration set lacks"},
    {"prior:attn_v", [](const Context& c) { return c.t.role == Role::AttnV; }, 1.5, 1.0,
     "attn_v errors pass unattenuated into every attended position (llama.cpp raises it in every mix)"},
    {"prior:ffn_down", [](const Context& c) { return is_down(c.t.role); }, 1.5, 1.0,
     "ffn_down writes straight into the residual stream (llama.cpp raises it in every mix)"},
    {"prior:first_last", first_or_last, 1.25, 1.0,
     "first and last layers: errors there are amplified by (or not corrected by) every other layer"},
    {"prior:output", [](const Context& c) { return c.t.role == Role::Output; }, 2.0, 1.0,
     "output projection: its error lands directly on the logits"},
};

}  // namespace

std::string SensitivityPrior::summary() const {
  std::string s;
  for (const auto& f : applied) s += fmt::format("{}{} x{:g}", s.empty() ? "" : ", ", f.id, f.factor);
  return s;
}

SensitivityPrior sensitivity_prior(const arch::HParams& hp, const arch::GgufTensorRecipe& t, bool measured) {
  Context c{hp, t};
  c.mixed_attention = std::any_of(hp.layers.begin(), hp.layers.end(), [](const auto& k) { return k.sliding; }) &&
                      std::any_of(hp.layers.begin(), hp.layers.end(), [](const auto& k) { return !k.sliding; });
  SensitivityPrior p;
  for (const auto& row : kPriors) {
    const double f = measured ? row.measured_factor : row.proxy_factor;
    if (f == 1.0 || !row.applies(c)) continue;
    p.factor *= f;
    p.applied.push_back({row.id, f, row.why});
  }
  // GQA fan-out: an error in one k/v head reaches n_head/n_head_kv query heads; the proxy sees one head's error.
  const int n_gqa = hp.n_head_kv > 0 ? hp.n_head / hp.n_head_kv : 1;
  if (!measured && n_gqa > 1 && (t.role == Role::AttnK || t.role == Role::AttnV)) {
    const double f = std::sqrt(static_cast<double>(n_gqa));
    p.factor *= f;
    p.applied.push_back({"prior:gqa_fanout", f,
                         fmt::format("each k/v head serves {} query heads (factor sqrt({}))", n_gqa, n_gqa)});
  }
  return p;
}

}  // namespace lp::plan
