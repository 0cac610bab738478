#include "eval/reference_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/atomic_file.h"
#include "core/error.h"

namespace lp::eval {

namespace {

constexpr char kMagic[8] = {'L', 'P', 'R', 'E', 'F', 'T', 'O', 'P'};
constexpr uint32_t kVersion = 1;

nlohmann::json header_json(const ReferenceHeader& h) {
  return {{"corpus_name", h.corpus_name}, {"corpus_sha256", h.corpus_sha256}, {"original_path", h.original_path},
          {"architecture", h.architecture}, {"ctx", h.ctx}, {"chunks", h.chunks}, {"top_k", h.top_k}, {"n_vocab", h.n_vocab},
          {"n_layer", h.n_layer}, {"n_embd", h.n_embd}, {"n_head", h.n_head}, {"n_head_kv", h.n_head_kv}};
}

ReferenceHeader header_from(const nlohmann::json& j) {
  ReferenceHeader h;
  h.corpus_name = j.at("corpus_name").get<std::string>();
  h.corpus_sha256 = j.at("corpus_sha256").get<std::string>();
  h.original_path = j.at("original_path").get<std::string>();
  h.architecture = j.at("architecture").get<std::string>();
  for (auto [key, field] : {std::pair{"ctx", &h.ctx}, {"chunks", &h.chunks}, {"top_k", &h.top_k}, {"n_vocab", &h.n_vocab},
                            {"n_layer", &h.n_layer}, {"n_embd", &h.n_embd}, {"n_head", &h.n_head}, {"n_head_kv", &h.n_head_kv}})
    *field = j.at(key).get<int>();
  return h;
}

template <typename T>
void read_exact(std::ifstream& in, T* out, size_t count, const std::string& path) {
  in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(count * sizeof(T)));
  if (!in) fail("{}: reference file is truncated", path);
}

}  // namespace

ReferenceFile::ReferenceFile(ReferenceHeader header) : header_(std::move(header)) {
  LP_CHECK(header_.top_k > 0 && header_.ctx >= 16, "reference file: top_k {} / ctx {} out of range", header_.top_k, header_.ctx);
}

void ReferenceFile::add_tokens(std::span<const int32_t> chunk) { tokens_.insert(tokens_.end(), chunk.begin(), chunk.end()); }

void ReferenceFile::add_row(std::span<const float> logprobs, float nll) {
  const size_t k = std::min<size_t>(static_cast<size_t>(header_.top_k), logprobs.size());
  LP_CHECK(k == static_cast<size_t>(header_.top_k), "reference file: vocabulary of {} is smaller than top-k {}", logprobs.size(), header_.top_k);
  std::vector<int32_t> order(logprobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](int32_t a, int32_t b) { return logprobs[a] > logprobs[b] || (logprobs[a] == logprobs[b] && a < b); });
  for (size_t i = 0; i < k; ++i) {
    ids_.push_back(order[i]);
    logprobs_.push_back(logprobs[order[i]]);
  }
  nll_.push_back(nll);
}

void ReferenceFile::save(const std::string& path) const {
  const size_t rows = static_cast<size_t>(header_.chunks) * static_cast<size_t>(header_.rows_per_chunk());
  LP_CHECK(nll_.size() == rows && tokens_.size() == static_cast<size_t>(header_.chunks) * static_cast<size_t>(header_.ctx),
           "reference file: {} rows / {} tokens recorded, header says {} chunks of {}", nll_.size(), tokens_.size(), header_.chunks, header_.ctx);
  const std::string json = header_json(header_).dump();
  const auto json_len = static_cast<uint32_t>(json.size());
  AtomicFile out(path);
  out.write(kMagic, sizeof kMagic);
  out.write(&kVersion, sizeof kVersion);
  out.write(&json_len, sizeof json_len);
  out.write(json);
  out.write(tokens_.data(), tokens_.size() * sizeof(int32_t));
  const size_t k = static_cast<size_t>(header_.top_k);
  for (size_t r = 0; r < rows; ++r) {
    out.write(&nll_[r], sizeof(float));
    out.write(ids_.data() + r * k, k * sizeof(int32_t));
    out.write(logprobs_.data() + r * k, k * sizeof(float));
  }
  out.commit();
}

ReferenceFile ReferenceFile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open reference file", path);
  char magic[8];
  uint32_t version = 0, json_len = 0;
  read_exact(in, magic, 8, path);
  if (std::memcmp(magic, kMagic, 8) != 0) fail("{}: not a reference file from `validate --save-reference`", path);
  read_exact(in, &version, 1, path);
  if (version != kVersion) fail("{}: reference file version {} (this build reads {})", path, version, kVersion);
  read_exact(in, &json_len, 1, path);
  if (json_len > (1u << 20)) fail("{}: reference header of {} bytes is implausible", path, json_len);
  std::string json(json_len, '\0');
  read_exact(in, json.data(), json_len, path);
  ReferenceHeader h;
  try {
    h = header_from(nlohmann::json::parse(json));
  } catch (const std::exception& ex) {
    fail("{}: reference header: {}", path, ex.what());
  }
  if (h.top_k <= 0 || h.ctx < 16 || h.chunks <= 0 || h.n_vocab < h.top_k)
    fail("{}: reference header has top_k {}, ctx {}, chunks {}, vocabulary {}", path, h.top_k, h.ctx, h.chunks, h.n_vocab);
  ReferenceFile f(h);
  const size_t rows = static_cast<size_t>(h.chunks) * static_cast<size_t>(h.rows_per_chunk()), k = static_cast<size_t>(h.top_k);
  f.tokens_.resize(static_cast<size_t>(h.chunks) * static_cast<size_t>(h.ctx));
  read_exact(in, f.tokens_.data(), f.tokens_.size(), path);
  f.nll_.resize(rows);
  f.ids_.resize(rows * k);
  f.logprobs_.resize(rows * k);
  for (size_t r = 0; r < rows; ++r) {
    read_exact(in, &f.nll_[r], 1, path);
    read_exact(in, f.ids_.data() + r * k, k, path);
    read_exact(in, f.logprobs_.data() + r * k, k, path);
  }
  if (in.peek() != std::char_traits<char>::eof()) fail("{}: trailing bytes after {} rows", path, rows);
  for (int32_t id : f.ids_)
    if (id < 0 || id >= h.n_vocab) fail("{}: token id {} outside the vocabulary of {}", path, id, h.n_vocab);
  for (int32_t id : f.tokens_)
    if (id < 0 || id >= h.n_vocab) fail("{}: corpus token id {} outside the vocabulary of {}", path, id, h.n_vocab);
  return f;
}

ReferenceRow ReferenceFile::row(int chunk, int position) const {
  LP_CHECK(chunk >= 0 && chunk < header_.chunks && position >= 0 && position < header_.rows_per_chunk(), "reference row {}/{} out of range",
           chunk, position);
  const size_t r = static_cast<size_t>(chunk) * static_cast<size_t>(header_.rows_per_chunk()) + static_cast<size_t>(position);
  const size_t k = static_cast<size_t>(header_.top_k);
  return {nll_[r], {ids_.data() + r * k, k}, {logprobs_.data() + r * k, k}};
}

TokenComparison compare_token_topk(const ReferenceRow& ref, std::span<const float> quant_logits, int32_t next_token) {
  LP_CHECK(!ref.ids.empty() && ref.ids.size() == ref.logprobs.size(), "reference row without top-k entries");
  LP_CHECK(next_token >= 0 && static_cast<size_t>(next_token) < quant_logits.size(), "token id {} outside the vocabulary", next_token);
  double max = quant_logits[0];
  int top = 0;
  for (size_t i = 1; i < quant_logits.size(); ++i)
    if (quant_logits[i] > max) {
      max = quant_logits[i];
      top = static_cast<int>(i);
    }
  double sum = 0;
  for (float v : quant_logits) sum += std::exp(static_cast<double>(v) - max);
  const double q_norm = max + std::log(sum);
  double kld = 0, p_sum = 0, q_sum = 0;
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    LP_CHECK(static_cast<size_t>(ref.ids[i]) < quant_logits.size(), "reference token id {} outside the vocabulary", ref.ids[i]);
    const double lp = ref.logprobs[i], lq = static_cast<double>(quant_logits[ref.ids[i]]) - q_norm;
    const double p = std::exp(lp);
    kld += p * (lp - lq);
    p_sum += p;
    q_sum += std::exp(lq);
  }
  const double p_tail = 1 - p_sum, q_tail = std::max(1 - q_sum, 1e-30);
  if (p_tail > 1e-12) kld += p_tail * (std::log(p_tail) - std::log(q_tail));
  TokenComparison t;
  t.nll_quant = q_norm - quant_logits[next_token];
  t.kld = std::max(0.0, kld);
  t.same_top1 = top == ref.ids[0];
  t.dp_top = std::fabs(std::exp(static_cast<double>(quant_logits[ref.ids[0]]) - q_norm) - std::exp(static_cast<double>(ref.logprobs[0])));
  return t;
}

}  // namespace lp::eval
