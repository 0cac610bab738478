// llama-pajamas-run perplexity: llama-perplexity's protocol. The whole file is tokenized once (no BOS),
// split into chunks of --ctx tokens; when the vocabulary adds BOS, each chunk's first token is replaced
// by BOS; the second half of each chunk is scored.
#include <cmath>
#include <cstdio>
#include <fstream>
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
};

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
  lp::app::add_quiet(sub, o->quiet);
  return [o]() {
    if (o->file.empty() && o->tokens_file.empty()) lp::fail("perplexity: --file is required");
    const int n_ctx = o->runtime.ctx;
    if (n_ctx < 16) lp::fail("perplexity: --ctx must be at least 16");
    if (o->runtime.batch < n_ctx) o->runtime.batch = n_ctx;
    lp::Runtime rt = o->open();
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
    if (o->json) {
      std::printf("%s\n", nlohmann::json{{"perplexity", ppl}, {"perplexity_error", err}, {"scored_tokens", scored},
                                         {"chunks", n_chunks}, {"ctx", n_ctx}, {"tokens", toks.size()}}
                              .dump(2)
                              .c_str());
    } else {
      std::printf("Final estimate: PPL = %.4f +/- %.5f (%d chunks of %d, %d scored tokens)\n", ppl, err, n_chunks, n_ctx, scored);
    }
    return 0;
  };
}}};

}  // namespace
