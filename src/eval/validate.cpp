#include "eval/validate.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <random>

#include "convert/convert.h"
#include "core/error.h"
#include "core/progress.h"
#include "eval/artifacts.h"
#include "eval/corpus.h"
#include "formats/gguf.h"
#include "llama_pajamas/runtime.h"
#include "plan/preset.h"

namespace lp::eval {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Fixed greedy-generation prompts: prose, code, question answering, dialogue.
const std::vector<std::string> kGenerationPrompts = {
    "The old lighthouse keeper climbed the stairs and",
    "def binary_search(items, target):\n",
    "Question: Why does ice float on water?\nAnswer:",
    "Alice: Did you finish the report?\nBob:",
};

// A temp folder removed on scope exit (the lossless reference GGUF lives here).
struct TempDir {
  fs::path path;
  bool owned = false;
  ~TempDir() {
    std::error_code ec;
    if (owned) fs::remove_all(path, ec);
  }
};

// The reference: a .gguf is used as-is; a checkpoint folder is converted to F32 (lossless for bf16/f16/f32
// weights) with architecture rules off, so the reference is exactly the checkpoint.
std::string prepare_reference(const ValidateOptions& o, TempDir& tmp) {
  if (fs::is_regular_file(o.original)) {
    if (fs::path(o.original).extension() != ".gguf") fail("{}: --original must be a checkpoint folder or a .gguf file", o.original);
    return o.original;
  }
  if (!fs::is_directory(o.original)) fail("{}: no such checkpoint folder", o.original);
  if (!o.work_dir.empty()) {
    tmp.path = fs::path(o.work_dir) / "reference";
  } else {
    std::random_device rd;
    tmp.path = fs::temp_directory_path() / ("lp-validate-" + std::to_string(rd()));
    tmp.owned = true;
  }
  convert::ConvertOptions co;
  co.model = o.original;
  co.output = tmp.path;
  co.gguf = true;
  co.mlx = false;
  co.precision.gguf = {plan::Preset::F32};
  co.architecture_aware = false;
  co.threads = o.threads;
  co.progress = o.progress;
  const convert::ConvertResult r = convert::convert(co);
  for (const auto& a : r.artifacts)
    if (a.format == "gguf") return (tmp.path / a.path).string();
  fail("{}: converting the original to an F32 GGUF produced no GGUF", o.original);
}

// The GGUF facts that identify a model: architecture, vocabulary and shape.
struct ModelIdentity {
  std::string arch;
  size_t n_vocab = 0;
  uint32_t layers = 0, hidden = 0, heads = 0, kv_heads = 0;
};

ModelIdentity identity_of(const std::string& path) {
  const auto g = formats::GgufFile::open(path);
  ModelIdentity id;
  id.arch = g.architecture();
  id.n_vocab = g.has("tokenizer.ggml.tokens") ? g.get_strings("tokenizer.ggml.tokens").size() : 0;
  id.layers = g.get_u32_or(id.arch + ".block_count", 0);
  id.hidden = g.get_u32_or(id.arch + ".embedding_length", 0);
  id.heads = g.get_u32_or(id.arch + ".attention.head_count", 0);
  id.kv_heads = g.get_u32_or(id.arch + ".attention.head_count_kv", id.heads);
  return id;
}

// Refuses an artifact from another model (read from metadata, so even formats the engine cannot run yet
// are checked): architecture, vocabulary or shape differ.
void check_same_identity(const ModelIdentity& a, const ModelIdentity& b, const std::string& path) {
  if (a.arch != b.arch)
    fail("{}: architecture '{}' does not match the original's '{}' (artifact from a different model)", path, b.arch, a.arch);
  if (a.n_vocab != b.n_vocab)
    fail("{}: vocabulary of {} tokens does not match the original's {} (artifact from a different model)", path, b.n_vocab, a.n_vocab);
  if (a.layers != b.layers || a.hidden != b.hidden || a.heads != b.heads || a.kv_heads != b.kv_heads)
    fail("{}: shape (layers {}, hidden {}, heads {}/{}) does not match the original's ({}, {}, {}/{}) (artifact from a different model)",
         path, b.layers, b.hidden, b.heads, b.kv_heads, a.layers, a.hidden, a.heads, a.kv_heads);
}

// Same vocabulary size but different tokens (another tokenizer) shows in the tokenization of a sample.
void check_same_tokenizer(const Runtime& ref, const Runtime& q, const std::string& path, const std::string& sample) {
  if (ref.tokenize(sample, false, false) != q.tokenize(sample, false, false))
    fail("{}: tokenizer differs from the original's (same vocabulary size, different tokens)", path);
}

bool gguf_is_moe(const std::string& path) {
  const auto g = formats::GgufFile::open(path);
  return g.get_u32_or(g.architecture() + ".expert_count", 0) > 0;
}

InferenceConfig greedy(int max_tokens) {
  InferenceConfig c;
  c.max_tokens = max_tokens;
  c.sampling.temperature = 0;
  c.seed = 0;
  return c;
}

}  // namespace

Metrics parse_metrics(const std::string& list) {
  Metrics m{false, false, false};
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, end - start);
    if (item == "perplexity" || item == "ppl") m.perplexity = true;
    else if (item == "kld") m.kld = true;
    else if (item == "generation") m.generation = true;
    else if (!item.empty()) fail("--metrics: unknown metric '{}' (use perplexity, kld, generation)", item);
    start = end + 1;
  }
  if (!m.perplexity && !m.kld && !m.generation) fail("--metrics: nothing to measure");
  return m;
}

bool ValidationReport::all_pass() const {
  return std::none_of(formats.begin(), formats.end(), [](const FormatReport& f) { return f.status == "FAIL"; });
}

ValidationReport validate(const ValidateOptions& o) {
  const auto t_start = Clock::now();
  if (o.ctx < 16) fail("--ctx must be at least 16 (got {})", o.ctx);
  ValidationReport rep;
  rep.created = iso_now();
  rep.original_path = o.original;
  rep.metrics = o.metrics;
  rep.ctx = o.ctx;

  // Cheap checks first: the artifact list and the corpus, before any conversion.
  const ArtifactSet set = list_artifacts(o.quantized);
  const Corpus corpus = load_corpus(o.corpus);
  rep.corpus_name = corpus.name;
  rep.corpus_sha256 = corpus.sha256;
  rep.corpus_bytes = corpus.text.size();

  TempDir tmp;
  rep.reference_gguf = prepare_reference(o, tmp);
  RuntimeOptions ro;
  ro.threads = o.threads;
  ro.ctx = o.ctx;
  ro.batch = o.ctx;  // one forward pass per chunk
  Runtime ref = Runtime::open(rep.reference_gguf, ro);
  const ModelInfo ref_info = ref.info();
  rep.architecture = ref_info.architecture;
  rep.threads = ref_info.threads;
  rep.is_moe = gguf_is_moe(rep.reference_gguf);
  if (rep.is_moe) rep.moe_note = "expert statistics need router outputs, which the engine does not expose yet";

  const std::vector<int32_t> tokens = ref.tokenize(corpus.text, false, false);
  rep.corpus_tokens = tokens.size();
  if (tokens.size() < static_cast<size_t>(o.ctx))
    fail("corpus '{}': {} tokens is less than one chunk of {} (use a smaller --ctx or a longer corpus)", corpus.name, tokens.size(), o.ctx);
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / o.ctx;
  if (o.max_tokens > 0) n_chunks = std::max<int64_t>(1, std::min(n_chunks, o.max_tokens / o.ctx));
  rep.chunks = static_cast<int>(n_chunks);

  // Open every runnable format now so a mismatched artifact is refused before hours of work.
  const std::string sample = corpus.text.substr(0, 4000);
  const ModelIdentity ref_identity = identity_of(rep.reference_gguf);
  std::vector<std::optional<Runtime>> runtimes;
  for (const auto& e : set.entries) {
    FormatReport f;
    f.format = e.format;
    f.precision = e.precision;
    f.path = e.path;
    f.size_bytes = e.size_bytes;
    f.bpw = e.bpw;
    f.gate = resolve_gate(e.precision, o.gates);
    runtimes.emplace_back();
    if (e.format != "gguf") {
      f.status = "SKIP";
      f.skip_reason = "engine cannot run " + e.format + " yet";
    } else {
      check_same_identity(ref_identity, identity_of(e.full_path), e.path);
      // A GGUF the engine cannot load yet (a block type without kernels, an unsupported family) is
      // reported as skipped with the engine's reason rather than aborting the other formats.
      try {
        runtimes.back().emplace(Runtime::open(e.full_path, ro));
      } catch (const std::exception& ex) {
        f.status = "SKIP";
        f.skip_reason = ex.what();
      }
      if (runtimes.back()) check_same_tokenizer(ref, *runtimes.back(), e.path, sample);
    }
    rep.formats.push_back(std::move(f));
  }

  // Chunk loop: reference logits once per chunk, then every format against them.
  const int first = o.ctx / 2, n_vocab = ref_info.n_vocab;
  PerplexityAccumulator ref_ppl;
  std::vector<ComparisonAccumulator> acc(rep.formats.size());
  std::vector<int> ref_top(o.ctx);
  Progress progress("validate", static_cast<uint64_t>(n_chunks), o.progress);
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * o.ctx, tokens.begin() + (c + 1) * o.ctx);
    if (ref_info.add_bos && ref_info.bos_token >= 0) chunk[0] = ref_info.bos_token;
    auto t0 = Clock::now();
    std::vector<float> ref_logits = ref.evaluate(chunk);
    for (int j = first; j < o.ctx - 1; ++j) {
      std::span<float> row(ref_logits.data() + static_cast<size_t>(j) * n_vocab, n_vocab);
      ref_top[j] = log_softmax_inplace(row).top;
      ref_ppl.add(-row[chunk[j + 1]]);
    }
    rep.ref_seconds += seconds_since(t0);
    for (size_t f = 0; f < rep.formats.size(); ++f) {
      if (!runtimes[f]) continue;
      t0 = Clock::now();
      const std::vector<float> q = runtimes[f]->evaluate(chunk);
      for (int j = first; j < o.ctx - 1; ++j) {
        const size_t off = static_cast<size_t>(j) * n_vocab;
        acc[f].add(compare_token({ref_logits.data() + off, static_cast<size_t>(n_vocab)}, ref_top[j],
                                 {q.data() + off, static_cast<size_t>(n_vocab)}, chunk[j + 1]));
      }
      rep.formats[f].seconds += seconds_since(t0);
    }
    progress.advance(1, "ppl " + std::to_string(ref_ppl.perplexity()));
  }
  progress.finish();
  rep.ref_perplexity = ref_ppl.perplexity();
  rep.ref_perplexity_error = ref_ppl.perplexity_error();
  rep.scored_tokens = ref_ppl.count;

  // Greedy generation side by side.
  std::vector<GenerationResult> ref_gen;
  if (o.metrics.generation)
    for (const auto& p : kGenerationPrompts) ref_gen.push_back(ref.generate(p, greedy(o.gen_tokens)));

  for (size_t f = 0; f < rep.formats.size(); ++f) {
    FormatReport& fr = rep.formats[f];
    if (!runtimes[f]) continue;
    fr.stats = acc[f].summary();
    fr.ppl_increase = rep.ref_perplexity > 0 ? fr.stats.perplexity / rep.ref_perplexity - 1 : 0;
    if (o.metrics.generation) {
      int match = 0, compared = 0;
      for (size_t i = 0; i < kGenerationPrompts.size(); ++i) {
        const GenerationResult g = runtimes[f]->generate(kGenerationPrompts[i], greedy(o.gen_tokens));
        GenerationSample s{kGenerationPrompts[i], ref_gen[i].text, g.text, static_cast<int>(ref_gen[i].tokens.size()), 0, 0};
        const size_t n = std::max(ref_gen[i].tokens.size(), g.tokens.size());
        for (size_t k = 0; k < n; ++k)
          if (k < ref_gen[i].tokens.size() && k < g.tokens.size() && ref_gen[i].tokens[k] == g.tokens[k]) ++s.matching_tokens;
        s.compared_tokens = static_cast<int>(n);
        match += s.matching_tokens;
        compared += s.compared_tokens;
        fr.samples.push_back(std::move(s));
      }
      fr.generation_match = compared ? static_cast<double>(match) / compared : 1.0;
    }
    if (o.metrics.perplexity && fr.ppl_increase > fr.gate.max_ppl_increase)
      fr.failures.push_back(fmt::format("perplexity +{:.2f}% > {:.2f}%", 100 * fr.ppl_increase, 100 * fr.gate.max_ppl_increase));
    if (o.metrics.kld && fr.stats.kld_mean > fr.gate.max_kld_mean)
      fr.failures.push_back(fmt::format("mean KLD {:.6f} > {:.6f}", fr.stats.kld_mean, fr.gate.max_kld_mean));
    fr.status = fr.failures.empty() ? "PASS" : "FAIL";
  }
  rep.reference_removed = tmp.owned;
  rep.seconds = seconds_since(t_start);
  return rep;
}

}  // namespace lp::eval
