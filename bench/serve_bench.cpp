// Constrained decoding cost on a real vocabulary (docs/PERFORMANCE.md, "Structured output"). Needs a model:
// LP_BENCH_MODEL = a folder the runtime opens, e.g. the Qwen3-0.6B shape with Qwen3's real tokenizer:
//   llama-pajamas-quant make-test-model --family qwen3 --preset qwen3-0.6b --seed 1 -o /tmp/q06
//   cp tests/data/tokenizer/qwen3/tokenizer*.json /tmp/q06/
//   LP_BENCH_MODEL=/tmp/q06 build/release/bench/bench_serve
// Benchmarks (same run, so ratios are meaningful):
//   Decode/free          greedy decode of 64 tokens, no constraint
//   Decode/json_schema   the same under a json_schema constraint (an array of strings: never complete, so all
//                        64 tokens are constrained); random weights want invalid tokens, so most steps mask the
//                        whole vocabulary (the worst case) from the per-state mask cache
//   Decode/json_schema_ints  an array of integers: almost no token the model wants is allowed, so every step
//                        masks the vocabulary and draws again (the worst case)
//   MaskCold/<state>     one uncached mask of the 151,936-token vocabulary (a fresh grammar each iteration)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>

#include "llama_pajamas/runtime.h"
#include "serve/constraints.h"

namespace {

using nlohmann::ordered_json;

lp::Runtime* model() {
  static std::unique_ptr<lp::Runtime> rt = [] {
    const char* p = std::getenv("LP_BENCH_MODEL");
    if (!p) return std::unique_ptr<lp::Runtime>();
    lp::RuntimeOptions o;
    o.ctx = 512;
    return std::make_unique<lp::Runtime>(lp::Runtime::open(p, o));
  }();
  return rt.get();
}

const ordered_json kSchema = ordered_json::parse(R"({"type": "array", "items": {"type": "string"}})");
const ordered_json kObject = ordered_json::parse(R"({"type": "object", "properties": {"name": {"type": "string"},
  "age": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}, "required": ["name", "age"]})");

std::shared_ptr<lp::serve::GrammarConstraint> constraint(const ordered_json& schema, const std::string& key) {
  return lp::serve::grammar_constraint(*model(), false, key, [&](lp::text::Grammar& g) { return lp::text::compile_json_schema(g, schema); });
}

// Times every call into the constraint (allows / mask / accept / complete) during a generation: the overhead
// of constrained decoding as a share of the same generation's wall time, robust to a loaded machine.
class Timed : public lp::TokenConstraint {
 public:
  explicit Timed(std::shared_ptr<lp::TokenConstraint> c) : c_(std::move(c)) {}
  bool allows(int32_t t) override {
    Clock clock(seconds);
    return c_->allows(t);
  }
  void mask(float* l, int n) override {
    Clock clock(seconds);
    ++masks;
    c_->mask(l, n);
  }
  void accept(int32_t t) override {
    Clock clock(seconds);
    c_->accept(t);
  }
  bool complete() const override { return c_->complete(); }
  double seconds = 0;
  int masks = 0;

 private:
  struct Clock {
    explicit Clock(double& s) : sum(s), t0(std::chrono::steady_clock::now()) {}
    ~Clock() { sum += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
    double& sum;
    std::chrono::steady_clock::time_point t0;
  };
  std::shared_ptr<lp::TokenConstraint> c_;
};

const ordered_json kInts = ordered_json::parse(R"({"type": "array", "items": {"type": "integer"}, "minItems": 30})");

void Decode(benchmark::State& state, const ordered_json* schema) {
  const bool constrained = schema != nullptr;
  if (!model()) return state.SkipWithError("set LP_BENCH_MODEL to a model folder");
  auto& rt = *model();
  const auto prompt = rt.tokenize("Give me a JSON list of fruit names:", true, true);
  int64_t tokens = 0;
  double in_constraint = 0, total = 0;
  int masks = 0;
  for (auto _ : state) {
    lp::InferenceConfig c;
    c.max_tokens = 64;
    c.sampling.temperature = 0;
    c.ignore_eos = true;
    c.seed = 1;
    std::shared_ptr<Timed> timed;
    if (constrained) c.constraint = timed = std::make_shared<Timed>(constraint(*schema, schema->dump()));  // cache warm after run 1
    rt.reset();
    const auto r = rt.generate_tokens(prompt, c);
    tokens += static_cast<int64_t>(r.tokens.size());
    total += r.decode_seconds;
    if (timed) {
      in_constraint += timed->seconds;
      masks += timed->masks;
    }
    if (!constrained && static_cast<int>(r.tokens.size()) != c.max_tokens) state.SkipWithError("stopped early");
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  if (constrained) {
    state.counters["constraint_ms/tok"] = 1e3 * in_constraint / static_cast<double>(tokens);
    state.counters["decode_ms/tok"] = 1e3 * (total - in_constraint) / static_cast<double>(tokens);
    state.counters["overhead_%"] = 100 * in_constraint / (total - in_constraint);
    state.counters["masked_steps_%"] = 100.0 * masks / static_cast<double>(tokens);
  }
}
BENCHMARK_CAPTURE(Decode, free, nullptr)->Unit(benchmark::kMillisecond)->MinTime(4.0)->UseRealTime();
BENCHMARK_CAPTURE(Decode, json_schema, &kSchema)->Unit(benchmark::kMillisecond)->MinTime(4.0)->UseRealTime();
BENCHMARK_CAPTURE(Decode, json_schema_ints, &kInts)->Unit(benchmark::kMillisecond)->MinTime(4.0)->UseRealTime();

// One uncached mask in a given state: reached by feeding `prefix` (token by token is not needed: bytes).
void MaskCold(benchmark::State& state, const ordered_json& schema, std::string prefix) {
  if (!model()) return state.SkipWithError("set LP_BENCH_MODEL to a model folder");
  const int n = model()->info().n_vocab;
  std::vector<float> logits(static_cast<size_t>(n), 0.0f);
  int64_t i = 0, allowed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto c = constraint(schema, "cold" + std::to_string(i++));  // a fresh grammar: nothing cached
    // Feed the prefix through tokens of single characters.
    for (char ch : prefix) {
      const auto ids = model()->tokenize(std::string(1, ch), false, false);
      for (auto id : ids) c->accept(id);
    }
    state.ResumeTiming();
    c->mask(logits.data(), n);
    state.PauseTiming();
    allowed = 0;
    for (float x : logits) allowed += x == 0.0f;
    std::fill(logits.begin(), logits.end(), 0.0f);
    state.ResumeTiming();
  }
  state.counters["allowed"] = static_cast<double>(allowed);
}
BENCHMARK_CAPTURE(MaskCold, object_start, kObject, "")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(MaskCold, in_string, kObject, "{\"name\":\"ab")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(MaskCold, after_key, kObject, "{\"name\":")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(MaskCold, in_integer, kObject, "{\"name\":\"x\",\"age\":1")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
