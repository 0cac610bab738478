#include "eval/validate.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <random>
#include <utility>

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "convert/convert.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/units.h"
#include "engine/observers.h"
#include "eval/artifacts.h"
#include "eval/corpus.h"
#include "eval/reference_file.h"
#include "formats/gguf.h"
#include "llama_pajamas/runtime.h"
#include "plan/preset.h"

namespace lp::eval {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double validate_seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string validate_iso_now() {
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
  return convert::write_reference_gguf(o.original, tmp.path, o.threads, o.progress);
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

// Formats without GGUF metadata (MLX folders) are checked on what the engine loaded.
void check_same_info(const ModelInfo& a, const ModelInfo& b, const std::string& path) {
  if (a.n_vocab != b.n_vocab)
    fail("{}: vocabulary of {} tokens does not match the original's {} (artifact from a different model)", path, b.n_vocab, a.n_vocab);
  if (a.n_layer != b.n_layer || a.n_embd != b.n_embd || a.n_head != b.n_head || a.n_head_kv != b.n_head_kv)
    fail("{}: shape (layers {}, hidden {}, heads {}/{}) does not match the original's ({}, {}, {}/{}) (artifact from a different model)",
         path, b.n_layer, b.n_embd, b.n_head, b.n_head_kv, a.n_layer, a.n_embd, a.n_head, a.n_head_kv);
}

// Routes the routing observers of the watched runtimes (the live original and every format) into whichever
// ChunkRouting is current; removes them on scope exit so a failed run leaves no hook pointing here.
class RoutingCapture {
 public:
  RoutingCapture(bool enabled, std::vector<Runtime*> watched) : watched_(enabled ? std::move(watched) : std::vector<Runtime*>{}) {
    for (Runtime* rt : watched_) {
      engine::Observers o;
      o.routing = [this](const engine::RoutingEvent& e) {
        if (sink_) sink_->add(e);
      };
      engine::set_observers(*rt, std::move(o));
    }
  }
  ~RoutingCapture() {
    for (Runtime* rt : watched_) engine::set_observers(*rt, {});
  }
  RoutingCapture(const RoutingCapture&) = delete;
  RoutingCapture& operator=(const RoutingCapture&) = delete;
  // Subsequent forward passes record into `r` (cleared first); nullptr stops recording.
  void record_into(ChunkRouting* r) {
    if (r) r->clear();
    sink_ = r;
  }

 private:
  std::vector<Runtime*> watched_;
  ChunkRouting* sink_ = nullptr;
};

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

namespace {

// What the formats are compared against: the original model run live, or a saved reference file.
struct Reference {
  std::optional<Runtime> model;      // live original (absent with --reference and no --original)
  std::optional<ReferenceFile> file;  // --reference
  std::optional<ModelIdentity> identity;  // GGUF metadata of the live reference
  ModelInfo info;
};

ModelInfo info_from_header(const ReferenceHeader& h) {
  ModelInfo i;
  i.architecture = h.architecture;
  i.n_vocab = h.n_vocab;
  i.n_layer = h.n_layer;
  i.n_embd = h.n_embd;
  i.n_head = h.n_head;
  i.n_head_kv = h.n_head_kv;
  return i;
}

// Opens every format now, so a mismatched artifact is refused before hours of work.
void open_formats(const ArtifactSet& set, const ValidateOptions& o, const RuntimeOptions& ro, const Reference& ref, const std::string& sample,
                  ValidationReport& rep, std::vector<std::optional<Runtime>>& runtimes) {
  for (const auto& e : set.entries) {
    FormatReport f;
    f.format = e.format;
    f.precision = e.precision;
    f.path = e.path;
    f.size_bytes = e.size_bytes;
    f.bpw = e.bpw;
    f.gate = resolve_gate(e.precision, o.gates);
    runtimes.emplace_back();
    if (e.format == "gguf" && ref.identity) check_same_identity(*ref.identity, identity_of(e.full_path), e.path);
    // A format the engine cannot load yet (a block type without kernels, an unsupported family) is
    // reported as skipped with the engine's reason rather than aborting the other formats. MLX folders
    // load through the same engine (packed affine weights dequantized on the fly).
    try {
      runtimes.back().emplace(Runtime::open(e.full_path, ro));
    } catch (const std::exception& ex) {
      f.status = "SKIP";
      f.skip_reason = ex.what();
    }
    if (runtimes.back()) {
      check_same_info(ref.info, runtimes.back()->info(), e.path);
      if (ref.model) check_same_tokenizer(*ref.model, *runtimes.back(), e.path, sample);
    }
    rep.formats.push_back(std::move(f));
  }
}

// With --reference, the corpus must be the one the file was made on and every format must cut it into
// the same tokens.
void check_reference_file(const ReferenceFile& file, const Corpus& corpus, int ctx, const std::string& path) {
  const ReferenceHeader& h = file.header();
  if (h.corpus_sha256 != corpus.sha256)
    fail("{}: made on corpus '{}' (sha256 {}), not on '{}' (sha256 {})", path, h.corpus_name, h.corpus_sha256.substr(0, 12), corpus.name,
         corpus.sha256.substr(0, 12));
  if (h.ctx != ctx) fail("{}: made with --ctx {}, not {}", path, h.ctx, ctx);
}

void check_reference_tokens(const ReferenceFile& file, const std::vector<int32_t>& chunk, int64_t c, const std::string& format,
                            const std::string& path) {
  const auto stored = file.tokens().subspan(static_cast<size_t>(c) * chunk.size(), chunk.size());
  if (!std::equal(stored.begin(), stored.end(), chunk.begin()))
    fail("{}: tokenizer of {} cuts the corpus differently from the reference file's original", path, format);
}

void finish_format(FormatReport& fr, const ComparisonAccumulator& acc, const MoeAccumulator& moe, double ref_perplexity, const Metrics& m) {
  fr.stats = acc.summary();
  fr.moe = moe.summary();
  fr.ppl_increase = ref_perplexity > 0 ? fr.stats.perplexity / ref_perplexity - 1 : 0;
  if (fr.stats.paired) {
    // ΔPPL = exp(mean d) - 1 over paired per-token NLL differences d; its error by the delta method.
    fr.ppl_increase = std::exp(fr.stats.ln_ppl_ratio) - 1;
    fr.ppl_increase_error = std::exp(fr.stats.ln_ppl_ratio) * fr.stats.ln_ppl_ratio_error;
    fr.ppl_within_noise = std::abs(fr.ppl_increase) < 2 * *fr.ppl_increase_error;
  }
  // ΔPPL fails only when it is above the gate by more than its noise (2 paired standard errors): on a short
  // corpus a sound quantization must not fail by chance.
  const double ppl_noise = fr.ppl_increase_error ? 2 * *fr.ppl_increase_error : 0.0;
  if (m.perplexity && fr.ppl_increase - ppl_noise > fr.gate.max_ppl_increase)
    fr.failures.push_back(fmt::format("perplexity +{:.2f}% (± {:.2f}%) > {:.2f}%", 100 * fr.ppl_increase, 100 * ppl_noise / 2,
                                      100 * fr.gate.max_ppl_increase));
  if (m.kld && fr.stats.kld_mean > fr.gate.max_kld_mean)
    fr.failures.push_back(fmt::format("mean KLD {:.6f} > {:.6f}", fr.stats.kld_mean, fr.gate.max_kld_mean));
  if (fr.moe) {
    if (!(fr.moe->correlation > fr.gate.min_expert_correlation))
      fr.failures.push_back(fmt::format("expert activation correlation {:.4f} <= {:.4f}", fr.moe->correlation, fr.gate.min_expert_correlation));
    if (!(fr.moe->topk_agreement > fr.gate.min_router_agreement))
      fr.failures.push_back(fmt::format("router top-k agreement {:.2f}% <= {:.2f}%", 100 * fr.moe->topk_agreement, 100 * fr.gate.min_router_agreement));
  }
}

// Greedy decoding is chaotic after the first different token (the rest is a different continuation), so
// what is comparable is how long the quantized model follows the original: tokens to first divergence.
void compare_generation(FormatReport& fr, Runtime& model, const std::vector<GenerationResult>& ref_gen, int gen_tokens) {
  double sum_first = 0, sum_ref = 0;
  for (size_t i = 0; i < kGenerationPrompts.size(); ++i) {
    const GenerationResult g = model.generate(kGenerationPrompts[i], greedy(gen_tokens));
    GenerationSample s{kGenerationPrompts[i], ref_gen[i].text, g.text, static_cast<int>(ref_gen[i].tokens.size()), 0};
    const size_t n = std::min(ref_gen[i].tokens.size(), g.tokens.size());
    while (static_cast<size_t>(s.first_divergence) < n && ref_gen[i].tokens[s.first_divergence] == g.tokens[s.first_divergence])
      ++s.first_divergence;
    sum_first += s.first_divergence;
    sum_ref += s.reference_tokens;
    fr.samples.push_back(std::move(s));
  }
  fr.tokens_to_divergence = kGenerationPrompts.empty() ? 0.0 : sum_first / static_cast<double>(kGenerationPrompts.size());
  fr.identical_prefix = sum_ref > 0 ? sum_first / sum_ref : 1.0;
}

// The stated rule behind the "ship:" line: among the artifacts that pass their gates and keep mean KLD at most
// kShipMaxKld (what Q4_K_M measures on the fixtures, with its ~97% same top-1), the smallest; ties: lower KLD.
// Class gates alone would pick the narrowest width that is merely not broken.
constexpr double kShipMaxKld = 0.001;

void choose_ship(ValidationReport& rep) {
  rep.ship_rule = fmt::format("the smallest artifact that passes its gates with mean KLD <= {} (ties: lower KLD)", kShipMaxKld);
  const FormatReport* best = nullptr;
  bool any_pass = false;
  for (const auto& f : rep.formats) {
    if (f.status != "PASS") continue;
    any_pass = true;
    if (!rep.metrics.kld || f.stats.kld_mean > kShipMaxKld) continue;
    if (!best || f.size_bytes < best->size_bytes || (f.size_bytes == best->size_bytes && f.stats.kld_mean < best->stats.kld_mean))
      best = &f;
  }
  if (!best) {
    rep.ship_reason = !any_pass ? "no artifact passes its gates"
                      : !rep.metrics.kld ? "KLD was not measured (--metrics without kld)"
                                         : fmt::format("every passing artifact has mean KLD above {}", kShipMaxKld);
    return;
  }
  rep.ship_path = best->path;
  rep.ship_name = best->format + " " + best->precision;
  rep.ship_reason = fmt::format("{}, mean KLD {:.6f}, ΔPPL {:+.2f}%{}", format_bytes(best->size_bytes), best->stats.kld_mean,
                                100 * best->ppl_increase, best->ppl_within_noise ? " (within noise)" : "");
}

// Plain progress lines when stderr is not a terminal (logs, CI, `convert --validate | tee`).
bool plain_progress(bool enabled) { return enabled && ::isatty(STDERR_FILENO) != 1; }

}  // namespace

ValidationReport validate(const ValidateOptions& o) {
  const auto t_start = Clock::now();
  if (o.ctx < 16) fail("--ctx must be at least 16 (got {})", o.ctx);
  if (o.original.empty() && o.reference_file.empty()) fail("validate: --original or --reference is required");
  if (!o.save_reference.empty() && o.original.empty()) fail("--save-reference needs --original (the model whose outputs are saved)");
  if (!o.save_reference.empty() && !o.reference_file.empty()) fail("--save-reference and --reference exclude each other");
  if (o.reference_top_k < 1) fail("--reference-top-k must be at least 1 (got {})", o.reference_top_k);
  ValidationReport rep;
  rep.created = validate_iso_now();
  rep.original_path = o.original;
  rep.metrics = o.metrics;
  rep.ctx = o.ctx;

  // Cheap checks first: the artifact list, the corpus and a reference file, before any conversion.
  const ArtifactSet set = list_artifacts(o.quantized);
  const Corpus corpus = load_corpus(o.corpus);
  rep.corpus_name = corpus.name;
  rep.corpus_sha256 = corpus.sha256;
  rep.corpus_bytes = corpus.text.size();
  Reference ref;
  if (!o.reference_file.empty()) {
    ref.file = ReferenceFile::load(o.reference_file);
    check_reference_file(*ref.file, corpus, o.ctx, o.reference_file);
    ref.info = info_from_header(ref.file->header());
    rep.reference_file = o.reference_file;
    if (o.original.empty()) rep.original_path = ref.file->header().original_path;
  }

  TempDir tmp;
  RuntimeOptions ro;
  ro.threads = o.threads;
  ro.ctx = o.ctx;
  ro.batch = o.ctx;  // one forward pass per chunk
  if (!o.original.empty()) {
    if (plain_progress(o.progress)) std::fprintf(stderr, "validate: converting the original to an F32 reference GGUF\n");
    rep.reference_gguf = prepare_reference(o, tmp);
    ref.model.emplace(Runtime::open(rep.reference_gguf, ro));
    const ModelInfo live = ref.model->info();
    if (ref.file) check_same_info(ref.info, live, rep.reference_gguf);
    ref.info = live;
    ref.identity = identity_of(rep.reference_gguf);
    rep.is_moe = gguf_is_moe(rep.reference_gguf);
  }
  rep.architecture = ref.info.architecture;

  const std::string sample = corpus.text.substr(0, 4000);
  std::vector<std::optional<Runtime>> runtimes;
  open_formats(set, o, ro, ref, sample, rep, runtimes);
  // The tokenizer: the original's, else (reference file only) the first format's, checked per chunk.
  Runtime* tokenizer = ref.model ? &*ref.model : nullptr;
  for (auto& r : runtimes)
    if (!tokenizer && r) tokenizer = &*r;
  if (!tokenizer) fail("{}: no format the engine can run, and no --original", o.quantized);
  const ModelInfo tok_info = tokenizer->info();
  rep.threads = tok_info.threads;
  if (!ref.model && rep.metrics.generation) {
    rep.metrics.generation = false;
    rep.notes.push_back("generation not compared: it needs the original model (--original), not only --reference");
  }

  const std::vector<int32_t> tokens = tokenizer->tokenize(corpus.text, false, false);
  rep.corpus_tokens = tokens.size();
  if (tokens.size() < static_cast<size_t>(o.ctx))
    fail("corpus '{}': {} tokens is less than one chunk of {} (use a smaller --ctx or a longer corpus)", corpus.name, tokens.size(), o.ctx);
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / o.ctx;
  if (o.max_tokens > 0) n_chunks = std::max<int64_t>(1, std::min(n_chunks, o.max_tokens / o.ctx));
  if (ref.file) {
    if (ref.file->header().chunks < n_chunks)
      rep.notes.push_back(fmt::format("the reference file holds {} chunks; {} asked for", ref.file->header().chunks, n_chunks));
    n_chunks = std::min<int64_t>(n_chunks, ref.file->header().chunks);
  }
  rep.chunks = static_cast<int>(n_chunks);
  std::optional<ReferenceFile> saving;
  if (!o.save_reference.empty())
    saving.emplace(ReferenceHeader{corpus.name, corpus.sha256, o.original, ref.info.architecture, o.ctx, static_cast<int>(n_chunks),
                                   o.reference_top_k, ref.info.n_vocab, ref.info.n_layer, ref.info.n_embd, ref.info.n_head, ref.info.n_head_kv});

  // Chunk loop: reference log-probs once per chunk, then every format against them.
  const int first = o.ctx / 2, n_vocab = ref.info.n_vocab;
  const bool live = !ref.file.has_value();  // with --reference, a given --original only serves generation
  rep.kld_method = live ? "full vocabulary" : fmt::format("top-{} + tail (reference file)", ref.file->header().top_k);
  PerplexityAccumulator ref_ppl;
  std::vector<ComparisonAccumulator> acc(rep.formats.size());
  std::vector<MoeAccumulator> moe(rep.formats.size());
  std::vector<Runtime*> watched;
  if (ref.model) watched.push_back(&*ref.model);
  for (auto& rt : runtimes)
    if (rt) watched.push_back(&*rt);
  RoutingCapture routing(rep.is_moe && live, std::move(watched));
  ChunkRouting ref_routing, q_routing;
  std::vector<int> ref_top(o.ctx);
  std::vector<float> ref_logits;
  Progress progress("validate", static_cast<uint64_t>(n_chunks), o.progress);
  const bool plain = plain_progress(o.progress);
  const int64_t plain_every = std::max<int64_t>(1, n_chunks / 20);
  if (plain)
    std::fprintf(stderr, "validate: %lld chunks of %d tokens, %zu format(s)\n", static_cast<long long>(n_chunks), o.ctx, rep.formats.size());
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * o.ctx, tokens.begin() + (c + 1) * o.ctx);
    if (tok_info.add_bos && tok_info.bos_token >= 0) chunk[0] = tok_info.bos_token;
    auto t0 = Clock::now();
    if (live) {
      routing.record_into(&ref_routing);
      ref_logits = ref.model->evaluate(chunk);
      routing.record_into(nullptr);
      if (saving) saving->add_tokens(chunk);
      for (int j = first; j < o.ctx - 1; ++j) {
        std::span<float> row(ref_logits.data() + static_cast<size_t>(j) * n_vocab, n_vocab);
        ref_top[j] = log_softmax_inplace(row).top;
        ref_ppl.add(-row[chunk[j + 1]]);
        if (saving) saving->add_row(row, -row[chunk[j + 1]]);
      }
    } else {
      check_reference_tokens(*ref.file, chunk, c, "the first format", o.reference_file);
      for (int j = first; j < o.ctx - 1; ++j) ref_ppl.add(ref.file->row(static_cast<int>(c), j - first).nll);
    }
    rep.ref_seconds += validate_seconds_since(t0);
    for (size_t f = 0; f < rep.formats.size(); ++f) {
      if (!runtimes[f]) continue;
      t0 = Clock::now();
      routing.record_into(&q_routing);
      const std::vector<float> q = runtimes[f]->evaluate(chunk);
      routing.record_into(nullptr);
      if (rep.is_moe && live) moe[f].add(ref_routing, q_routing);
      for (int j = first; j < o.ctx - 1; ++j) {
        const size_t off = static_cast<size_t>(j) * n_vocab;
        const std::span<const float> q_row(q.data() + off, static_cast<size_t>(n_vocab));
        if (live)
          acc[f].add(compare_token({ref_logits.data() + off, static_cast<size_t>(n_vocab)}, ref_top[j], q_row, chunk[j + 1]),
                     -static_cast<double>(ref_logits[off + static_cast<size_t>(chunk[j + 1])]));
        else {
          const ReferenceRow& rr = ref.file->row(static_cast<int>(c), j - first);
          acc[f].add(compare_token_topk(rr, q_row, chunk[j + 1]), rr.nll);
        }
      }
      rep.formats[f].seconds += validate_seconds_since(t0);
    }
    progress.advance(1, "ppl " + std::to_string(ref_ppl.perplexity()));
    if (plain && ((c + 1) % plain_every == 0 || c + 1 == n_chunks)) {
      // What has been measured so far, one line per step: survives a kill, readable in a log.
      std::string line = fmt::format("validate: chunk {}/{} ({:.0f} s), original PPL {:.4f}", c + 1, n_chunks, validate_seconds_since(t_start),
                                     ref_ppl.perplexity());
      for (size_t f = 0; f < rep.formats.size(); ++f)
        if (runtimes[f]) {
          const ComparisonSummary so_far = acc[f].summary();
          line += fmt::format("; {} {}: PPL {:.4f} KLD {:.6f}", rep.formats[f].format, rep.formats[f].precision, so_far.perplexity,
                              so_far.kld_mean);
        }
      std::fprintf(stderr, "%s\n", line.c_str());
      std::fflush(stderr);
    }
  }
  progress.finish();
  ref_logits = {};
  rep.ref_perplexity = ref_ppl.perplexity();
  rep.ref_perplexity_error = ref_ppl.perplexity_error();
  rep.scored_tokens = ref_ppl.count;
  if (saving) saving->save(o.save_reference);

  // Greedy generation side by side (routing is not recorded here).
  std::vector<GenerationResult> ref_gen;
  if (rep.metrics.generation && plain_progress(o.progress))
    std::fprintf(stderr, "validate: greedy generation, %zu prompts x %d tokens per format\n", kGenerationPrompts.size(), o.gen_tokens);
  if (rep.metrics.generation)
    for (const auto& p : kGenerationPrompts) ref_gen.push_back(ref.model->generate(p, greedy(o.gen_tokens)));
  for (size_t f = 0; f < rep.formats.size(); ++f) {
    FormatReport& fr = rep.formats[f];
    if (!runtimes[f]) continue;
    if (rep.metrics.generation) compare_generation(fr, *runtimes[f], ref_gen, o.gen_tokens);
    finish_format(fr, acc[f], moe[f], rep.ref_perplexity, rep.metrics);
    fr.status = fr.failures.empty() ? "PASS" : "FAIL";
    if (o.report_each) {
      std::printf("validated %s %s: %s, PPL %.4f (%+.2f%%), mean KLD %.6f, same top-1 %.2f%%\n", fr.format.c_str(), fr.precision.c_str(),
                  fr.status.c_str(), fr.stats.perplexity, 100 * fr.ppl_increase, fr.stats.kld_mean, 100 * fr.stats.same_top1);
      std::fflush(stdout);
    }
  }
  rep.gen_tokens = rep.metrics.generation ? o.gen_tokens : 0;
  choose_ship(rep);
  if (live && rep.is_moe && std::none_of(rep.formats.begin(), rep.formats.end(), [](const FormatReport& f) { return f.moe.has_value(); }))
    rep.moe_note = "the engine reported no routing decisions for this model";
  const auto moe_gguf = [](const ArtifactEntry& e) { return e.format == "gguf" && gguf_is_moe(e.full_path); };
  if (!live && std::any_of(set.entries.begin(), set.entries.end(), moe_gguf)) {
    rep.is_moe = false;  // routing statistics need the original model run chunk by chunk
    rep.notes.push_back("MoE routing metrics are not measured against a saved reference; run with --original instead");
  }
  rep.reference_removed = tmp.owned;
  rep.seconds = validate_seconds_since(t_start);
  return rep;
}

}  // namespace lp::eval
