// Tokenizer throughput (bytes/s) on English text: Qwen3 (byte-level BPE, PCRE2 JIT, NFC) and Gemma 3
// (SentencePiece-style BPE). Text: the fixtures' heldout.txt (KJV Proverbs + Revelation) when present,
// else the hand-written English paragraph below repeated. Counters report MB/s as bytes_per_second.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "text/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

fs::path source_dir() { return fs::path(__FILE__).parent_path().parent_path(); }

const std::string& english() {
  static const std::string text = [] {
    fs::path heldout = source_dir().parent_path() / "shared" / "fixtures" / "heldout.txt";
    std::ifstream f(heldout, std::ios::binary);
    if (f) {
      std::ostringstream ss;
      ss << f.rdbuf();
      return ss.str();
    }
    std::string para =
        "The quick brown fox jumps over the lazy dog. It's a well-known pangram that we've used for years; "
        "typists and font designers rely on it because it contains every letter of the English alphabet. "
        "In 1885 it appeared in The Boston Journal, and since then it has shown up in countless manuals.\n";
    std::string t;
    while (t.size() < (1u << 20)) t += para;
    return t;
  }();
  return text;
}

const lp::text::Tokenizer& load(const char* name) {
  static std::map<std::string, lp::text::Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end())
    it = cache.emplace(name, lp::text::Tokenizer::load(source_dir() / "tests" / "data" / "tokenizer" / name)).first;
  return it->second;
}

// Steady state of a long-running process: the per-word cache is warm after the first iteration.
void BM_Encode(benchmark::State& state, const char* model) {
  const auto& tok = load(model);
  const std::string& text = english();
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tok.encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["bytes"] = static_cast<double>(text.size());
}

// First pass over the text with an empty word cache (a freshly loaded tokenizer per iteration).
void BM_EncodeColdCache(benchmark::State& state, const char* model) {
  const std::string& text = english();
  for (auto _ : state) {
    state.PauseTiming();
    auto tok = lp::text::Tokenizer::load(source_dir() / "tests" / "data" / "tokenizer" / model);
    state.ResumeTiming();
    auto ids = tok.encode(text);
    benchmark::DoNotOptimize(ids.data());
    state.PauseTiming();
    { auto drop = std::move(tok); }
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_Decode(benchmark::State& state, const char* model) {
  const auto& tok = load(model);
  auto ids = tok.encode(english());
  for (auto _ : state) {
    auto s = tok.decode(ids);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * english().size()));
}

void BM_Load(benchmark::State& state, const char* model) {
  for (auto _ : state) {
    auto t = lp::text::Tokenizer::load(source_dir() / "tests" / "data" / "tokenizer" / model);
    benchmark::DoNotOptimize(t.vocab_size());
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_Encode, qwen3, "qwen3")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_Encode, gemma3, "gemma3")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_EncodeColdCache, qwen3, "qwen3")->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Decode, qwen3, "qwen3")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Load, qwen3, "qwen3")->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK_CAPTURE(BM_Load, gemma3, "gemma3")->Unit(benchmark::kMillisecond)->Iterations(1);
