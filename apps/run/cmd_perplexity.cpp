// llama-pajamas-run perplexity: llama-perplexity's protocol. The whole file is tokenized once (no BOS),
// split into chunks of --ctx tokens; when the vocabulary adds BOS, each chunk's first token is replaced
// by BOS; the second half of each chunk is scored.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include <fmt/format.h>

#include "common/command.h"
#include "core/progress.h"
#include "engine_cli.h"

namespace {

struct Opts : lp::app::EngineCli {
  std::string file, tokens_file;
  int chunks = -1;
  bool quiet = false;
  std::string kld_cache_type;  // reference KV type for the KL divergence (docs/MEMORY.md, "KV-cache types")
};

// KL(p || q) of two logit rows, p the reference.
double kl_divergence(const float* ref, const float* got, int n) {
  float mr = ref[0], mg = got[0];
  for (int i = 1; i < n; ++i) mr = std::max(mr, ref[i]), mg = std::max(mg, got[i]);
  double sr = 0, sg = 0;
  for (int i = 0; i < n; ++i) sr += std::exp(double(ref[i]) - mr), sg += std::exp(double(got[i]) - mg);
  const double lr = std::log(sr), lg = std::log(sg);
  double k = 0;
  for (int i = 0; i < n; ++i) {
    const double a = double(ref[i]) - mr - lr, b = double(got[i]) - mg - lg;
    k += std::exp(a) * (a - b);
  }
  return k;
}

double log_softmax_at(const float* l, int n, int id) {
  float mx = l[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, l[i]);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(l[i]) - mx);
  return static_cast<double>(l[id]) - mx - std::log(sum);
}

lp::app::RegisterCommand reg{{"perplexity", "Perplexity of a text file (llama-perplexity protocol)", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 512);
  o->add_json(sub);
  auto* f = sub.add_option("-f,--file", o->file, "text file")->check(CLI::ExistingFile);
  auto* tf = sub.add_option("--tokens-file", o->tokens_file, "pre-tokenized ids, whitespace separated")->group("")->check(CLI::ExistingFile);
  f->excludes(tf);
  sub.add_option("--chunks", o->chunks, "maximum chunks to score (-1: all)")->capture_default_str();
  sub.add_option("--kld-cache-type", o->kld_cache_type,
                 "also evaluate every chunk with this KV cache type (K and V; e.g. f16) and report the mean KL divergence "
                 "of this run's next-token distributions from it over the scored tokens (what a KV type costs)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0"}));
  lp::app::add_quiet(sub, o->quiet);
  return [o]() {
    if (o->file.empty() && o->tokens_file.empty()) lp::fail("perplexity: --file is required");
    const int n_ctx = o->runtime.ctx;
    if (n_ctx < 16) lp::fail("perplexity: --ctx must be at least 16");
    if (o->runtime.batch < n_ctx) o->runtime.batch = n_ctx;
    lp::Runtime rt = o->open();
    std::optional<lp::Runtime> ref;
    if (!o->kld_cache_type.empty()) {
      lp::RuntimeOptions ro = o->runtime;
      ro.cache_type = o->kld_cache_type;
      ro.cache_type_k = ro.cache_type_v = "";
      ref.emplace(lp::Runtime::open(o->model, ro));
    }
    double kld = 0, kld2 = 0;
    std::vector<int32_t> toks;
    if (!o->tokens_file.empty()) {
      std::ifstream in(o->tokens_file);
      for (int32_t v; in >> v;) toks.push_back(v);
    } else {
      std::ifstream in(o->file, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      toks = rt.tokenize(ss.str(), false, false);
    }
    const int available = static_cast<int>(toks.size()) / n_ctx;
    if (available < 1) lp::fail("{}: {} tokens is less than one chunk of {} (use a smaller --ctx)", o->file, toks.size(), n_ctx);
    const int n_chunks = o->chunks < 0 ? available : std::min(o->chunks, available);
    const lp::ModelInfo info = rt.info();
    const bool add_bos = info.add_bos;
    const int32_t bos = info.bos_token;
    const int first = n_ctx / 2;
    double nll = 0, nll2 = 0;
    int scored = 0;
    // Progress with an ETA (a plain line every few seconds in logs); the running estimate as its detail.
    lp::Progress progress("perplexity", static_cast<uint64_t>(n_chunks), !o->json && !o->quiet);
    for (int c = 0; c < n_chunks; ++c) {
      std::vector<int32_t> chunk(toks.begin() + int64_t{c} * n_ctx, toks.begin() + int64_t{c + 1} * n_ctx);
      if (add_bos) chunk[0] = bos;
      const auto logits = rt.evaluate(chunk);
      if (ref) {
        const auto base = ref->evaluate(chunk);
        for (int j = first; j < n_ctx - 1; ++j) {
          const double k = kl_divergence(base.data() + size_t(j) * info.n_vocab, logits.data() + size_t(j) * info.n_vocab, info.n_vocab);
          kld += k;
          kld2 += k * k;
        }
      }
      for (int j = first; j < n_ctx - 1; ++j) {
        const double v = -log_softmax_at(logits.data() + size_t(j) * info.n_vocab, info.n_vocab, chunk[j + 1]);
        nll += v;
        nll2 += v * v;
        ++scored;
      }
      progress.advance(1, fmt::format("PPL {:.4f}", std::exp(nll / scored)));
    }
    progress.finish();
    const double mean = nll / scored;
    const double var = nll2 / scored - mean * mean;
    const double ppl = std::exp(mean);
    const double err = scored > 1 ? ppl * std::sqrt(std::max(0.0, var) / (scored - 1)) : 0.0;
    const double kmean = kld / scored, kerr = scored > 1 ? std::sqrt(std::max(0.0, kld2 / scored - kmean * kmean) / (scored - 1)) : 0.0;
    if (o->json) {
      nlohmann::json j{{"perplexity", ppl}, {"perplexity_error", err}, {"scored_tokens", scored},
                       {"chunks", n_chunks}, {"ctx", n_ctx}, {"tokens", toks.size()}, {"cache_type", info.cache_type}};
      if (ref) j["kld"] = {{"reference_cache_type", o->kld_cache_type}, {"mean", kmean}, {"error", kerr}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("Final estimate: PPL = %.4f +/- %.5f (%d chunks of %d, %d scored tokens)\n", ppl, err, n_chunks, n_ctx, scored);
      if (ref) std::printf("Mean KLD vs the %s KV cache: %.6f +/- %.6f\n", o->kld_cache_type.c_str(), kmean, kerr);
    }
    return 0;
  };
}}};

}  // namespace
