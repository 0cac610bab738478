// `validate --save-reference FILE` / `--reference FILE`: the original model's next-token distributions on
// the scored positions, kept compactly so later validations need neither the original checkpoint nor its
// run time. Per scored position: the top-k token ids with their log-probabilities (f32, sorted by
// probability) and -log p of the actual next token. KL divergence from such a row is computed over the k
// tokens plus one "everything else" bucket (see kld_topk); perplexity, same-top-1 and |Δp| of the top token
// stay exact.
//
// File: "LPREFTOP" | u32 version (1) | u32 header length | JSON header | i32 tokens[chunks*ctx] |
// rows[chunks * (ctx - 1 - ctx/2)] of {f32 nll, i32 ids[k], f32 logprobs[k]}; little-endian.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "eval/token_metrics.h"

namespace lp::eval {

struct ReferenceHeader {
  std::string corpus_name, corpus_sha256, original_path, architecture;
  int ctx = 0, chunks = 0, top_k = 0, n_vocab = 0, n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0;
  int rows_per_chunk() const { return ctx - 1 - ctx / 2; }
};

struct ReferenceRow {
  float nll = 0;                  // -log p_ref(actual next token)
  std::span<const int32_t> ids;   // top-k, most probable first
  std::span<const float> logprobs;
};

class ReferenceFile {
 public:
  static constexpr int kDefaultTopK = 32;

  // Building: rows are added in order (chunk by chunk, scored positions only), then save() writes atomically.
  explicit ReferenceFile(ReferenceHeader header);
  void add_tokens(std::span<const int32_t> chunk);  // the chunk exactly as evaluated (BOS included)
  void add_row(std::span<const float> logprobs, float nll);  // a full log-softmax row
  void save(const std::string& path) const;  // throws when the row/token counts do not match the header

  // Reading: the whole file is checked against its header (sizes, ids within the vocabulary).
  static ReferenceFile load(const std::string& path);

  const ReferenceHeader& header() const { return header_; }
  std::span<const int32_t> tokens() const { return tokens_; }
  ReferenceRow row(int chunk, int position) const;  // position: 0 .. rows_per_chunk()-1

 private:
  ReferenceHeader header_;
  std::vector<int32_t> tokens_, ids_;
  std::vector<float> nll_, logprobs_;
};

// KL(p_ref || p_quant) over the k stored tokens plus the tail bucket: Σ_topk p (log p - log q) +
// p_tail (log p_tail - log q_tail), with p_tail = 1 - Σ_topk p_ref and q_tail = 1 - Σ_topk p_quant over the
// same ids. This is the KL divergence of the two distributions coarsened to k+1 outcomes, so it never
// exceeds the full KL divergence (data-processing inequality) and equals it when the tail carries no mass.
TokenComparison compare_token_topk(const ReferenceRow& ref, std::span<const float> quant_logits, int32_t next_token);

}  // namespace lp::eval
