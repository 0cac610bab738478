#include "calib/calibrate.h"
#include "calib/dataset.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "convert/convert.h"
#include "core/error.h"
#include "core/progress.h"
#include "engine/observers.h"
#include "formats/gguf.h"
#include "llama_pajamas/runtime.h"

namespace fs = std::filesystem;

namespace lp::calib {
namespace {

// Exports the checkpoint to an F32 GGUF in a temporary folder (removed on destruction).
struct ReferenceGguf {
  fs::path dir;
  std::string gguf;
  explicit ReferenceGguf(const std::string& model) {
    dir = fs::temp_directory_path() / ("lp-calib-" + std::to_string(::getpid()));
    gguf = convert::write_reference_gguf(model, dir, /*threads=*/0, /*progress=*/false);
  }
  ~ReferenceGguf() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// Removes the observers from the runtime when calibration ends, also on errors (they point at locals).
struct ObserverGuard {
  Runtime& rt;
  ~ObserverGuard() { engine::set_observers(rt, {}); }
};

uint32_t expert_count(const std::string& gguf) {
  formats::GgufFile g = formats::GgufFile::open(gguf);
  const std::string arch = g.get_string_or("general.architecture", "");
  return g.get_u32_or(arch + ".expert_count", 0);
}

std::string join_samples(const std::vector<const CalibrationSample*>& samples) {
  std::string text;
  for (const auto* s : samples) text += s->text + "\n\n";
  return text;
}

// Tokens routed per expert when each candidate is evaluated alone (BOS first when the vocab adds one), in
// windows of ctx tokens from an empty context, as the calibration chunks are.
std::vector<BalanceCandidate> profile_candidates(Runtime& rt, const std::vector<const CalibrationSample*>& pool,
                                                 size_t n_preferred, int ctx, bool progress) {
  const ModelInfo info = rt.info();
  std::vector<BalanceCandidate> cands(pool.size());
  ExpertCounts* target = nullptr;
  engine::Observers observers;
  observers.routing = [&target](const engine::RoutingEvent& e) {
    add_routing(*target, e.layer, e.n_expert, e.k, {e.selected, static_cast<size_t>(e.n_tokens) * static_cast<size_t>(e.k)});
  };
  const ObserverGuard guard{rt};
  engine::set_observers(rt, std::move(observers));
  Progress bar("profile experts", pool.size(), progress);
  for (size_t i = 0; i < pool.size(); ++i) {
    BalanceCandidate& c = cands[i];
    c.id = pool[i]->id;
    c.preferred = i < n_preferred;
    std::vector<int32_t> tokens = rt.tokenize(pool[i]->text + "\n\n", /*add_special=*/false, /*parse_special=*/false);
    c.tokens = static_cast<int64_t>(tokens.size());
    target = &c.routed;
    const bool bos = info.add_bos && info.bos_token >= 0;
    const size_t step = static_cast<size_t>(bos ? ctx - 1 : ctx);  // a window holds BOS + step tokens
    for (size_t at = 0; at < tokens.size(); at += step) {
      std::vector<int32_t> window(tokens.begin() + static_cast<ptrdiff_t>(at),
                                  tokens.begin() + static_cast<ptrdiff_t>(std::min(tokens.size(), at + step)));
      if (bos) window.insert(window.begin(), info.bos_token);
      rt.evaluate(window);
    }
    bar.advance();
  }
  bar.finish();
  return cands;
}

// The stacked expert weights of a layer must have counted exactly the tokens the router sent to each expert.
void check_counts_match_routing(const Imatrix& im, const ExpertCoverage& cov, std::vector<std::string>& notes) {
  for (const auto& [name, e] : im.entries) {
    if (e.n_mat() < 2 || name.rfind("blk.", 0) != 0) continue;
    const int layer = std::atoi(name.c_str() + 4);
    auto it = cov.routed.find(layer);
    if (it == cov.routed.end() || it->second != e.counts)
      notes.push_back(fmt::format("imatrix counts of {} differ from the tokens routed to its experts (engine hook mismatch)", name));
  }
}

}  // namespace

engine::Observers calibration_observers(Imatrix& im, ExpertCoverage& cov) {
  engine::Observers o;
  o.activation = [&im](const engine::ActivationEvent& e) { im.accumulate(e.weight, e.expert, e.n_expert, e.x, e.n_tokens, e.cols); };
  o.routing = [&cov](const engine::RoutingEvent& e) {
    add_routing(cov.routed, e.layer, e.n_expert, e.k, {e.selected, static_cast<size_t>(e.n_tokens) * static_cast<size_t>(e.k)});
  };
  return o;
}

std::string read_calibration_text(const std::vector<std::string>& inputs) {
  if (inputs.empty()) fail("--calibration: no calibration text given");
  std::string text;
  for (const auto& in : inputs)
    for (const auto& sample : load_calibration(in).texts()) text += sample + "\n\n";
  return text;
}

std::string coverage_path_for(const std::string& imatrix_path) {
  fs::path p(imatrix_path);
  return (p.parent_path() / (p.stem().string() + ".coverage.json")).string();
}

nlohmann::ordered_json coverage_report_json(const CalibrateResult& r) {
  nlohmann::ordered_json j = r.coverage.to_json();
  if (r.balance) j["expert_balanced"] = r.balance->to_json(r.candidates);
  j["notes"] = r.notes;
  return j;
}

CalibrateResult calibrate(const CalibrateOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.ctx < 8) fail("--ctx: {} is too small (at least 8 tokens)", opt.ctx);
  if (opt.min_expert_tokens < 0) fail("--min-expert-tokens: {} must not be negative", opt.min_expert_tokens);
  if (opt.inputs.empty()) fail("--calibration: no calibration text given");
  std::vector<CalibrationSet> sets;
  for (const auto& in : opt.inputs) sets.push_back(load_calibration(in));
  std::vector<const CalibrationSample*> base;
  for (const auto& s : sets)
    for (const auto& x : s.samples) base.push_back(&x);

  std::unique_ptr<ReferenceGguf> reference;
  std::string gguf = opt.model;
  if (!(fs::is_regular_file(opt.model) && fs::path(opt.model).extension() == ".gguf")) {
    reference = std::make_unique<ReferenceGguf>(opt.model);
    gguf = reference->gguf;
  }
  const uint32_t n_expert = expert_count(gguf);
  RuntimeOptions ro;
  ro.threads = opt.threads;
  ro.ctx = opt.ctx;
  ro.batch = opt.ctx;
  Runtime rt = Runtime::open(gguf, ro);
  const ModelInfo info = rt.info();

  CalibrateResult result;
  auto count_tokens = [&](const std::vector<const CalibrationSample*>& samples) {
    return static_cast<int64_t>(rt.tokenize(join_samples(samples), false, false).size());
  };
  const int64_t base_tokens = count_tokens(base);
  const int64_t budget = opt.chunks > 0 ? static_cast<int64_t>(opt.chunks) * opt.ctx : base_tokens / opt.ctx * opt.ctx;

  // Expert-balanced: profile the pool, choose the stream of samples, then calibrate on it as usual.
  std::vector<const CalibrationSample*> stream = base;
  CalibrationSet builtin;
  if (opt.expert_balanced && n_expert == 0) {
    result.notes.push_back(fmt::format("--expert-balanced: {} is not a MoE model (no {}.expert_count): nothing to balance, plain calibration",
                                       opt.model, info.architecture));
  } else if (opt.expert_balanced) {
    if (budget < opt.ctx)
      fail("calibration set too small: {} tokens, one chunk needs {} (--ctx); give --chunks to size the balanced set", base_tokens, opt.ctx);
    builtin = builtin_calibration_samples();
    std::vector<const CalibrationSample*> pool = base;
    std::set<std::string> seen;
    for (const auto* s : base) seen.insert(s->text);
    for (const auto& s : builtin.samples)
      if (seen.insert(s.text).second) pool.push_back(&s);
    result.candidates = profile_candidates(rt, pool, base.size(), opt.ctx, opt.progress);
    BalanceOptions bo;
    bo.threshold = opt.min_expert_tokens;
    bo.token_budget = budget;
    bo.seed = opt.seed;
    result.balance = balance_experts(result.candidates, bo);
    stream.clear();
    for (size_t i : result.balance->chosen) stream.push_back(pool[i]);
  }

  // llama-imatrix: tokenize the whole text, cut chunks of ctx tokens, BOS first when the vocab adds one.
  const std::string text = join_samples(stream);
  std::vector<int32_t> tokens = rt.tokenize(text, /*add_special=*/false, /*parse_special=*/false);
  const int64_t available = static_cast<int64_t>(tokens.size()) / opt.ctx;
  const char* what = result.balance ? " (expert-balanced: user text plus every built-in sample)" : "";
  if (available < 1)
    fail("calibration set too small{}: {} tokens, one chunk needs {} (--ctx)", what, tokens.size(), opt.ctx);
  if (opt.chunks > available)
    fail("calibration set too small{} for --chunks {}: {} tokens make {} chunks of {}", what, opt.chunks, tokens.size(), available, opt.ctx);
  int n_chunks = opt.chunks > 0 ? opt.chunks : static_cast<int>(available);
  if (result.balance) n_chunks = static_cast<int>(std::min<int64_t>(available, budget / opt.ctx));

  Imatrix& im = result.imatrix;
  im.chunk_size = static_cast<uint32_t>(opt.ctx);
  im.expert_shrinkage_tokens = opt.min_expert_tokens;
  for (const auto& in : opt.inputs) im.datasets.push_back(fs::path(in).filename().string());
  if (result.balance) im.datasets.push_back("expert-balanced(builtin,seed=" + std::to_string(opt.seed) + ")");
  ExpertCoverage& cov = result.coverage;
  cov.threshold = opt.min_expert_tokens;
  const ObserverGuard guard{rt};
  engine::set_observers(rt, calibration_observers(im, cov));

  Progress bar("calibrate", static_cast<uint64_t>(n_chunks), opt.progress);
  for (int c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + static_cast<int64_t>(c) * opt.ctx,
                               tokens.begin() + static_cast<int64_t>(c + 1) * opt.ctx);
    if (info.add_bos && info.bos_token >= 0) chunk[0] = info.bos_token;
    rt.evaluate(chunk);
    result.tokens += static_cast<int64_t>(chunk.size());
    im.chunk_count = static_cast<uint32_t>(c + 1);
    bar.advance();
  }
  bar.finish();
  cov.tokens = result.tokens;
  if (n_expert > 0 && cov.empty())
    result.notes.push_back(fmt::format("{} has {} experts per layer but the engine reported no routing: no expert coverage", opt.model, n_expert));
  check_counts_match_routing(im, cov, result.notes);
  if (!cov.empty() && !cov.under_threshold().empty())
    result.notes.push_back(fmt::format("{} experts saw fewer than {} tokens: their importance is blended with their layer's other experts (docs/CALIBRATION.md)",
                                       cov.under_threshold().size(), opt.min_expert_tokens));
  result.chunks = n_chunks;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace lp::calib
