// Subword models: HF BPE (merge by rank, byte fallback, per-word cache) and llama.cpp SPM (merge by score).
#pragma once
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/tokenizer/tokenizer.h"

namespace lp::text {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

class SubwordModel {
 public:
  SubwordModel(const TokenizerModelData& data, const Vocab& vocab);
  // Appends the ids of one pre-token.
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

 private:
  void bpe(std::string_view word, std::vector<TokenId>& out) const;
  void spm(std::string_view word, std::vector<TokenId>& out) const;
  void initial_symbols(std::string_view word, std::vector<TokenId>& ids, std::vector<uint32_t>& lens) const;
  std::optional<TokenId> lookup(std::string_view s) const;

  struct Merge {
    int32_t rank;
    TokenId result;
  };
  const TokenizerModelData& data_;
  const Vocab& vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<TokenId, 256> byte_tokens_{};  // <0xXX> ids, -1 when absent
  bool all_byte_tokens_ = false;

  static constexpr size_t kCacheMaxWord = 256;
  static constexpr size_t kCacheMaxEntries = 1 << 17;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> cache_;
};

}  // namespace lp::text
