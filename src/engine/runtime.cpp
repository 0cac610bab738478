// lp::Runtime: the embedder API over Model + Context + Sampler + the text module's tokenizer and
// chat templates. Consecutive generate()/chat() calls reuse the KV cache for the shared prompt prefix.
#include "llama_pajamas/runtime.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <utility>

#include "core/error.h"
#include "engine/folder_loader.h"
#include "engine/runtime_impl.h"
#include "formats/manifest.h"
#include "text/jinja/chat_template.h"
#include "text/jinja/template_source.h"
#include "text/tokenizer/tokenizer.h"

namespace lp {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A manifest folder: the artifact that fits the backend. The CPU backend (and auto, today) prefers GGUF (the
// fastest kernels), else an MLX folder (dequantized on the fly). Returns "" when the manifest names none that exists.
std::string pick_from_manifest(const fs::path& dir, Backend backend) {
  (void)backend;  // Auto and Cpu choose alike until another backend exists
  const formats::Manifest m = formats::Manifest::read(dir / "manifest.json");
  auto existing = [&](const std::string& f) -> std::string {
    const fs::path p = fs::path(f).is_absolute() ? fs::path(f) : dir / f;
    return fs::exists(p) ? p.string() : "";
  };
  std::vector<std::string> ggufs, mlx;
  for (const auto* a : m.of_format("gguf")) ggufs.push_back(a->path);
  for (const auto* a : m.of_format("mlx")) mlx.push_back(a->path);
  for (const auto& f : ggufs)
    if (auto p = existing(f); !p.empty() && !fs::is_directory(p)) return p;
  for (const auto& f : mlx)
    if (auto p = existing(f); !p.empty() && engine::folder_kind(p) == engine::FolderKind::Mlx) return p;
  return "";
}

}  // namespace

// --model: a .gguf file; a pipeline output folder (manifest.json); an HF checkpoint folder (config.json +
// *.safetensors); an MLX folder (config.json with "quantization"); or a folder holding exactly one .gguf.
std::string resolve_model_path(const std::string& model, Backend backend) {
  if (!fs::exists(model)) fail("{}: no such file or directory", model);
  if (!fs::is_directory(model)) return model;
  const fs::path dir(model);
  if (fs::exists(dir / "manifest.json"))
    if (auto p = pick_from_manifest(dir, backend); !p.empty()) return p;
  if (engine::folder_kind(model) != engine::FolderKind::None) return model;
  std::vector<fs::path> ggufs;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".gguf") ggufs.push_back(e.path());
  if (ggufs.size() == 1) return ggufs[0].string();
  if (ggufs.size() > 1) fail("{}: several .gguf files and no manifest.json naming one; pass the file", model);
  if (fs::exists(dir / "manifest.json")) fail("{}: manifest.json names no GGUF file or MLX folder that exists here", model);
  if (fs::exists(dir / "config.json")) fail("{}: config.json but no *.safetensors weights", model);
  fail("{}: not a model: no .gguf, manifest.json, or config.json with *.safetensors", model);
}

std::string model_name(const std::string& model) {
  fs::path p(model);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // trailing '/'
  if (auto id = formats::manifest_model_id(p)) return *id;
  std::string name = p.filename().string();
  if (name.size() > 5 && name.ends_with(".gguf")) name.resize(name.size() - 5);
  return name.empty() ? "model" : name;
}

engine::ContextOptions Runtime::Impl::context_options(int n_seq) const {
  engine::ContextOptions co;
  co.n_ctx = n_ctx();
  co.n_batch = options.batch;
  co.threads = options.threads;
  co.cache_type_k = engine::cache_type_from_name(options.k_type(), "--cache-type-k");
  co.cache_type_v = engine::cache_type_from_name(options.v_type(), "--cache-type-v");
  co.n_seq = n_seq;
  return co;
}

engine::Context& Runtime::Impl::context() {
  if (!ctx_) ctx_ = std::make_unique<engine::Context>(*model, context_options());
  return *ctx_;
}

double GenerationResult::prefill_tokens_per_second() const {
  const int n = prompt_tokens - cached_prompt_tokens;
  return prefill_seconds > 0 ? n / prefill_seconds : 0;
}
double GenerationResult::decode_tokens_per_second() const {
  return decode_seconds > 0 && tokens.size() > 1 ? (tokens.size() - 1) / decode_seconds : 0;
}

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;
Runtime::~Runtime() = default;

Runtime Runtime::open(const std::string& model, const RuntimeOptions& options) {
  const auto t0 = Clock::now();
  auto impl = std::make_unique<Impl>();
  impl->path = resolve_model_path(model, options.backend);
  impl->options = options;
  impl->model = engine::Model::load(impl->path);
  // A bad --cache-type(-k/-v), or a block type the model's KV rows cannot hold, fails at open, not at first use.
  {
    const auto& hp = impl->model->hp();
    (void)engine::cache_type_from_name(options.cache_type);
    (void)engine::cache_row_bytes(engine::cache_type_from_name(options.k_type(), "--cache-type-k"), hp.max_kv_dim);
    (void)engine::cache_row_bytes(engine::cache_type_from_name(options.v_type(), "--cache-type-v"), hp.max_kv_dim);
  }
  try {
    impl->tokenizer.emplace(text::Tokenizer::load(impl->path));
  } catch (const std::exception& e) {
    impl->tokenizer_error = e.what();
  }
  const auto& ids = impl->model->tokens();
  for (int id : {ids.eos, ids.eot, ids.eom})
    if (id >= 0) impl->eog.insert(id);
  if (impl->tokenizer) {
    // Like llama.cpp: chat-turn terminators count as end of generation even when metadata omits them.
    for (const char* t : {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|return|>", "<|call|>", "<|endoftext|>"})
      if (auto id = impl->tokenizer->find_token(t)) impl->eog.insert(*id);
    // Harmony (gpt-oss): <|end|> closes one message (the analysis) and the turn goes on; the turn ends with
    // <|return|> (answer) or <|call|> (tool call).
    if (impl->tokenizer->find_token("<|return|>") && impl->tokenizer->find_token("<|call|>"))
      if (auto id = impl->tokenizer->find_token("<|end|>")) impl->eog.erase(*id);
  }
  impl->load_seconds = seconds_since(t0);
  return Runtime(std::move(impl));
}

// ---- the generation loop, shared by generate() and Stream ----

// The model's distribution at one position (log-softmax of the raw logits, temperature 1, before penalties,
// truncation and any constraint): the chosen token's logprob and the `top` best alternatives.
static TokenLogprob token_logprob(const float* logits, int n_vocab, int32_t token, int top) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  const float lse = mx + static_cast<float>(std::log(sum));
  TokenLogprob t;
  t.token = token;
  t.logprob = logits[token] - lse;
  if (top > 0) {
    std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
    for (int i = 0; i < n_vocab; ++i) ids[static_cast<size_t>(i)] = i;
    const auto k = std::min<size_t>(static_cast<size_t>(top), ids.size());
    std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    for (size_t i = 0; i < k; ++i) t.top.emplace_back(ids[i], logits[ids[i]] - lse);
  }
  return t;
}

namespace engine {

Generation::Generation(const Runtime::Impl& rt, const InferenceConfig& config, std::span<const int32_t> prompt, int cached)
    : rt_(rt), config_(config), history_(prompt.begin(), prompt.end()) {
  result_.prompt_tokens = static_cast<int>(prompt.size());
  result_.cached_prompt_tokens = cached;
  SamplerParams sp;
  const auto& s = config.sampling;
  sp.temperature = s.temperature;
  sp.top_k = s.top_k;
  sp.top_p = s.top_p;
  sp.min_p = s.min_p;
  sp.repeat_penalty = s.repeat_penalty;
  sp.repeat_last_n = s.repeat_last_n;
  sp.presence_penalty = s.presence_penalty;
  sp.frequency_penalty = s.frequency_penalty;
  sp.seed = config.seed ? *config.seed : std::random_device{}();
  sampler_ = Sampler(sp);
  if (rt.tokenizer) decoder_.emplace(*rt.tokenizer, !config.decode_special);
  stops_ = StopStringFilter(config.stop);
  decode_start_ = Clock::now();
  if (config.max_tokens <= 0) finish("length");
}

void Generation::finish(const char* reason) {
  if (done_) return;
  done_ = true;
  result_.stop_reason = reason;
  result_.decode_seconds = seconds_since(decode_start_);
}

std::string Generation::step(const float* logits, int n_vocab, bool room, int32_t* next) {
  if (done_) return {};
  TokenConstraint* constraint = config_.constraint.get();
  if (constraint && constraint->complete()) {  // the constrained output is whole: end of generation
    std::string tail = stops_.flush(decoder_ ? decoder_->flush() : "");
    result_.text += tail;
    finish("eos");
    return tail;
  }
  int32_t tok = sampler_.sample(logits, n_vocab, history_);
  // Constrained: keep the free draw when the constraint allows it (llama.cpp's order), else draw again from
  // the masked logits.
  if (constraint && !constraint->allows(tok)) {
    masked_.assign(logits, logits + n_vocab);
    constraint->mask(masked_.data(), n_vocab);
    tok = sampler_.sample(masked_.data(), n_vocab, history_);
    if (!constraint->allows(tok)) fail("constrained decoding: no token may come next");
  }
  if (config_.logprobs >= 0) {
    result_.logprobs.push_back(token_logprob(logits, n_vocab, tok, config_.logprobs));
    if (config_.on_logprob) config_.on_logprob(result_.logprobs.back());
  }
  if (constraint) constraint->accept(tok);
  if ((!config_.ignore_eos || constraint) && rt_.eog.count(tok)) {
    std::string tail = stops_.flush(decoder_ ? decoder_->flush() : "");
    result_.text += tail;  // text a partial stop-string match held back
    finish("eos");
    return tail;
  }
  result_.tokens.push_back(tok);
  history_.push_back(tok);
  std::string piece = decoder_ ? decoder_->push(tok) : std::string();
  std::string out = stops_.push(piece);
  result_.text += out;
  if (stops_.stopped()) {
    finish("stop");
    return out;
  }
  const bool length = static_cast<int>(result_.tokens.size()) >= config_.max_tokens;
  if (length || !room) {
    std::string tail = stops_.flush(decoder_ ? decoder_->flush() : "");
    result_.text += tail;
    finish(length ? "length" : "context");
    return out + tail;
  }
  *next = tok;
  return out;
}

}  // namespace engine

// ---- the single-sequence generation loop, shared by generate() and Stream ----

struct Runtime::Stream::State {
  Impl* rt = nullptr;
  InferenceConfig config;
  std::optional<engine::Generation> gen;
  bool done = false;

  void start(std::span<const int32_t> prompt_in) {
    auto& ctx = rt->context();
    std::vector<int32_t> prompt(prompt_in.begin(), prompt_in.end());
    if (prompt.empty()) fail("the prompt is empty");
    if (static_cast<int>(prompt.size()) >= ctx.n_ctx())
      fail("the prompt has {} tokens but the context holds {} (use --ctx)", prompt.size(), ctx.n_ctx());
    // Reuse the cached prefix; always re-evaluate at least the last prompt token to get its logits.
    size_t common = 0;
    while (common < rt->cached.size() && common < prompt.size() && rt->cached[common] == prompt[common]) ++common;
    if (common == prompt.size()) --common;
    // Recurrent layers (qwen35) keep their state only at the end of the cached tokens: reuse all of them or none.
    if (!ctx.can_rewind() && common < static_cast<size_t>(ctx.n_past())) common = 0;
    ctx.truncate(static_cast<int>(common));
    rt->cached.resize(common);
    const auto t0 = Clock::now();
    ctx.eval(std::span<const int32_t>(prompt.data() + common, prompt.size() - common));
    rt->cached = prompt;
    const double prefill = seconds_since(t0);
    gen.emplace(*rt, config, prompt, static_cast<int>(common));
    gen->result().prefill_seconds = prefill;
    done = gen->done();
  }

  void finish(const char* reason) {
    gen->finish(reason);
    done = true;
  }

  // Produces the next piece of text (possibly empty) or nullopt when generation has ended.
  std::optional<std::string> step() {
    if (done) return std::nullopt;
    auto& ctx = rt->context();
    int32_t tok = -1;
    std::string out = gen->step(ctx.logits(0), ctx.n_vocab(), ctx.n_past() < ctx.n_ctx(), &tok);
    if (gen->done()) {
      done = true;
      return out;
    }
    ctx.eval(std::span<const int32_t>(&tok, 1));
    rt->cached.push_back(tok);
    return out;
  }
};

Runtime::Stream::Stream(std::unique_ptr<State> s) : s_(std::move(s)) {}
Runtime::Stream::Stream(Stream&&) noexcept = default;
Runtime::Stream::~Stream() = default;
std::optional<std::string> Runtime::Stream::next() {
  while (true) {
    auto piece = s_->step();
    if (!piece) return std::nullopt;
    if (!piece->empty() || s_->done) return piece;
  }
}
const GenerationResult& Runtime::Stream::result() const { return s_->gen->result(); }

Runtime::Stream Runtime::stream(std::string_view prompt, const InferenceConfig& config) {
  auto st = std::make_unique<Stream::State>();
  st->rt = impl_.get();
  st->config = config;
  st->start(tokenize(prompt, config.add_bos, true));
  return Stream(std::move(st));
}

GenerationResult Runtime::generate_tokens(std::span<const int32_t> prompt, const InferenceConfig& config, const PieceCallback& on_piece) {
  Stream::State st;
  st.rt = impl_.get();
  st.config = config;
  st.start(prompt);
  while (auto piece = st.step()) {
    if (on_piece && !piece->empty() && !on_piece(*piece)) {
      st.finish("callback");
      break;
    }
  }
  return st.gen->result();
}

GenerationResult Runtime::generate(std::string_view prompt, const InferenceConfig& config, const PieceCallback& on_piece) {
  return generate_tokens(tokenize(prompt, config.add_bos, true), config, on_piece);
}

Runtime::ChatTemplateInfo Runtime::chat_template_info() const {
  const auto& tok = impl_->tok();
  ChatTemplateInfo info;
  info.source = tok.chat_template();
  // Model folders may keep the template outside tokenizer_config.json (chat_template.jinja / .json).
  if (info.source.empty() && fs::is_directory(impl_->path)) info.source = text::load_chat_template_source(impl_->path).source;
  if (info.source.empty()) fail("{}: the model has no chat template (tokenizer.chat_template)", impl_->path);
  if (auto b = tok.bos_id()) info.bos_token = tok.token_text(*b);
  if (auto e = tok.eos_id()) info.eos_token = tok.token_text(*e);
  return info;
}

std::string Runtime::apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  const ChatTemplateInfo t = chat_template_info();
  nlohmann::json msgs = nlohmann::json::array();
  for (const auto& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::json extra = nlohmann::json::object();
  if (!t.bos_token.empty()) extra["bos_token"] = t.bos_token;
  if (!t.eos_token.empty()) extra["eos_token"] = t.eos_token;
  return text::ChatTemplate(t.source).render(msgs, nullptr, add_generation_prompt, extra);
}

GenerationResult Runtime::chat(const std::vector<ChatMessage>& messages, const InferenceConfig& config, const PieceCallback& on_piece) {
  const std::string prompt = apply_chat_template(messages, true);
  // The template writes BOS itself when the model wants one; don't add a second.
  return generate_tokens(tokenize(prompt, false, true), config, on_piece);
}

std::vector<float> Runtime::evaluate(std::span<const int32_t> tokens) {
  auto& ctx = impl_->context();
  if (static_cast<int>(tokens.size()) > ctx.n_ctx()) fail("{} tokens do not fit the context of {}", tokens.size(), ctx.n_ctx());
  ctx.reset();
  impl_->cached.clear();
  ctx.eval(tokens, true);
  impl_->cached.assign(tokens.begin(), tokens.end());
  return std::vector<float>(ctx.logits(0), ctx.logits(0) + tokens.size() * static_cast<size_t>(ctx.n_vocab()));
}

BenchmarkResult Runtime::benchmark(int prompt_tokens, int gen_tokens, int repetitions) {
  auto& ctx = impl_->context();
  if (prompt_tokens > ctx.n_ctx() || gen_tokens > ctx.n_ctx()) fail("benchmark needs a context of at least {} tokens", std::max(prompt_tokens, gen_tokens));
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> pick(0, ctx.n_vocab() - 1);
  std::vector<int32_t> prompt(prompt_tokens);
  for (auto& t : prompt) t = pick(rng);
  BenchmarkResult r;
  r.load_seconds = impl_->load_seconds;
  r.prompt_tokens = prompt_tokens;
  r.gen_tokens = gen_tokens;
  r.threads = ctx.threads();
  r.model_bytes = impl_->model->gguf().file_bytes();
  double best_pp = 0, best_tg = 0;
  for (int rep = 0; rep < std::max(1, repetitions); ++rep) {
    if (prompt_tokens > 0) {
      ctx.reset();
      const auto t0 = Clock::now();
      ctx.eval(prompt);
      best_pp = std::max(best_pp, prompt_tokens / seconds_since(t0));
    }
    if (gen_tokens > 0) {
      ctx.reset();
      int32_t tok = pick(rng);
      const auto t0 = Clock::now();
      for (int i = 0; i < gen_tokens; ++i) {
        ctx.eval(std::span<const int32_t>(&tok, 1));
        tok = static_cast<int32_t>(std::max_element(ctx.logits(0), ctx.logits(0) + ctx.n_vocab()) - ctx.logits(0));
      }
      best_tg = std::max(best_tg, gen_tokens / seconds_since(t0));
    }
  }
  ctx.reset();
  impl_->cached.clear();
  r.prefill_tokens_per_second = best_pp;
  r.decode_tokens_per_second = best_tg;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  r.peak_rss_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  return r;
}

std::vector<int32_t> Runtime::tokenize(std::string_view text, bool add_special, bool parse_special) const {
  text::EncodeOptions o;
  o.add_special = add_special;
  o.parse_special = parse_special;
  auto ids = impl_->tok().encode(text, o);
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string Runtime::detokenize(std::span<const int32_t> tokens) const {
  std::vector<text::TokenId> ids(tokens.begin(), tokens.end());
  return impl_->tok().decode(ids, false);
}

bool Runtime::is_end_of_generation(int32_t token) const { return impl_->eog.count(token) != 0; }
uint64_t Runtime::instance_id() const { return impl_->instance; }
std::string Runtime::token_bytes(int32_t token) const { return impl_->tok().token_bytes(token); }
bool Runtime::is_special_token(int32_t token) const { return impl_->tok().is_special(token); }

void Runtime::reset() {
  impl_->context().reset();
  impl_->cached.clear();
}

ModelInfo Runtime::info() const {
  const auto& hp = impl_->model->hp();
  ModelInfo i;
  i.path = impl_->path;
  i.architecture = hp.arch;
  i.name = impl_->model->gguf().get_string("general.name").value_or("");
  i.n_vocab = hp.n_vocab;
  i.n_embd = hp.n_embd;
  i.n_layer = hp.n_layer;
  i.n_head = hp.n_head;
  i.n_head_kv = hp.n_head_kv;
  i.n_ctx_train = hp.n_ctx_train;
  i.ctx = impl_->n_ctx();
  i.threads = impl_->options.threads > 0 ? impl_->options.threads : engine::default_thread_count();
  i.bos_token = impl_->model->tokens().bos;
  i.add_bos = impl_->model->tokens().add_bos && i.bos_token >= 0;
  i.file_bytes = impl_->model->gguf().file_bytes();
  i.cache_type_k = engine::cache_type_name(engine::cache_type_from_name(impl_->options.k_type()));
  i.cache_type_v = engine::cache_type_name(engine::cache_type_from_name(impl_->options.v_type()));
  i.cache_type = i.cache_type_k == i.cache_type_v ? i.cache_type_k : i.cache_type_k + "/" + i.cache_type_v;
  i.load_seconds = impl_->load_seconds;
  return i;
}

}  // namespace lp

namespace lp::engine {

void set_observers(Runtime& runtime, Observers observers) { runtime.impl().context().set_observers(std::move(observers)); }

}  // namespace lp::engine
