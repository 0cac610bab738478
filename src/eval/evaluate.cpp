#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "core/threads.h"
#include "core/units.h"
#include "engine/context.h"
#include "engine/runtime_impl.h"
#include "eval/artifacts.h"
#include "eval/scoring.h"
#include "formats/manifest.h"
#include "llama_pajamas/runtime.h"
#include "serve/chat_prompt.h"
#include "serve/constraints.h"
#include "serve/openai_api.h"

namespace lp::eval {

namespace fs = std::filesystem;
using nlohmann::json;
using ojson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Peak resident memory of this process since the last reset_peak_rss() (Linux: VmHWM, reset through
// /proc/self/clear_refs so each artifact of a folder gets its own peak); getrusage's lifetime peak elsewhere.
void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (f) f << "5";
}
uint64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// log p(token) from one row of logits, in double.
double log_softmax_at(const float* logits, int n_vocab, int32_t token) {
  float mx = logits[0];
  for (int i = 1; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  return static_cast<double>(logits[token]) - mx - std::log(sum);
}

struct Encoded {
  std::vector<int32_t> context;
  std::vector<std::vector<int32_t>> continuations;
  std::vector<size_t> bytes;
};

// lm-evaluation-harness's _encode_pair: trailing whitespace of the context moves to the front of each
// continuation; continuation = encode(context + choice)[len(encode(context)):]. BOS (when the vocabulary asks for
// it) starts the context; encode adds no other special token and reads no special-token text.
Encoded encode_item(const Runtime& rt, const SuiteItem& it, bool add_bos, int32_t bos) {
  std::string ctx = it.question;
  std::string moved;
  while (!ctx.empty() && std::string_view(" \t\n\r\f\v").find(ctx.back()) != std::string_view::npos) {
    moved.insert(moved.begin(), ctx.back());
    ctx.pop_back();
  }
  Encoded e;
  if (add_bos) e.context.push_back(bos);
  const auto ctoks = rt.tokenize(ctx, false, false);
  e.context.insert(e.context.end(), ctoks.begin(), ctoks.end());
  if (e.context.empty()) fail("{}: question '{}' has no tokens to condition on", it.id, it.question);
  for (const auto& choice : it.choices) {
    const auto whole = rt.tokenize(ctx + moved + choice, false, false);
    std::vector<int32_t> cont;
    if (whole.size() > ctoks.size()) cont.assign(whole.begin() + static_cast<std::ptrdiff_t>(ctoks.size()), whole.end());
    if (cont.empty()) fail("{}: choice '{}' adds no tokens to the question", it.id, choice);
    e.continuations.push_back(std::move(cont));
    e.bytes.push_back(choice.size());
  }
  return e;
}

}  // namespace

std::vector<LoglikResult> loglik_choices(Runtime& rt, const std::vector<const SuiteItem*>& items, int threads,
                                         LoglikStats* stats, const std::function<void()>& on_item) {
  std::vector<LoglikResult> out;
  if (items.empty()) return out;
  Runtime::Impl& impl = rt.impl();
  const ModelInfo info = rt.info();
  std::vector<Encoded> enc;
  int n_seq = 1, seq_need = 1;
  for (const SuiteItem* it : items) {
    enc.push_back(encode_item(rt, *it, info.add_bos, info.bos_token));
    n_seq = std::max(n_seq, static_cast<int>(it->choices.size()));
    for (const auto& c : enc.back().continuations) seq_need = std::max(seq_need, static_cast<int>(enc.back().context.size() + c.size()));
  }
  const int train = impl.model->hp().n_ctx_train;
  if (train > 0 && seq_need > train)
    fail("a question with its longest choice takes {} tokens; the model's context is {}", seq_need, train);
  // One KV sequence per choice, each as long as the longest question + choice (rounded up).
  engine::ContextOptions co = impl.context_options(n_seq);
  const int seq_ctx = (seq_need + 31) / 32 * 32;
  co.n_ctx = seq_ctx * n_seq;
  co.threads = thread_count(threads);
  co.n_batch = std::max(co.n_batch, 512);
  engine::Context ctx(*impl.model, co);
  const int n_vocab = ctx.n_vocab();
  for (size_t q = 0; q < items.size(); ++q) {
    const Encoded& e = enc[q];
    const int np = static_cast<int>(e.context.size());
    const auto t0 = Clock::now();
    ctx.reset();
    std::vector<engine::BatchRow> rows;
    for (int i = 0; i < np; ++i) rows.push_back({0, i, e.context[i], i == np - 1});
    ctx.decode(rows);
    // The question's last position predicts every choice's first token.
    std::vector<float> first(ctx.batch_logits(0), ctx.batch_logits(0) + n_vocab);
    const int k = static_cast<int>(e.continuations.size());
    for (int s = 1; s < k; ++s) ctx.seq_copy(0, s, np);
    rows.clear();
    for (int s = 0; s < k; ++s) {
      const auto& c = e.continuations[s];
      for (size_t j = 0; j < c.size(); ++j) rows.push_back({s, np + static_cast<int>(j), c[j], j + 1 < c.size()});
    }
    ctx.decode(rows);
    LoglikResult r;
    r.context_tokens = np;
    int flagged = 0;
    int64_t evaluated = np;
    for (int s = 0; s < k; ++s) {
      const auto& c = e.continuations[s];
      double sum = log_softmax_at(first.data(), n_vocab, c[0]);
      for (size_t j = 1; j < c.size(); ++j) sum += log_softmax_at(ctx.batch_logits(flagged++), n_vocab, c[j]);
      r.logliks.push_back(sum);
      r.continuation_tokens.push_back(static_cast<int>(c.size()));
      r.continuation_bytes.push_back(e.bytes[s]);
      evaluated += static_cast<int64_t>(c.size());
    }
    if (stats) {
      stats->tokens += evaluated;
      stats->seconds += seconds_since(t0);
    }
    out.push_back(std::move(r));
    if (on_item) on_item();
  }
  return out;
}

namespace {

std::string precision_of_checkpoint(const fs::path& dir) {
  try {
    const json cfg = read_json_file(dir / "config.json");
    const std::string d = cfg.value("torch_dtype", cfg.value("dtype", std::string()));
    if (d == "bfloat16") return "BF16";
    if (d == "float16") return "F16";
    if (d == "float32") return "F32";
  } catch (const std::exception&) {
  }
  return "original";
}

uint64_t folder_bytes(const fs::path& dir, const std::string& ext) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && (ext.empty() || e.path().extension() == ext)) n += e.file_size();
  return n;
}

// evaluation.json beside an artifact: NAME.gguf -> NAME.evaluation.json; a folder -> FOLDER/evaluation.json.
fs::path output_beside(const fs::path& artifact) {
  if (artifact.extension() == ".gguf") return artifact.parent_path() / (artifact.stem().string() + ".evaluation.json");
  return artifact / "evaluation.json";
}

EvaluationTarget lone_target(const std::string& model) {
  EvaluationTarget t;
  const std::string resolved = resolve_model_path(model);
  const fs::path p(resolved);
  t.full_path = resolved;
  t.path = p.filename().string();
  t.output = output_beside(p).string();
  if (p.extension() == ".gguf") {
    t.format = "gguf";
    t.precision = gguf_precision_name(resolved);
    t.size_bytes = fs::file_size(p);
    t.bpw = gguf_bits_per_weight(resolved);
  } else {
    json cfg;
    try {
      cfg = read_json_file(p / "config.json");
    } catch (const std::exception&) {
    }
    if (cfg.is_object() && cfg.contains("quantization") && cfg["quantization"].is_object()) {
      t.format = "mlx";
      t.precision = fmt::format("{}bit", cfg["quantization"].value("bits", 0));
    } else {
      t.format = "hf";
      t.precision = precision_of_checkpoint(p);
    }
    t.size_bytes = folder_bytes(p, ".safetensors");
  }
  return t;
}

}  // namespace

std::vector<EvaluationTarget> evaluation_targets(const EvaluateOptions& o, std::string* manifest_dir) {
  const fs::path dir(o.model);
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || !fs::exists(dir / "manifest.json", ec)) {
    if (!fs::exists(dir, ec)) fail("{}: no such file or folder", o.model);
    return {lone_target(o.model)};
  }
  if (manifest_dir) *manifest_dir = dir.string();
  const formats::Manifest m = formats::Manifest::read(dir / "manifest.json");
  std::vector<EvaluationTarget> out;
  for (const auto& a : m.formats) {
    EvaluationTarget t;
    t.format = a.format;
    t.precision = a.precision;
    t.path = a.path;
    t.full_path = (dir / a.path).string();
    t.size_bytes = a.size_bytes;
    if (a.bpw > 0) t.bpw = a.bpw;
    t.output = output_beside(dir / a.path).string();
    out.push_back(std::move(t));
  }
  if (out.empty()) fail("{}/manifest.json lists no artifacts", o.model);
  // The original checkpoint as the baseline row, once, when the manifest names it and it is still there.
  if (o.baseline && m.sections.contains("model") && m.sections["model"].is_object() && m.sections["model"].contains("source") &&
      m.sections["model"]["source"].is_string()) {
    const fs::path src = m.sections["model"]["source"].get<std::string>();
    if (fs::is_directory(src, ec) && fs::exists(src / "config.json", ec)) {
      EvaluationTarget t;
      t.format = "hf";
      t.precision = precision_of_checkpoint(src);
      const fs::path rel = fs::relative(src, dir, ec);
      t.path = ec || rel.empty() ? src.string() : rel.string();
      t.full_path = src.string();
      t.size_bytes = folder_bytes(src, ".safetensors");
      t.output = (dir / "original.evaluation.json").string();
      t.baseline = true;
      out.push_back(std::move(t));
    }
  }
  return out;
}

namespace {

struct GenStats {
  int64_t prefill_tokens = 0, decode_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

struct Generated {
  std::string content;
  std::vector<text::ToolCall> calls;
  std::string error;
};

// One question through the model's chat template (the server's request path: template with tools, the format's
// special-token decoding, the tool-call parser), greedy.
Generated generate_reply(Runtime& rt, const SuiteItem& it, const std::string& question, const EvaluateOptions& o,
                         bool has_template, bool thinking_switch, GenStats& st) {
  Generated g;
  rt.reset();  // every question from an empty cache: results do not depend on the order of questions
  GenerationResult res;
  if (!has_template) {
    if (it.type == ItemType::ToolCall) {
      g.error = "the model has no chat template: tools cannot be offered";
      return g;
    }
    InferenceConfig cfg;
    cfg.max_tokens = o.max_tokens;
    cfg.sampling.temperature = 0;
    cfg.seed = 0;
    const std::string prompt = (it.system.empty() ? "" : it.system + "\n\n") + question + "\n";
    res = rt.generate(prompt, cfg);
    g.content = res.text;
  } else {
    ojson messages = ojson::array();
    if (!it.system.empty()) messages.push_back({{"role", "system"}, {"content", it.system}});
    messages.push_back({{"role", "user"}, {"content", question}});
    ojson body = {{"messages", messages}, {"max_tokens", o.max_tokens}, {"temperature", 0}, {"seed", 0}};
    if (it.type == ItemType::ToolCall) body["tools"] = it.tools;
    if (thinking_switch) body["chat_template_kwargs"] = {{"enable_thinking", false}};
    serve::RequestDefaults d;
    d.config.sampling.temperature = 0;
    d.config.max_tokens = o.max_tokens;
    d.max_tokens = o.max_tokens;
    serve::GenerationRequest r = serve::parse_chat_request(body.dump(), d);
    const serve::ChatPrompt p = serve::render_chat_prompt(rt.chat_template_info(), r);
    serve::configure_generation(rt, r, &p);
    res = rt.generate_tokens(rt.tokenize(p.text, false, true), r.config);
    const text::ParsedMessage m = text::parse_reply(p.format, res.text, false, p.in_reasoning);
    g.content = m.content;
    g.calls = m.tool_calls;
  }
  st.prefill_tokens += res.prompt_tokens - res.cached_prompt_tokens;
  st.prefill_seconds += res.prefill_seconds;
  if (res.tokens.size() > 1) {
    st.decode_tokens += static_cast<int64_t>(res.tokens.size()) - 1;
    st.decode_seconds += res.decode_seconds;
  }
  return g;
}

ojson number_or_null(double v, bool ok) { return ok ? ojson(v) : ojson(nullptr); }

ojson ci_json(int correct, int total) {
  const auto [lo, hi] = wilson_interval(correct, total);
  return ojson::array({lo, hi});
}

}  // namespace

ojson evaluate_target(const EvaluationTarget& t, const Suite& suite, const EvaluateOptions& o) {
  ojson j;
  j["schema"] = "llama-pajamas/evaluation";
  j["version"] = 1;
  j["artifact"] = {{"path", t.path}, {"format", t.format}, {"precision", t.precision}, {"size_bytes", t.size_bytes},
                   {"bpw", t.bpw ? ojson(*t.bpw) : ojson(nullptr)}};
  if (t.baseline) j["artifact"]["baseline"] = true;
  j["suite"] = {{"name", suite.name}, {"sha256", suite.sha256}, {"questions", suite.items.size()}};
  j["method"] = o.method == "auto" ? "generate" : o.method;
  j["settings"] = ojson::object();
  j["overall"] = nullptr;
  j["categories"] = ojson::object();
  j["speed"] = nullptr;
  j["items"] = ojson::array();
  j["failed"] = nullptr;
  j["created"] = iso_now();
  const auto t0 = Clock::now();
  reset_peak_rss();
  try {
    RuntimeOptions ro;
    ro.threads = o.threads;
    ro.ctx = o.ctx;
    ro.cache_type = o.cache_type;
    Runtime rt = Runtime::open(t.full_path, ro);
    std::string template_source;
    bool has_template = false;
    try {
      template_source = rt.chat_template_info().source;
      has_template = !template_source.empty();
    } catch (const std::exception&) {
    }
    const std::string method = o.method == "auto" ? (has_template ? "generate" : "loglik") : o.method;
    const bool thinking_switch = has_template && template_source.find("enable_thinking") != std::string::npos;
    j["method"] = method;
    j["settings"] = {{"method", method},
                     {"method_requested", o.method},
                     {"seed", 0},
                     {"sampling", "greedy"},
                     {"threads", thread_count(o.threads)},
                     {"max_tokens", o.max_tokens},
                     {"ctx", o.ctx},
                     {"cache_type", o.cache_type},
                     {"categories", o.categories.empty() ? ojson(suite_categories()) : ojson(o.categories)},
                     {"limit_per_category", o.limit},
                     {"template", has_template ? "model" : "none"},
                     {"template_sha256", has_template ? ojson(sha256_hex(template_source)) : ojson(nullptr)},
                     {"enable_thinking", thinking_switch ? ojson(false) : ojson(nullptr)},
                     {"deterministic", true}};

    Progress bar(fmt::format("evaluate {} {}", t.format, t.precision), suite.items.size(), o.progress);
    std::vector<ojson> items(suite.items.size());
    // Multiple choice by log-likelihood first (one pass per question over its choices).
    std::vector<const SuiteItem*> mc;
    std::vector<size_t> mc_index;
    if (method == "loglik")
      for (size_t i = 0; i < suite.items.size(); ++i)
        if (suite.items[i].type == ItemType::MultipleChoice) mc.push_back(&suite.items[i]), mc_index.push_back(i);
    LoglikStats ls;
    const auto ll = loglik_choices(rt, mc, o.threads, &ls, [&] { bar.advance(1); });
    int mc_norm_correct = 0, mc_correct = 0;
    for (size_t q = 0; q < mc.size(); ++q) {
      const SuiteItem& it = *mc[q];
      const auto& r = ll[q];
      int best = 0, best_norm = 0;
      for (size_t c = 1; c < r.logliks.size(); ++c) {
        if (r.logliks[c] > r.logliks[best]) best = static_cast<int>(c);
        if (r.logliks[c] / static_cast<double>(r.continuation_bytes[c]) >
            r.logliks[best_norm] / static_cast<double>(r.continuation_bytes[best_norm]))
          best_norm = static_cast<int>(c);
      }
      mc_norm_correct += best_norm == it.answer_index;
      mc_correct += best == it.answer_index;
      items[mc_index[q]] = {{"id", it.id},           {"category", it.category},          {"type", item_type_name(it.type)},
                            {"scoring", "loglik"},   {"correct", best == it.answer_index}, {"predicted", best},
                            {"predicted_norm", best_norm}, {"correct_norm", best_norm == it.answer_index},
                            {"logliks", r.logliks},  {"continuation_tokens", r.continuation_tokens}};
    }
    // Everything else is generated.
    GenStats gs;
    for (size_t i = 0; i < suite.items.size(); ++i) {
      if (!items[i].is_null()) continue;
      const SuiteItem& it = suite.items[i];
      const std::string question = it.type == ItemType::MultipleChoice ? multiple_choice_prompt(it.question, it.choices) : it.question;
      const Generated g = generate_reply(rt, it, question, o, has_template, thinking_switch, gs);
      ojson row = {{"id", it.id}, {"category", it.category}, {"type", item_type_name(it.type)}, {"scoring", "generate"}};
      bool correct = false;
      ojson predicted = nullptr;
      if (!g.error.empty()) {
        row["error"] = g.error;
      } else if (it.type == ItemType::MultipleChoice) {
        const int k = parse_choice_letter(g.content, it.choices);
        correct = k == it.answer_index;
        if (k >= 0) predicted = k;
      } else if (it.type == ItemType::Generate) {
        correct = generate_correct(it.answer, g.content);
        predicted = g.content;
      } else {
        if (!g.calls.empty()) {
          const json args = json::parse(g.calls[0].arguments.empty() ? "{}" : g.calls[0].arguments, nullptr, false);
          predicted = {{"name", g.calls[0].name}, {"arguments", args.is_discarded() ? ojson(g.calls[0].arguments) : ojson::parse(args.dump())}};
        }
        // Exactly one call, to the gold function with the gold arguments.
        correct = g.calls.size() == 1 && tool_call_correct(it.answer, g.calls[0].name, g.calls[0].arguments);
        if (g.calls.size() > 1) row["calls"] = g.calls.size();
      }
      row["correct"] = correct;
      row["predicted"] = predicted;
      if (it.type != ItemType::Generate) row["reply"] = g.content;
      items[i] = std::move(row);
      bar.advance(1);
    }
    bar.finish();

    int correct = 0;
    std::map<std::string, std::pair<int, int>> per;
    for (const auto& row : items) {
      const bool c = row["correct"].get<bool>();
      correct += c;
      auto& [pc, pt] = per[row["category"].get<std::string>()];
      pc += c;
      ++pt;
    }
    const int total = static_cast<int>(items.size());
    j["overall"] = {{"correct", correct}, {"total", total}, {"accuracy", total ? double(correct) / total : 0.0},
                    {"ci95", ci_json(correct, total)},
                    // acc_norm: every item's result with the loglik multiple-choice items scored per UTF-8 byte
                    {"acc_norm", mc.empty() || !total ? ojson(nullptr) : ojson(double(correct - mc_correct + mc_norm_correct) / total)}};
    if (!mc.empty()) {
      const int n = static_cast<int>(mc.size());
      j["overall"]["loglik_multiple_choice"] = {{"total", n}, {"acc", double(mc_correct) / n}, {"acc_norm", double(mc_norm_correct) / n}};
    }
    for (const auto& cat : suite_categories()) {
      auto f = per.find(cat);
      if (f == per.end()) continue;
      const auto [c, n] = f->second;
      j["categories"][cat] = {{"correct", c}, {"total", n}, {"accuracy", double(c) / n}, {"ci95", ci_json(c, n)}};
    }
    const double wall = seconds_since(t0);
    const int64_t prefill_tokens = ls.tokens + gs.prefill_tokens;
    const double prefill_seconds = ls.seconds + gs.prefill_seconds;
    j["speed"] = {{"prefill_tok_s", number_or_null(prefill_tokens / std::max(prefill_seconds, 1e-9), prefill_seconds > 0)},
                  {"decode_tok_s", number_or_null(gs.decode_tokens / std::max(gs.decode_seconds, 1e-9), gs.decode_seconds > 0)},
                  {"wall_s", wall},
                  {"peak_rss_bytes", peak_rss_bytes()},
                  {"prefill_tokens", prefill_tokens},
                  {"decode_tokens", gs.decode_tokens}};
    j["items"] = items;
  } catch (const std::exception& e) {
    std::string why = e.what();
    j["failed"] = why;
  }
  return j;
}

EvaluateRun evaluate_and_record(const EvaluateOptions& o) {
  if (o.method != "auto" && o.method != "loglik" && o.method != "generate")
    fail("--method: unknown method '{}' (use loglik or generate)", o.method);
  if (o.max_tokens < 1) fail("--max-tokens must be at least 1");
  const Suite suite = select_items(load_suite(o.suite), o.categories, o.limit);
  EvaluateRun run;
  const auto targets = evaluation_targets(o, &run.manifest_dir);
  for (const auto& t : targets) {
    ojson r = evaluate_target(t, suite, o);
    std::string file;
    if (o.write) {
      write_file_atomic(t.output, r.dump(2) + "\n");
      file = t.output;
    }
    run.results.push_back(std::move(r));
    run.files.push_back(file);
  }
  if (o.write && !run.manifest_dir.empty()) {
    const fs::path dir(run.manifest_dir);
    formats::Manifest m = formats::Manifest::read(dir / "manifest.json");
    ojson section = {{"suite", suite.name}, {"suite_sha256", suite.sha256}, {"updated", iso_now()}};
    for (size_t i = 0; i < targets.size(); ++i) {
      const std::string rel = fs::relative(targets[i].output, dir).generic_string();
      if (targets[i].baseline) {
        section["baseline"] = rel;
        continue;
      }
      for (auto& a : m.formats)
        if (a.path == targets[i].path) a.evaluation = rel;
    }
    m.sections["evaluation"] = json::parse(section.dump());
    m.write(dir / "manifest.json");
  }
  return run;
}

bool EvaluateRun::any_failed() const {
  for (const auto& r : results)
    if (!r["failed"].is_null()) return true;
  return false;
}

ojson to_json(const EvaluateRun& run, const std::string& model, bool items) {
  ojson j = {{"model", model}, {"manifest_dir", run.manifest_dir.empty() ? ojson(nullptr) : ojson(run.manifest_dir)},
             {"evaluations", ojson::array()}};
  for (size_t i = 0; i < run.results.size(); ++i) {
    ojson e = {{"file", run.files[i].empty() ? ojson(nullptr) : ojson(run.files[i])}};
    e.update(run.results[i]);
    if (!items) e.erase("items");
    j["evaluations"].push_back(std::move(e));
  }
  return j;
}

namespace {
std::string score_pct(const ojson& v) { return v.is_number() ? fmt::format("{:5.1f}%", 100 * v.get<double>()) : "    - "; }
}  // namespace

std::string render_table(const EvaluateRun& run) {
  std::string out;
  for (size_t i = 0; i < run.results.size(); ++i) {
    const auto& r = run.results[i];
    const auto& art = r["artifact"];
    out += fmt::format("{:<5} {:<12} {:>10}  ", art["format"].get<std::string>(), art["precision"].get<std::string>(),
                       format_bytes(art["size_bytes"].get<uint64_t>()));
    if (!r["failed"].is_null()) {
      out += fmt::format("FAILED: {}\n", r["failed"].get<std::string>());
      if (!run.files[i].empty()) out += fmt::format("      {}\n", run.files[i]);
      continue;
    }
    const auto& ov = r["overall"];
    out += fmt::format("{} {}/{} [{:.1f}-{:.1f}%] ({})", score_pct(ov["accuracy"]), ov["correct"].get<int>(), ov["total"].get<int>(),
                       100 * ov["ci95"][0].get<double>(), 100 * ov["ci95"][1].get<double>(), r["method"].get<std::string>());
    if (!ov["acc_norm"].is_null()) out += fmt::format(" acc_norm {}", score_pct(ov["acc_norm"]));
    const auto& sp = r["speed"];
    if (sp["prefill_tok_s"].is_number()) out += fmt::format("  pp {:.1f} tok/s", sp["prefill_tok_s"].get<double>());
    if (sp["decode_tok_s"].is_number()) out += fmt::format("  tg {:.1f} tok/s", sp["decode_tok_s"].get<double>());
    out += fmt::format("  {:.1f} s  {}{}\n", sp["wall_s"].get<double>(), format_bytes(sp["peak_rss_bytes"].get<uint64_t>()),
                       art.value("baseline", false) ? "  (baseline)" : "");
    std::string cats;
    for (const auto& [name, c] : r["categories"].items()) cats += fmt::format("{}{} {}", cats.empty() ? "      " : ", ", name, score_pct(c["accuracy"]));
    out += cats + "\n";
    if (!run.files[i].empty()) out += fmt::format("      {}\n", run.files[i]);
  }
  if (!run.manifest_dir.empty() && !run.files.empty() && !run.files[0].empty())
    out += fmt::format("recorded in {}/manifest.json (evaluation)\n", run.manifest_dir);
  return out;
}

}  // namespace lp::eval
