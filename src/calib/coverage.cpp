#include "calib/coverage.h"
#include "core/file_io.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"

namespace lp::calib {
namespace {

std::vector<int64_t>& layer_slot(ExpertCounts& counts, int layer, int n_expert) {
  if (n_expert < 1) fail("routing: layer {} reports {} experts", layer, n_expert);
  auto& v = counts[layer];
  if (v.empty()) v.assign(static_cast<size_t>(n_expert), 0);
  if (static_cast<int>(v.size()) != n_expert)
    fail("routing: layer {} reports {} experts, earlier {}", layer, n_expert, v.size());
  return v;
}

}  // namespace

void add_routing(ExpertCounts& counts, int layer, int n_expert, int k, std::span<const int32_t> selected) {
  auto& v = layer_slot(counts, layer, n_expert);
  if (k < 1 || selected.size() % static_cast<size_t>(k) != 0)
    fail("routing: layer {} reports {} selections for top-{}", layer, selected.size(), k);
  for (int32_t e : selected) {
    if (e < 0 || e >= n_expert) fail("routing: layer {} selected expert {} of {}", layer, e, n_expert);
    ++v[static_cast<size_t>(e)];
  }
}

void add_counts(ExpertCounts& into, const ExpertCounts& other) {
  for (const auto& [layer, v] : other) {
    auto& dst = layer_slot(into, layer, static_cast<int>(v.size()));
    for (size_t e = 0; e < v.size(); ++e) dst[e] += v[e];
  }
}

int64_t coverage_deficit(const ExpertCounts& counts, int64_t threshold) {
  int64_t d = 0;
  for (const auto& [layer, v] : counts)
    for (int64_t c : v) d += std::max<int64_t>(0, threshold - c);
  return d;
}

std::vector<LayerCoverage> ExpertCoverage::layers() const {
  std::vector<LayerCoverage> out;
  for (const auto& [layer, v] : routed) {
    LayerCoverage lc;
    lc.layer = layer;
    lc.n_expert = static_cast<int>(v.size());
    std::vector<int64_t> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    lc.min = sorted.front();
    lc.max = sorted.back();
    lc.median = sorted[(sorted.size() - 1) / 2];
    for (size_t e = 0; e < v.size(); ++e)
      if (v[e] < threshold) lc.under.push_back({layer, static_cast<int>(e), v[e]});
    out.push_back(std::move(lc));
  }
  return out;
}

std::vector<ExpertRef> ExpertCoverage::under_threshold() const {
  std::vector<ExpertRef> out;
  for (const auto& lc : layers()) out.insert(out.end(), lc.under.begin(), lc.under.end());
  return out;
}

std::string ExpertCoverage::render() const {
  if (empty()) return "";
  std::string s = fmt::format("expert coverage ({} tokens, threshold {} tokens per expert):\n", tokens, threshold);
  size_t n_under = 0;
  for (const auto& lc : layers()) {
    s += fmt::format("  layer {:>3}: {} experts, tokens min {} / median {} / max {}", lc.layer, lc.n_expert, lc.min,
                     lc.median, lc.max);
    if (!lc.under.empty()) {
      s += fmt::format(", {} under:", lc.under.size());
      for (const auto& u : lc.under) s += fmt::format(" {}({})", u.expert, u.tokens);
    }
    s += "\n";
    n_under += lc.under.size();
  }
  s += n_under == 0 ? "  every expert reached the threshold\n"
                    : fmt::format("  {} experts under the threshold\n", n_under);
  return s;
}

nlohmann::ordered_json ExpertCoverage::to_json() const {
  nlohmann::ordered_json j;
  j["format"] = "llama-pajamas-expert-coverage";
  j["format_version"] = 1;
  j["threshold"] = threshold;
  j["tokens"] = tokens;
  j["layers"] = nlohmann::ordered_json::array();
  size_t n_under = 0;
  for (const auto& lc : layers()) {
    nlohmann::ordered_json under = nlohmann::ordered_json::array();
    for (const auto& u : lc.under) under.push_back(u.expert);
    n_under += lc.under.size();
    j["layers"].push_back({{"layer", lc.layer},
                           {"n_expert", lc.n_expert},
                           {"tokens_per_expert", routed.at(lc.layer)},
                           {"min", lc.min},
                           {"median", lc.median},
                           {"max", lc.max},
                           {"under_threshold", under}});
  }
  j["under_threshold_total"] = n_under;
  return j;
}

ExpertCoverage ExpertCoverage::from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object() || j.value("format", "") != "llama-pajamas-expert-coverage")
    fail("{}: not an expert coverage report (format != llama-pajamas-expert-coverage)", origin);
  ExpertCoverage c;
  try {
    c.threshold = j.at("threshold").get<int64_t>();
    c.tokens = j.at("tokens").get<int64_t>();
    for (const auto& l : j.at("layers")) {
      auto v = l.at("tokens_per_expert").get<std::vector<int64_t>>();
      if (v.empty()) fail("{}: layer {} has no experts", origin, l.at("layer").get<int>());
      c.routed[l.at("layer").get<int>()] = std::move(v);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed expert coverage report: {}", origin, e.what());
  }
  return c;
}

void ExpertCoverage::save(const std::string& path) const {
  AtomicFile f(path);
  f.write(to_json().dump(2) + "\n");
  f.commit();
}

ExpertCoverage ExpertCoverage::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("{}: cannot open expert coverage report", path);
  return from_json(read_json_file(path), path);
}

}  // namespace lp::calib
