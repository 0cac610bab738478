#include "calib/imatrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "writers/gguf_writer.h"
#include "core/atomic_file.h"
#include "calib/shrinkage.h"

namespace lp::calib {
namespace {

constexpr const char* kInSum2 = ".in_sum2";
constexpr const char* kCounts = ".counts";
// Ours (llama.cpp ignores unknown keys): the shrinkage threshold the calibration run chose.
constexpr const char* kShrinkageKey = "imatrix.lp.expert_shrinkage_tokens";

bool strip_suffix(std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  s.resize(s.size() - suffix.size());
  return true;
}

Imatrix load_legacy(const std::string& path) {
  MappedFile f(path);
  const uint8_t* p = f.data();
  const uint8_t* end = p + f.size();
  auto read_i32 = [&](const char* field) {
    if (end - p < 4) fail("{}: truncated legacy imatrix while reading {}", path, field);
    int32_t v;
    std::memcpy(&v, p, 4);
    p += 4;
    return v;
  };
  Imatrix im;
  im.legacy = true;
  const int32_t n = read_i32("n_entries");
  if (n < 1) fail("{}: not an imatrix (neither GGUF nor legacy .dat with entries)", path);
  for (int32_t i = 0; i < n; ++i) {
    const int32_t len = read_i32("name length");
    if (len < 0 || end - p < len) fail("{}: entry {}: bad name length {}", path, i, len);
    std::string name(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    p += len;
    const int32_t ncall = read_i32("ncall");
    const int32_t nval = read_i32("nval");
    if (nval < 1 || (end - p) / 4 < nval) fail("{}: entry '{}': bad value count {}", path, name, nval);
    ImatrixEntry e;
    e.sums.resize(static_cast<size_t>(nval));
    std::memcpy(e.sums.data(), p, static_cast<size_t>(nval) * 4);
    p += static_cast<ptrdiff_t>(nval) * 4;
    e.counts = {ncall};
    im.entries[name] = std::move(e);
  }
  if (end - p >= 4) {
    im.chunk_count = static_cast<uint32_t>(read_i32("chunk count"));
    if (end - p >= 4) {
      const int32_t len = read_i32("dataset length");
      if (len > 0 && end - p >= len) im.datasets.emplace_back(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    }
  }
  return im;
}

}  // namespace

bool is_router_weight(const std::string& name) {
  return name.find(".ffn_gate_inp.weight") != std::string::npos || name.find(".ffn_gate_inp_shexp.weight") != std::string::npos;
}

Imatrix Imatrix::load(const std::string& path) {
  {
    MappedFile probe(path);
    if (probe.size() < 4 || std::memcmp(probe.data(), "GGUF", 4) != 0) return load_legacy(path);
  }
  formats::GgufFile g = formats::GgufFile::open(path);
  Imatrix im;
  if (const auto* v = g.find("imatrix.datasets")) im.datasets = v->strings();
  im.chunk_count = g.get_u32_or("imatrix.chunk_count", 0);
  im.chunk_size = g.get_u32_or("imatrix.chunk_size", 0);
  im.expert_shrinkage_tokens = g.get_u32_or(kShrinkageKey, static_cast<uint32_t>(im.expert_shrinkage_tokens));
  std::map<std::string, std::pair<const formats::GgufTensorInfo*, const formats::GgufTensorInfo*>> pairs;
  for (const auto& t : g.tensors()) {
    std::string name = t.name;
    if (strip_suffix(name, kInSum2)) pairs[name].first = &t;
    else if (strip_suffix(name, kCounts)) pairs[name].second = &t;
  }
  if (pairs.empty()) fail("{}: GGUF file holds no imatrix tensors (<name>.in_sum2 / <name>.counts)", path);
  for (const auto& [name, sc] : pairs) {
    if (!sc.first || !sc.second) fail("{}: tensor '{}' has {} but not {}", path, name, sc.first ? kInSum2 : kCounts, sc.first ? kCounts : kInSum2);
    if (sc.first->type != GgmlType::F32 || sc.second->type != GgmlType::F32)
      fail("{}: '{}' sums and counts must be F32", path, name);
    ImatrixEntry e;
    const auto nval = sc.first->n_elements(), ncounts = sc.second->n_elements();
    if (ncounts == 0 || nval % ncounts != 0) fail("{}: '{}' has {} sums for {} counts", path, name, nval, ncounts);
    e.sums.resize(nval);
    std::memcpy(e.sums.data(), sc.first->data, nval * 4);
    const float* c = reinterpret_cast<const float*>(sc.second->data);
    for (uint64_t i = 0; i < ncounts; ++i) e.counts.push_back(std::lround(c[i]));
    for (float v : e.sums)
      if (!std::isfinite(v)) fail("{}: '{}' contains a non-finite value", path, name);
    im.entries[name] = std::move(e);
  }
  return im;
}

void Imatrix::save_gguf(const std::string& path) const {
  writers::GgufWriter w(path);
  w.set("general.type", formats::GgufValue("imatrix"));
  w.set("imatrix.datasets", formats::GgufValue(datasets));
  w.set("imatrix.chunk_count", formats::GgufValue(chunk_count));
  w.set("imatrix.chunk_size", formats::GgufValue(chunk_size));
  w.set(kShrinkageKey, formats::GgufValue(static_cast<uint32_t>(expert_shrinkage_tokens)));
  for (const auto& [name, e] : entries) {
    w.add_tensor(name + kInSum2, GgmlType::F32, {e.n_per_row(), e.n_mat()});
    w.add_tensor(name + kCounts, GgmlType::F32, {1, e.n_mat()});
  }
  w.begin();
  for (const auto& [name, e] : entries) {
    w.write_tensor_data(name + kInSum2, e.sums.data(), e.sums.size() * 4);
    std::vector<float> c(e.counts.begin(), e.counts.end());
    w.write_tensor_data(name + kCounts, c.data(), c.size() * 4);
  }
  w.finish();
}

void Imatrix::save_legacy(const std::string& path) const {
  AtomicFile f(path);
  auto put_i32 = [&](int32_t v) { f.write(&v, 4); };
  put_i32(static_cast<int32_t>(entries.size()));
  for (const auto& [name, e] : entries) {
    put_i32(static_cast<int32_t>(name.size()));
    f.write(name);
    // legacy stores (sum / count) * ncall with ncall = chunks; we use one call per token-count unit
    const int64_t ncall = e.counts.empty() ? 0 : *std::max_element(e.counts.begin(), e.counts.end());
    put_i32(static_cast<int32_t>(ncall));
    put_i32(static_cast<int32_t>(e.sums.size()));
    std::vector<float> v(e.sums.size());
    const int64_t npr = e.n_per_row();
    for (size_t i = 0; i < v.size(); ++i) {
      const int64_t c = e.counts[i / static_cast<size_t>(npr)];
      v[i] = c > 0 ? e.sums[i] / static_cast<float>(c) * static_cast<float>(ncall) : 0.0f;
    }
    f.write(v.data(), v.size() * 4);
  }
  put_i32(static_cast<int32_t>(chunk_count));
  const std::string ds = datasets.empty() ? std::string() : datasets.front();
  put_i32(static_cast<int32_t>(ds.size()));
  f.write(ds);
  f.commit();
}

void Imatrix::accumulate(const std::string& name, int expert, int n_mat, const float* x, int64_t n_tokens, int64_t n_per_row) {
  auto& e = entries[name];
  if (e.counts.empty()) {
    e.counts.assign(static_cast<size_t>(n_mat), 0);
    e.sums.assign(static_cast<size_t>(n_mat * n_per_row), 0.0f);
  }
  if (e.n_mat() != n_mat || e.n_per_row() != n_per_row)
    fail("imatrix: '{}' seen with shape {}x{}, earlier {}x{}", name, n_per_row, n_mat, e.n_per_row(), e.n_mat());
  if (expert < 0 || expert >= n_mat) fail("imatrix: '{}' expert {} out of range ({})", name, expert, n_mat);
  float* s = e.sums.data() + static_cast<size_t>(expert) * static_cast<size_t>(n_per_row);
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t i = 0; i < n_per_row; ++i) {
      const float v = x[t * n_per_row + i];
      s[i] += v * v;
    }
  e.counts[static_cast<size_t>(expert)] += n_tokens;
}

std::optional<std::vector<float>> Imatrix::importance(const std::string& name, int expert, int64_t npr) const {
  auto it = entries.find(name);
  if (it == entries.end()) return std::nullopt;
  const ImatrixEntry& e = it->second;
  if (static_cast<int64_t>(e.sums.size()) < (expert + 1) * npr)
    fail("imatrix: '{}' has no data for expert {} of {} columns", name, expert, npr);
  std::vector<float> out(static_cast<size_t>(npr), 1.0f);
  if (legacy) {
    const int64_t ncall = e.counts.empty() ? 0 : e.counts[0];
    for (int64_t i = 0; i < npr; ++i) {
      const float s = e.sums[static_cast<size_t>(expert * npr + i)];
      out[static_cast<size_t>(i)] = ncall > 0 ? s / static_cast<float>(ncall) : s;
    }
    return out;
  }
  return shrunk_expert_importance(e, expert, npr, expert_shrinkage_tokens);
}

ImatrixCoverage check_imatrix(const Imatrix& im, const std::map<std::string, WeightShape>& weights, const std::string& path) {
  ImatrixCoverage cov;
  for (const auto& [name, e] : im.entries) {
    auto it = weights.find(name);
    // Router matmuls are observed too (llama-imatrix records every "blk." matmul) but routers are never
    // quantized with importance: a caller's weight list may leave them out.
    if (it == weights.end() && is_router_weight(name)) continue;
    if (it == weights.end())
      fail("{}: entry '{}' is not a weight matrix of this model (an imatrix from another model?)", path, name);
    // legacy files flatten experts: sums = n_mat * n_per_row with a single ncall
    const int64_t expect = it->second.n_per_row * it->second.n_mat;
    if (static_cast<int64_t>(e.sums.size()) != expect)
      fail("{}: entry '{}' has {} values, the model's tensor needs {} ({} columns x {} matrices)", path, name,
           e.sums.size(), expect, it->second.n_per_row, it->second.n_mat);
    if (!im.legacy)
      for (size_t x = 0; x < e.counts.size(); ++x)
        if (e.counts[x] == 0) cov.uncovered_experts.push_back(name + " expert " + std::to_string(x));
  }
  for (const auto& [name, shape] : weights)
    if (!im.entries.count(name)) cov.missing.push_back(name);
  cov.uncovered_fallback = im.expert_shrinkage_tokens > 0 && !im.legacy
                               ? "the pooled mean of the layer's other experts (shrinkage below " +
                                     std::to_string(im.expert_shrinkage_tokens) + " tokens)"
                               : "uniform importance (as llama.cpp)";
  return cov;
}

}  // namespace lp::calib
