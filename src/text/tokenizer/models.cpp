#include "text/tokenizer/models.h"

#include <fmt/format.h>

#include <queue>

#include "core/error.h"
#include "text/tokenizer/unicode.h"

namespace lp::text {

namespace {
uint64_t pair_key(TokenId a, TokenId b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
}  // namespace

SubwordModel::SubwordModel(const TokenizerModelData& data, const Vocab& vocab) : data_(data), vocab_(vocab) {
  all_byte_tokens_ = true;
  for (int b = 0; b < 256; ++b) {
    auto it = vocab_.find(fmt::format("<0x{:02X}>", b));
    byte_tokens_[b] = it == vocab_.end() ? -1 : it->second;
    if (byte_tokens_[b] < 0) all_byte_tokens_ = false;
  }
  if (data_.kind == ModelKind::Bpe) {
    merges_.reserve(data_.merges.size() * 2);
    int32_t rank = 0;
    for (const auto& [a, b] : data_.merges) {
      auto ia = vocab_.find(a), ib = vocab_.find(b), ir = vocab_.find(a + b);
      if (ia == vocab_.end() || ib == vocab_.end() || ir == vocab_.end()) {
        ++rank;  // HF refuses such merges; keep ranks aligned and ignore it
        continue;
      }
      merges_.try_emplace(pair_key(ia->second, ib->second), Merge{rank, ir->second});
      ++rank;
    }
  }
}

std::optional<TokenId> SubwordModel::lookup(std::string_view s) const {
  auto it = vocab_.find(s);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void SubwordModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  const bool cacheable = word.size() <= kCacheMaxWord;
  if (cacheable) {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t start = out.size();
  if (data_.kind == ModelKind::Bpe) bpe(word, out);
  else spm(word, out);
  if (cacheable) {
    std::lock_guard lock(cache_mu_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(word), std::vector<TokenId>(out.begin() + static_cast<ptrdiff_t>(start), out.end()));
  }
}

// One symbol per character; unknown characters become byte tokens (byte_fallback) or unk (fused when asked).
void SubwordModel::initial_symbols(std::string_view word, std::vector<TokenId>& ids,
                                   std::vector<uint32_t>& lens) const {
  size_t i = 0;
  bool prev_unk = false;
  while (i < word.size()) {
    size_t len = uni::valid_seq_len(word, i);
    if (!len) len = 1;
    std::string_view ch = word.substr(i, len);
    i += len;
    if (auto id = lookup(ch)) {
      ids.push_back(*id);
      lens.push_back(static_cast<uint32_t>(len));
      prev_unk = false;
      continue;
    }
    if (data_.byte_fallback) {
      bool ok = true;
      for (char c : ch) ok = ok && byte_tokens_[static_cast<uint8_t>(c)] >= 0;
      if (ok) {
        for (char c : ch) {
          ids.push_back(byte_tokens_[static_cast<uint8_t>(c)]);
          lens.push_back(1);
        }
        prev_unk = false;
        continue;
      }
    }
    if (data_.unk_id) {
      if (data_.fuse_unk && prev_unk) {
        lens.back() += static_cast<uint32_t>(len);
      } else {
        ids.push_back(*data_.unk_id);
        lens.push_back(static_cast<uint32_t>(len));
      }
      prev_unk = true;
    }
  }
}

void SubwordModel::bpe(std::string_view word, std::vector<TokenId>& out) const {
  if (data_.ignore_merges) {
    if (auto id = lookup(word)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<TokenId> ids;
  std::vector<uint32_t> lens;
  initial_symbols(word, ids, lens);
  const int n = static_cast<int>(ids.size());
  if (n <= 1) {
    out.insert(out.end(), ids.begin(), ids.end());
    return;
  }
  std::vector<int> prev(n), next(n);
  for (int k = 0; k < n; ++k) {
    prev[k] = k - 1;
    next[k] = k + 1 < n ? k + 1 : -1;
  }
  // Min-heap on (rank, position): the lowest-rank pair merges first, the leftmost among equals.
  struct Cand {
    int32_t rank;
    int pos;
    TokenId left, right, result;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto push = [&](int a) {
    if (a < 0) return;
    int b = next[a];
    if (b < 0) return;
    auto it = merges_.find(pair_key(ids[a], ids[b]));
    if (it != merges_.end()) heap.push({it->second.rank, a, ids[a], ids[b], it->second.result});
  };
  for (int k = 0; k + 1 < n; ++k) push(k);
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    int a = c.pos;
    if (dead[a]) continue;
    int b = next[a];
    if (b < 0 || ids[a] != c.left || ids[b] != c.right) continue;  // stale
    ids[a] = c.result;
    dead[b] = true;
    next[a] = next[b];
    if (next[b] >= 0) prev[next[b]] = a;
    push(prev[a]);
    push(a);
  }
  for (int k = 0; k >= 0; k = next[k]) out.push_back(ids[k]);
}

// llama.cpp's SPM tokenizer: repeatedly merge the adjacent pair whose concatenation is the
// highest-scoring vocab entry, then emit pieces, splitting unknown ones back into bytes.
void SubwordModel::spm(std::string_view word, std::vector<TokenId>& out) const {
  struct Sym {
    int prev, next;
    size_t off, n;
  };
  std::vector<Sym> syms;
  size_t i = 0;
  while (i < word.size()) {
    size_t len = uni::valid_seq_len(word, i);
    if (!len) len = 1;
    int idx = static_cast<int>(syms.size());
    syms.push_back({idx - 1, -1, i, len});
    if (idx > 0) syms[idx - 1].next = idx;
    i += len;
  }
  struct Bigram {
    int left, right;
    float score;
    size_t size;
    bool operator<(const Bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
  };
  std::priority_queue<Bigram> queue;
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    std::string_view text = word.substr(syms[l].off, syms[l].n + syms[r].n);
    auto id = lookup(text);
    if (!id) return;
    float score = static_cast<size_t>(*id) < data_.scores.size() ? data_.scores[*id] : 0.0f;
    queue.push({l, r, score, text.size()});
  };
  for (size_t k = 1; k < syms.size(); ++k) try_add(static_cast<int>(k) - 1, static_cast<int>(k));
  while (!queue.empty()) {
    Bigram bg = queue.top();
    queue.pop();
    auto& l = syms[bg.left];
    auto& r = syms[bg.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = bg.left;
    try_add(l.prev, bg.left);
    try_add(bg.left, l.next);
  }
  // Every merge produced a vocab entry, so only unmerged characters can be unknown: emit their bytes.
  for (int k = syms.empty() ? -1 : 0; k >= 0; k = syms[k].next) {
    std::string_view text = word.substr(syms[k].off, syms[k].n);
    if (auto id = lookup(text)) {
      out.push_back(*id);
      continue;
    }
    for (char c : text) {
      TokenId bt = byte_tokens_[static_cast<uint8_t>(c)];
      if (bt >= 0) out.push_back(bt);
      else if (data_.unk_id) out.push_back(*data_.unk_id);
    }
  }
}

}  // namespace lp::text
