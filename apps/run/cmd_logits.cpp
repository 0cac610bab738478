// llama-pajamas-run logits (hidden): next-token distributions for a token sequence, for peer tests
// against llama.cpp and for debugging. Prints the top-k (id, logit, log-prob) at every position.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "common/command.h"
#include "engine_cli.h"

namespace {

struct Opts : lp::app::EngineCli {
  std::string tokens;
  int top_k = 10;
};

lp::app::RegisterCommand reg{{"logits", "Print top-k next-token log-probs at every position (testing)", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 0);
  o->add_json(sub);
  sub.add_option("--tokens", o->tokens, "token ids, comma separated")->required();
  sub.add_option("--top-k", o->top_k, "entries per position")->capture_default_str();
  return [o]() {
    const auto toks = lp::app::parse_token_list(o->tokens);
    if (o->runtime.ctx == 0) o->runtime.ctx = std::max<int>(16, static_cast<int>(toks.size()));
    lp::Runtime rt = o->open();
    const auto logits = rt.evaluate(toks);
    const int V = rt.info().n_vocab;
    nlohmann::json positions = nlohmann::json::array();
    std::vector<int> idx(V);
    for (size_t p = 0; p < toks.size(); ++p) {
      const float* l = logits.data() + p * V;
      const float mx = *std::max_element(l, l + V);
      double sum = 0;
      for (int i = 0; i < V; ++i) sum += std::exp(static_cast<double>(l[i]) - mx);
      const double lse = mx + std::log(sum);
      std::iota(idx.begin(), idx.end(), 0);
      const int k = std::min(o->top_k, V);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
      nlohmann::json top = nlohmann::json::array();
      for (int i = 0; i < k; ++i) top.push_back({{"id", idx[i]}, {"logit", l[idx[i]]}, {"logprob", l[idx[i]] - lse}});
      positions.push_back({{"token", toks[p]}, {"top", top}});
    }
    if (o->json) {
      std::printf("%s\n", nlohmann::json{{"positions", positions}}.dump().c_str());
    } else {
      for (size_t p = 0; p < toks.size(); ++p) {
        std::printf("%zu (%d):", p, toks[p]);
        for (const auto& e : positions[p]["top"]) std::printf(" %d:%.4f", e["id"].get<int>(), e["logprob"].get<double>());
        std::printf("\n");
      }
    }
    return 0;
  };
}, true}};

}  // namespace
