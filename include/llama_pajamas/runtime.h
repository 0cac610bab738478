// Llama-Pajamas embedder API: load a GGUF (or a pipeline output folder) and run it on the CPU.
//
//   auto rt = lp::Runtime::open("model.gguf", {.threads = 8, .ctx = 4096});
//   lp::InferenceConfig cfg;  cfg.max_tokens = 64;  cfg.sampling.temperature = 0;
//   rt.generate("Once upon a time", cfg, [](std::string_view piece) { std::cout << piece; return true; });
//
// Errors are thrown as lp::Error (a std::runtime_error) with a one-line message. A Runtime's generate/chat/
// stream calls use one sequence (KV cache) and are not thread-safe; for several concurrent callers put an
// lp::Scheduler (llama_pajamas/scheduler.h) over the Runtime: it decodes their sequences together.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lp {

enum class Backend { Auto, Cpu };

struct RuntimeOptions {
  Backend backend = Backend::Auto;  // Auto == Cpu today; picks the artifact of a manifest folder
  int threads = 0;                  // 0: physical cores
  int ctx = 4096;                   // context length in tokens (0: the model's training context)
  std::string cache_type = "f16";   // KV cache of K and V: "f32", "f16", "bf16", "q8_0", "q4_0"
  std::string cache_type_k{}, cache_type_v{};  // K's / V's own type (llama.cpp's -ctk / -ctv); "" = cache_type
  const std::string& k_type() const { return cache_type_k.empty() ? cache_type : cache_type_k; }
  const std::string& v_type() const { return cache_type_v.empty() ? cache_type : cache_type_v; }
  int batch = 512;                  // prompt tokens per forward pass
};

struct SamplingOptions {
  float temperature = 0.8f;  // <= 0: greedy
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
};

// Constrained decoding (structured output, tool arguments): consulted by the sampler at every step.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // May `token` come next? End-of-generation tokens are allowed only where the output may end.
  virtual bool allows(int32_t token) = 0;
  // Sets the logit of every token that may not come next to -infinity.
  virtual void mask(float* logits, int n_vocab) = 0;
  // `token` was chosen (allows(token) was true).
  virtual void accept(int32_t token) = 0;
  // Nothing but end-of-generation may follow: the generation ends here.
  virtual bool complete() const = 0;
  // A fresh copy in the same state, for another sequence (lp::Scheduler's n > 1 choices each need their own);
  // null when the constraint cannot be copied (such a constraint is refused with n > 1).
  virtual std::shared_ptr<TokenConstraint> clone() const { return nullptr; }
};

// Log-probabilities of one generated token and of the top alternatives at its position.
struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // best first
};

struct InferenceConfig {
  int max_tokens = 256;
  SamplingOptions sampling;
  std::vector<std::string> stop;  // generation ends before the first occurrence of any of these
  std::optional<uint64_t> seed;   // unset: random
  bool add_bos = true;            // prepend BOS when the model's vocabulary asks for it
  bool ignore_eos = false;
  bool decode_special = false;    // special tokens appear in the text (tool-call and channel markers)
  std::shared_ptr<TokenConstraint> constraint;  // null: unconstrained
  int logprobs = -1;              // >= 0: record each token's logprob and this many top alternatives
  // with logprobs >= 0: each one as it is recorded (lp::Scheduler: on its worker thread; use Piece::logprobs)
  std::function<void(const TokenLogprob&)> on_logprob;
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct GenerationResult {
  std::string text;
  std::vector<int32_t> tokens;      // generated ids
  int prompt_tokens = 0;
  int cached_prompt_tokens = 0;     // prompt prefix reused from the previous call's KV cache
  double prefill_seconds = 0, decode_seconds = 0;
  std::string stop_reason;          // "eos", "stop", "length", "callback", "context"
  std::vector<TokenLogprob> logprobs;  // per generated token when InferenceConfig::logprobs >= 0
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

struct BenchmarkResult {
  double load_seconds = 0;
  int prompt_tokens = 0, gen_tokens = 0;
  double prefill_tokens_per_second = 0, decode_tokens_per_second = 0;
  uint64_t peak_rss_bytes = 0, model_bytes = 0;
  int threads = 0;
};

struct ModelInfo {
  std::string path, architecture, name;
  int n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ctx_train = 0;
  int ctx = 0, threads = 0;
  int bos_token = -1;    // -1: none
  bool add_bos = false;  // the vocabulary asks for BOS at the start of a sequence
  uint64_t file_bytes = 0;
  std::string cache_type;                  // "f16", or "K/V" (e.g. "q8_0/q4_0") when they differ
  std::string cache_type_k, cache_type_v;
  double load_seconds = 0;
};

// Called with each piece of decoded text (never half a UTF-8 character); return false to stop.
using PieceCallback = std::function<bool(std::string_view piece)>;

// The file or folder Runtime::open loads for `model` (the same rules; throws lp::Error the same way). Tools that
// only need the tokenizer or the chat template use it so they accept every path `generate` accepts.
std::string resolve_model_path(const std::string& model, Backend backend = Backend::Auto);

// A model's name for people and for /v1/models: manifest.json's model.id for a pipeline output folder, else the
// file or folder name without ".gguf".
std::string model_name(const std::string& model);

class Runtime {
 public:
  // `model`: a .gguf file; a pipeline output folder with manifest.json (the artifact fitting options.backend:
  // CPU prefers a GGUF, else an MLX folder); an HF checkpoint folder (config.json + F32/F16/BF16 safetensors);
  // an MLX folder (config.json "quantization" + U32-packed affine weights); or a folder holding one .gguf.
  static Runtime open(const std::string& model, const RuntimeOptions& options = {});
  Runtime(Runtime&&) noexcept;
  Runtime& operator=(Runtime&&) noexcept;
  ~Runtime();

  GenerationResult generate(std::string_view prompt, const InferenceConfig& config, const PieceCallback& on_piece = {});
  GenerationResult generate_tokens(std::span<const int32_t> prompt, const InferenceConfig& config, const PieceCallback& on_piece = {});

  // Renders the model's chat template (tokenizer.chat_template) and generates the assistant reply.
  GenerationResult chat(const std::vector<ChatMessage>& messages, const InferenceConfig& config, const PieceCallback& on_piece = {});
  std::string apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;
  // The chat template's source and the BOS/EOS texts it is rendered with (throws lp::Error when there is none).
  struct ChatTemplateInfo {
    std::string source, bos_token, eos_token;
  };
  ChatTemplateInfo chat_template_info() const;

  // Iterator form: `auto s = rt.stream(prompt, cfg); while (auto piece = s.next()) use(*piece);`
  class Stream {
   public:
    std::optional<std::string> next();  // nullopt when finished
    const GenerationResult& result() const;
    Stream(Stream&&) noexcept;
    ~Stream();

   private:
    friend class Runtime;
    struct State;
    explicit Stream(std::unique_ptr<State> s);
    std::unique_ptr<State> s_;
  };
  Stream stream(std::string_view prompt, const InferenceConfig& config);

  // Logits (n_tokens x n_vocab, row-major) of every position, evaluated from an empty context.
  std::vector<float> evaluate(std::span<const int32_t> tokens);

  // llama-bench style: pp<prompt_tokens> prefill and tg<gen_tokens> decode from an empty context.
  BenchmarkResult benchmark(int prompt_tokens = 512, int gen_tokens = 128, int repetitions = 1);

  std::vector<int32_t> tokenize(std::string_view text, bool add_special = true, bool parse_special = true) const;
  std::string detokenize(std::span<const int32_t> tokens) const;
  bool is_end_of_generation(int32_t token) const;
  // A token's bytes as the decoder emits them (what constrained decoding matches), and whether it is a
  // control / special token (left out of the text unless InferenceConfig::decode_special).
  std::string token_bytes(int32_t token) const;
  bool is_special_token(int32_t token) const;
  // Unique per opened model in this process (caches keyed by model use it; addresses get reused).
  uint64_t instance_id() const;
  void reset();  // forget the cached conversation
  ModelInfo info() const;

  struct Impl;  // engine internals (src/engine/runtime.cpp)
  Impl& impl() { return *impl_; }

 private:
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lp
