// llama_pajamas._core: pybind11 bindings over the public runtime API (include/llama_pajamas/runtime.h) and the
// library functions the `llama-pajamas-quant` commands call (arch::detect, plan, convert, eval::validate).
// Long calls release the GIL; lp::Error becomes llama_pajamas.Error with the same one-line message.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "arch/arch.h"
#include "calib/calibrate.h"
#include "core/atomic_file.h"
#include "convert/convert.h"
#include "convert/source_model.h"
#include "core/error.h"
#include "core/progress.h"
#include "eval/token_metrics.h"
#include "eval/validate.h"
#include "formats/checkpoint.h"
#include "hub/hub.h"
#include "llama_pajamas/runtime.h"
#include "plan/gguf_plan.h"
#include "plan/mlx_plan.h"
#include "plan/preset.h"
#include "plan/recipe.h"
#include "precision_flags.h"  // apps/quant: the flag resolution `plan` and `convert` share

namespace py = pybind11;

namespace {

// nlohmann::json -> Python objects (via the json module keeps number formatting identical to the CLI's dump).
py::object to_py(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

lp::InferenceConfig make_config(int max_tokens, float temperature, int top_k, float top_p, float min_p, float repeat_penalty,
                                int repeat_last_n, float presence_penalty, float frequency_penalty,
                                const std::vector<std::string>& stop, std::optional<uint64_t> seed, bool add_bos,
                                bool ignore_eos) {
  lp::InferenceConfig c;
  c.max_tokens = max_tokens;
  c.sampling.temperature = temperature;
  c.sampling.top_k = top_k;
  c.sampling.top_p = top_p;
  c.sampling.min_p = min_p;
  c.sampling.repeat_penalty = repeat_penalty;
  c.sampling.repeat_last_n = repeat_last_n;
  c.sampling.presence_penalty = presence_penalty;
  c.sampling.frequency_penalty = frequency_penalty;
  c.stop = stop;
  c.seed = seed;
  c.add_bos = add_bos;
  c.ignore_eos = ignore_eos;
  return c;
}

// Keyword arguments shared by generate/stream/chat, with the CLI's defaults.
#define LP_SAMPLING_ARGS                                                                                              \
  py::arg("max_tokens") = 256, py::arg("temperature") = 0.8f, py::arg("top_k") = 40, py::arg("top_p") = 0.95f,       \
      py::arg("min_p") = 0.05f, py::arg("repeat_penalty") = 1.0f, py::arg("repeat_last_n") = 64,                    \
      py::arg("presence_penalty") = 0.0f, py::arg("frequency_penalty") = 0.0f,                                       \
      py::arg("stop") = std::vector<std::string>{}, py::arg("seed") = std::nullopt, py::arg("add_bos") = true,      \
      py::arg("ignore_eos") = false

// The Python-side Runtime: a closable holder (the context manager frees the model on exit).
using StreamSlot = std::shared_ptr<std::unique_ptr<lp::Runtime::Stream>>;

struct PyRuntime {
  std::unique_ptr<lp::Runtime> rt;
  lp::GenerationResult last;
  std::vector<std::weak_ptr<std::unique_ptr<lp::Runtime::Stream>>> streams;  // ended before the model is freed
  lp::Runtime& get() {
    if (!rt) lp::fail("Runtime is closed");
    return *rt;
  }
  void close() {
    for (auto& w : streams)
      if (auto s = w.lock()) s->reset();
    streams.clear();
    rt.reset();
  }
};

struct PyStream {
  StreamSlot s = std::make_shared<std::unique_ptr<lp::Runtime::Stream>>();
  py::object owner;  // keeps the Runtime alive while the stream is iterated
  bool done = false;
  std::optional<lp::GenerationResult> result;
};

std::vector<lp::ChatMessage> to_messages(const py::list& messages) {
  std::vector<lp::ChatMessage> out;
  for (const auto& item : messages) {
    py::dict d = py::cast<py::dict>(item);
    if (!d.contains("role") || !d.contains("content")) lp::fail("chat: each message needs 'role' and 'content'");
    out.push_back({py::cast<std::string>(d["role"]), py::cast<std::string>(d["content"])});
  }
  return out;
}

// llama-perplexity's protocol, as `llama-pajamas-run perplexity` runs it: the text is tokenized once (no BOS, no
// special tokens), cut into chunks of ctx tokens; each chunk's first token becomes BOS when the vocabulary asks
// for it; the second half of each chunk is scored.
py::dict perplexity(lp::Runtime& rt, const std::string& text, int ctx, int chunks) {
  if (ctx < 16) lp::fail("perplexity: ctx must be at least 16");
  std::vector<int32_t> toks;
  lp::eval::PerplexityAccumulator acc;
  int n_chunks = 0;
  {
    py::gil_scoped_release release;
    toks = rt.tokenize(text, false, false);
    const int available = static_cast<int>(toks.size()) / ctx;
    if (available < 1) lp::fail("perplexity: {} tokens is less than one chunk of {} (use a smaller ctx)", toks.size(), ctx);
    n_chunks = chunks < 0 ? available : std::min(chunks, available);
    const lp::ModelInfo info = rt.info();
    for (int c = 0; c < n_chunks; ++c) {
      std::vector<int32_t> chunk(toks.begin() + int64_t{c} * ctx, toks.begin() + int64_t{c + 1} * ctx);
      if (info.add_bos) chunk[0] = info.bos_token;
      const auto logits = rt.evaluate(chunk);
      for (int j = ctx / 2; j < ctx - 1; ++j) {
        const float* l = logits.data() + size_t(j) * info.n_vocab;
        float mx = l[0];
        for (int i = 1; i < info.n_vocab; ++i) mx = std::max(mx, l[i]);
        double sum = 0;
        for (int i = 0; i < info.n_vocab; ++i) sum += std::exp(static_cast<double>(l[i]) - mx);
        acc.add(-(static_cast<double>(l[chunk[j + 1]]) - mx - std::log(sum)));
      }
    }
  }
  py::dict d;
  const double mean = acc.sum_nll / static_cast<double>(acc.count);
  const double var = acc.sum_nll2 / static_cast<double>(acc.count) - mean * mean;
  const double ppl = std::exp(mean);
  d["perplexity"] = ppl;
  d["perplexity_error"] = acc.count > 1 ? ppl * std::sqrt(std::max(0.0, var) / static_cast<double>(acc.count - 1)) : 0.0;
  d["scored_tokens"] = acc.count;
  d["chunks"] = n_chunks;
  d["ctx"] = ctx;
  d["tokens"] = toks.size();
  d["cache_type"] = rt.info().cache_type;  // as the CLI's --json reports it
  return d;
}

// Forwards lp::Progress updates to a Python callable while a long call runs without the GIL. An exception raised
// by the callback is kept, later updates are dropped, and it is re-raised when the call returns.
class ProgressForwarder {
 public:
  explicit ProgressForwarder(py::object cb) : cb_(std::move(cb)) {
    if (cb_.is_none()) return;
    lp::set_progress_observer([this](const std::string& label, uint64_t done, uint64_t total) {
      std::lock_guard lock(mu_);
      if (error_) return;
      py::gil_scoped_acquire gil;
      try {
        cb_(label, done, total);
      } catch (py::error_already_set& e) {
        error_ = std::make_unique<py::error_already_set>(std::move(e));
      }
    });
  }
  ~ProgressForwarder() {
    if (!cb_.is_none()) lp::set_progress_observer({});
  }
  void rethrow() {
    if (error_) throw std::move(*error_);
  }

 private:
  py::object cb_;
  std::mutex mu_;
  std::unique_ptr<py::error_already_set> error_;
};

lp::plan::PrecisionFlags precision_flags(const std::string& precision, const std::string& recipe,
                                         const std::vector<std::string>& tensor_types, bool architecture_aware) {
  lp::plan::PrecisionFlags f;
  f.precision = precision;
  f.recipe = recipe;
  f.tensor_types = tensor_types;
  if (architecture_aware) f.architecture_aware_flag = true;
  else f.no_architecture_aware = true;
  return f;
}

lp::app::AutoFlags auto_flags(const std::string& imatrix, const std::vector<std::string>& calibration, double target_bpw,
                              const std::string& target_size) {
  lp::app::AutoFlags a;
  a.imatrix = imatrix;
  a.calibration = calibration;
  a.target_bpw = target_bpw;
  a.target_size = target_size;
  return a;
}

// `llama-pajamas-quant plan MODEL --precision P --json`: same steps, same JSON (a list unless one plan).
py::object plan(const std::string& model_in, const std::string& precision_in, const std::string& recipe,
                const std::vector<std::string>& tensor_types, bool architecture_aware, const std::string& imatrix,
                const std::vector<std::string>& calibration, double target_bpw, const std::string& target_size, int threads) {
  using namespace lp;
  nlohmann::json out = nlohmann::json::array();
  {
    py::gil_scoped_release release;
    const std::string model = lp::hub::resolve_model(model_in);  // a hub repo id: its cached (or downloaded) snapshot
    const auto flags = auto_flags(imatrix, calibration, target_bpw, target_size);
    const plan::PrecisionChoice choice =
        plan::resolve_precision_flags(precision_flags(precision_in, recipe, tensor_types, architecture_aware), true, true);
    std::string precision = choice.precision;
    if (precision.empty() && flags.wants_auto()) precision = "auto";
    if (precision.empty()) fail("--precision is required (e.g. q4_k_m, 4bit, q4_k_m:4bit, or auto with --target-bpw)");
    const bool has_colon = precision.find(':') != std::string::npos;
    const bool is_mlx = !has_colon && plan::mlx_precision_from_name(precision).has_value();
    plan::PrecisionRequest req = plan::parse_precision(precision, has_colon || !is_mlx, has_colon || is_mlx);
    const convert::SourceModel src = convert::open_source_model(model);
    app::PrecisionInputs in = app::resolve_inputs(model, src, flags, choice, req.gguf_auto, threads, false);
    plan::PlanSettings settings = plan::plan_settings(choice);
    settings.has_imatrix = in.importance.imatrix != nullptr;
    if (in.allocation) {
      settings.assigned = in.allocation->assigned;
      settings.label = in.allocation->label;
    }
    for (plan::Preset p : req.gguf) {
      const plan::GgufPlanOptions o = plan::gguf_plan_options(settings, p);
      out.push_back(plan::to_json(plan::plan_gguf(src.hp, src.gguf, o)));
      if (in.allocation)
        out.back()["allocation"] = {{"estimator", in.allocation->estimator}, {"budget_bytes", in.allocation->budget_bytes},
                                    {"predicted_loss", in.allocation->predicted_loss}};
    }
    for (const auto& mp : req.mlx) {
      const plan::MlxPlanOptions o = plan::mlx_plan_options(settings, mp);
      out.push_back(plan::to_json(plan::plan_mlx(src.hp, src.mlx, o)));
    }
  }
  return to_py(out.size() == 1 ? out[0] : out);
}

// `llama-pajamas-quant convert ... --json`: same option resolution (apps/quant/cmd_convert.cpp), same JSON summary.
py::object convert(const std::string& model_in, const std::string& output, const std::vector<std::string>& formats,
                   const std::string& precision_in, const std::string& recipe, const std::vector<std::string>& tensor_types,
                   bool architecture_aware, const std::string& imatrix, const std::vector<std::string>& calibration,
                   double target_bpw, const std::string& target_size, int threads, const py::object& progress) {
  using namespace lp;
  std::string model;
  {
    py::gil_scoped_release release;
    model = hub::resolve_model(model_in);
  }
  convert::ConvertOptions o;
  o.model = model;
  o.output = output;
  o.gguf = o.mlx = false;
  for (const auto& f : formats) {
    if (f == "gguf") o.gguf = true;
    else if (f == "mlx") o.mlx = true;
    else fail("formats: unknown format '{}' (use gguf, mlx or both)", f);
  }
  if (!o.gguf && !o.mlx) fail("formats: empty (use gguf, mlx or both)");
  ProgressForwarder forward(progress);
  nlohmann::json j;
  {
    py::gil_scoped_release release;
    const auto flags = auto_flags(imatrix, calibration, target_bpw, target_size);
    const plan::PrecisionChoice choice =
        plan::resolve_precision_flags(precision_flags(precision_in, recipe, tensor_types, architecture_aware), o.gguf, o.mlx);
    std::string precision = choice.precision;
    if (precision.empty()) precision = flags.wants_auto() ? (o.mlx ? "auto:4bit" : "auto")
                                       : o.gguf && o.mlx ? "q4_k_m:4bit" : o.gguf ? "q4_k_m" : "4bit";
    o.precision = plan::parse_precision(precision, o.gguf, o.mlx);
    o.architecture_aware = choice.architecture_aware;
    o.tensor_types = choice.tensor_types;
    o.output_type = choice.output_type;
    o.token_embedding_type = choice.token_embedding_type;
    o.mlx_overrides = choice.mlx_overrides;
    o.embedding_bits = choice.embedding_bits;
    o.threads = threads;
    o.progress = false;  // no terminal bar from a library call; the callback sees every bar
    const convert::SourceModel src = convert::open_source_model(model);
    app::PrecisionInputs in = app::resolve_inputs(model, src, flags, choice, o.precision.gguf_auto, threads, false);
    o.importance = in.importance.importance();
    if (in.allocation) {
      o.gguf_assigned = in.allocation->assigned;
      o.gguf_label = in.allocation->label;
    }
    convert::ConvertResult r = convert::convert(o);
    r.warnings.insert(r.warnings.begin(), in.importance.warnings.begin(), in.importance.warnings.end());
    j = {{"output", output}, {"seconds", r.seconds}, {"warnings", r.warnings}, {"artifacts", nlohmann::json::array()}};
    for (const auto& art : r.artifacts)
      j["artifacts"].push_back({{"format", art.format}, {"precision", art.precision}, {"path", art.path},
                                {"size_bytes", art.size_bytes}, {"bpw", art.bpw}});
    if (in.allocation)
      j["allocation"] = {{"estimator", in.allocation->estimator}, {"budget_bytes", in.allocation->budget_bytes},
                         {"tensor_bytes", in.allocation->bytes}, {"predicted_loss", in.allocation->predicted_loss}};
  }
  forward.rethrow();
  return to_py(j);
}

py::object validate(const std::string& original, const std::string& quantized, const std::string& metrics,
                    const std::string& corpus, int ctx, int64_t max_tokens, int gen_tokens, int threads, double max_ppl,
                    double max_kld, bool write, const py::object& progress) {
  lp::eval::ValidateOptions o;
  {
    py::gil_scoped_release release;
    o.original = original.empty() ? original : lp::hub::resolve_model(original);
  }
  o.quantized = quantized;
  o.metrics = lp::eval::parse_metrics(metrics);
  o.corpus = corpus;
  o.ctx = ctx;
  o.max_tokens = max_tokens;
  o.gen_tokens = gen_tokens;
  o.threads = threads;
  if (max_ppl >= 0) o.gates.max_ppl_increase = max_ppl;
  if (max_kld >= 0) o.gates.max_kld_mean = max_kld;
  o.write_outputs = write;
  o.progress = false;
  ProgressForwarder forward(progress);
  nlohmann::json j;
  {
    py::gil_scoped_release release;
    j = lp::eval::to_json(lp::eval::validate_and_record(o));
  }
  forward.rethrow();
  return to_py(j);
}

// `llama-pajamas-quant calibrate MODEL --calibration ... -o OUTPUT --json`: same steps, same JSON summary.
py::object calibrate(const std::string& model_in, const std::vector<std::string>& calibration, const std::string& output,
                     int ctx, int chunks, int threads, bool expert_balanced, int64_t min_expert_tokens, uint64_t seed,
                     bool legacy, const py::object& progress) {
  using namespace lp;
  ProgressForwarder forward(progress);
  nlohmann::ordered_json j;
  {
    py::gil_scoped_release release;
    calib::CalibrateOptions o;
    o.model = hub::resolve_model(model_in);
    o.inputs = calibration;
    o.ctx = ctx;
    o.chunks = chunks;
    o.threads = threads;
    o.min_expert_tokens = min_expert_tokens;
    o.expert_balanced = expert_balanced;
    o.seed = seed;
    o.progress = false;
    calib::CalibrateResult r = calib::calibrate(o);
    if (legacy) r.imatrix.save_legacy(output);
    else r.imatrix.save_gguf(output);
    std::string coverage_file;
    if (!r.coverage.empty()) {
      coverage_file = calib::coverage_path_for(output);
      AtomicFile f(coverage_file);
      f.write(calib::coverage_report_json(r).dump(2) + "\n");
      f.commit();
    }
    j = {{"output", output}, {"format", legacy ? "dat" : "gguf"}, {"chunks", r.chunks}, {"ctx", ctx}, {"tokens", r.tokens},
         {"tensors", r.imatrix.entries.size()}, {"seconds", r.seconds}, {"notes", r.notes}};
    if (!r.coverage.empty()) {
      j["coverage_file"] = coverage_file;
      j["expert_coverage"] = calib::coverage_report_json(r);
    }
  }
  forward.rethrow();
  return py::module_::import("json").attr("loads")(j.dump());
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "Llama-Pajamas native core (use llama_pajamas.run and llama_pajamas.quant)";
  m.attr("__version__") = LP_VERSION;
  static py::exception<lp::Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lp::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  // ---- quant ----
  m.def(
      "detect_json",
      [](const std::string& path) {
        nlohmann::json j;
        {
          py::gil_scoped_release release;
          j = lp::arch::to_json(lp::arch::detect(lp::formats::Checkpoint::open(lp::hub::resolve_model(path))));
        }
        return py::make_tuple(to_py(j), j.dump(2) + "\n");
      },
      py::arg("path"));
  m.def(
      "detect_text",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return lp::arch::to_text(lp::arch::detect(lp::formats::Checkpoint::open(lp::hub::resolve_model(path))));
      },
      py::arg("path"));
  m.def("plan", &plan, py::arg("model"), py::arg("precision") = "", py::arg("recipe") = "",
        py::arg("tensor_types") = std::vector<std::string>{}, py::arg("architecture_aware") = true, py::arg("imatrix") = "",
        py::arg("calibration") = std::vector<std::string>{}, py::arg("target_bpw") = 0.0, py::arg("target_size") = "",
        py::arg("threads") = 0);
  m.def("convert", &convert, py::arg("model"), py::arg("output"), py::arg("formats"), py::arg("precision") = "",
        py::arg("recipe") = "", py::arg("tensor_types") = std::vector<std::string>{}, py::arg("architecture_aware") = true,
        py::arg("imatrix") = "", py::arg("calibration") = std::vector<std::string>{}, py::arg("target_bpw") = 0.0,
        py::arg("target_size") = "", py::arg("threads") = 0, py::arg("progress") = py::none());
  m.def(
      "download",
      [](const std::string& repo, const std::string& revision, const std::vector<std::string>& include,
         const std::string& output, const std::string& token, int parallel) {
        lp::hub::HubOptions o = lp::hub::options_from_env();
        if (!token.empty()) o.token = token;
        o.parallel = parallel;
        lp::hub::DownloadRequest req;
        req.repo = repo;
        req.revision = revision;
        req.include = include;
        req.output = output;
        lp::hub::DownloadResult r;
        {
          py::gil_scoped_release release;
          r = lp::hub::download(req, o);
        }
        py::dict d;
        d["repo"] = repo;
        d["revision"] = revision;
        d["commit"] = r.commit;
        d["snapshot"] = r.snapshot.string();
        d["files"] = r.files;
        d["downloaded_bytes"] = r.downloaded_bytes;
        d["cached_files"] = r.cached_files;
        d["offline"] = r.offline;
        return d;
      },
      py::arg("repo"), py::arg("revision") = "main", py::arg("include") = std::vector<std::string>{},
      py::arg("output") = "", py::arg("token") = "", py::arg("parallel") = 4);
  m.def("default_model_patterns", [] { return lp::hub::default_model_patterns(); });
  m.def("calibrate", &calibrate, py::arg("model"), py::arg("calibration"), py::arg("output"), py::arg("ctx") = 512,
        py::arg("chunks") = 0, py::arg("threads") = 0, py::arg("expert_balanced") = false,
        py::arg("min_expert_tokens") = 64, py::arg("seed") = 42, py::arg("legacy") = false,
        py::arg("progress") = py::none());
  m.def("validate", &validate, py::arg("original"), py::arg("quantized"), py::arg("metrics") = "perplexity,kld,generation",
        py::arg("corpus") = "", py::arg("ctx") = 512, py::arg("max_tokens") = 0, py::arg("gen_tokens") = 32,
        py::arg("threads") = 0, py::arg("max_ppl_increase") = -1.0, py::arg("max_kld") = -1.0, py::arg("write") = true,
        py::arg("progress") = py::none());

  // ---- run ----
  py::class_<lp::GenerationResult>(m, "GenerationResult")
      .def_readonly("text", &lp::GenerationResult::text)
      .def_readonly("tokens", &lp::GenerationResult::tokens)
      .def_readonly("prompt_tokens", &lp::GenerationResult::prompt_tokens)
      .def_readonly("cached_prompt_tokens", &lp::GenerationResult::cached_prompt_tokens)
      .def_readonly("prefill_seconds", &lp::GenerationResult::prefill_seconds)
      .def_readonly("decode_seconds", &lp::GenerationResult::decode_seconds)
      .def_readonly("stop_reason", &lp::GenerationResult::stop_reason)
      .def_property_readonly("prefill_tokens_per_second", &lp::GenerationResult::prefill_tokens_per_second)
      .def_property_readonly("decode_tokens_per_second", &lp::GenerationResult::decode_tokens_per_second)
      .def("__repr__", [](const lp::GenerationResult& r) {
        return "GenerationResult(stop_reason='" + r.stop_reason + "', tokens=" + std::to_string(r.tokens.size()) + ")";
      });

  py::class_<PyStream>(m, "Stream")
      .def("__iter__", [](PyStream& s) -> PyStream& { return s; }, py::return_value_policy::reference_internal)
      .def("__next__",
           [](PyStream& s) {
             if (s.done) throw py::stop_iteration();
             if (!*s.s) lp::fail("stream: its Runtime was closed");
             std::optional<std::string> piece;
             {
               py::gil_scoped_release release;
               piece = (*s.s)->next();
             }
             if (!piece) {
               s.done = true;
               s.result = (*s.s)->result();
               throw py::stop_iteration();
             }
             return py::str(*piece);
           })
      .def_property_readonly("result", [](const PyStream& s) {
        if (!s.result) lp::fail("stream: the result is known once the iterator is exhausted");
        return *s.result;
      });

  py::class_<PyRuntime>(m, "Runtime")
      .def(py::init([](const std::string& model, int threads, int ctx, const std::string& cache_type, int batch,
                       const std::string& cache_type_k, const std::string& cache_type_v) {
             lp::RuntimeOptions o;
             o.threads = threads;
             o.ctx = ctx;
             o.cache_type = cache_type;
             o.cache_type_k = cache_type_k;  // "" = cache_type (llama.cpp's -ctk / -ctv)
             o.cache_type_v = cache_type_v;
             o.batch = batch;
             auto r = std::make_unique<PyRuntime>();
             py::gil_scoped_release release;
             r->rt = std::make_unique<lp::Runtime>(lp::Runtime::open(lp::hub::resolve_model(model), o));
             return r;
           }),
           py::arg("model"), py::arg("threads") = 0, py::arg("ctx") = 4096, py::arg("cache_type") = "f16",
           py::arg("batch") = 512, py::kw_only(), py::arg("cache_type_k") = "", py::arg("cache_type_v") = "")
      .def(
          "generate",
          [](PyRuntime& self, const std::string& prompt, int max_tokens, float temperature, int top_k, float top_p,
             float min_p, float repeat_penalty, int repeat_last_n, float presence_penalty, float frequency_penalty,
             const std::vector<std::string>& stop, std::optional<uint64_t> seed, bool add_bos, bool ignore_eos) {
            const auto cfg = make_config(max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
                                         presence_penalty, frequency_penalty, stop, seed, add_bos, ignore_eos);
            lp::Runtime& rt = self.get();
            py::gil_scoped_release release;
            self.last = rt.generate(prompt, cfg);
            return self.last;
          },
          py::arg("prompt"), LP_SAMPLING_ARGS)
      .def(
          "chat",
          [](PyRuntime& self, const py::list& messages, int max_tokens, float temperature, int top_k, float top_p,
             float min_p, float repeat_penalty, int repeat_last_n, float presence_penalty, float frequency_penalty,
             const std::vector<std::string>& stop, std::optional<uint64_t> seed, bool add_bos, bool ignore_eos) {
            const auto cfg = make_config(max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
                                         presence_penalty, frequency_penalty, stop, seed, add_bos, ignore_eos);
            const auto msgs = to_messages(messages);
            lp::Runtime& rt = self.get();
            py::gil_scoped_release release;
            self.last = rt.chat(msgs, cfg);
            return self.last;
          },
          py::arg("messages"), LP_SAMPLING_ARGS)
      .def(
          "apply_chat_template",
          [](PyRuntime& self, const py::list& messages, bool add_generation_prompt) {
            return self.get().apply_chat_template(to_messages(messages), add_generation_prompt);
          },
          py::arg("messages"), py::arg("add_generation_prompt") = true)
      .def(
          "stream",
          [](py::object self_obj, const std::string& prompt, int max_tokens, float temperature, int top_k, float top_p,
             float min_p, float repeat_penalty, int repeat_last_n, float presence_penalty, float frequency_penalty,
             const std::vector<std::string>& stop, std::optional<uint64_t> seed, bool add_bos, bool ignore_eos) {
            PyRuntime& self = py::cast<PyRuntime&>(self_obj);
            const auto cfg = make_config(max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
                                         presence_penalty, frequency_penalty, stop, seed, add_bos, ignore_eos);
            PyStream s;
            lp::Runtime& rt = self.get();
            {
              py::gil_scoped_release release;
              *s.s = std::make_unique<lp::Runtime::Stream>(rt.stream(prompt, cfg));
            }
            self.streams.erase(std::remove_if(self.streams.begin(), self.streams.end(), [](auto& w) { return w.expired(); }),
                               self.streams.end());
            self.streams.push_back(s.s);
            s.owner = self_obj;
            return s;
          },
          py::arg("prompt"), LP_SAMPLING_ARGS)
      .def(
          "tokenize",
          [](PyRuntime& self, const std::string& text, bool add_special, bool parse_special) {
            return self.get().tokenize(text, add_special, parse_special);
          },
          py::arg("text"), py::arg("add_special") = true, py::arg("parse_special") = true)
      .def(
          "detokenize", [](PyRuntime& self, const std::vector<int32_t>& tokens) { return self.get().detokenize(tokens); },
          py::arg("tokens"))
      .def(
          "logits",
          [](PyRuntime& self, const std::vector<int32_t>& tokens) {
            lp::Runtime& rt = self.get();
            if (tokens.empty()) lp::fail("logits: tokens is empty");
            const int n_vocab = rt.info().n_vocab;
            for (int32_t t : tokens)
              if (t < 0 || t >= n_vocab) lp::fail("logits: token id {} is outside the vocabulary (0..{})", t, n_vocab - 1);
            auto* v = new std::vector<float>;
            {
              py::gil_scoped_release release;
              try {
                *v = rt.evaluate(tokens);
              } catch (...) {
                delete v;
                throw;
              }
            }
            // The array views the vector's buffer (no copy); the capsule frees it with the array.
            py::capsule owner(v, [](void* p) { delete static_cast<std::vector<float>*>(p); });
            const py::ssize_t n = static_cast<py::ssize_t>(tokens.size());
            return py::array_t<float>({n, static_cast<py::ssize_t>(n_vocab)}, v->data(), owner);
          },
          py::arg("tokens"))
      .def(
          "perplexity", [](PyRuntime& self, const std::string& text, int ctx, int chunks) {
            return perplexity(self.get(), text, ctx, chunks);
          },
          py::arg("text"), py::arg("ctx") = 512, py::arg("chunks") = -1)
      .def("reset", [](PyRuntime& self) { self.get().reset(); })
      .def("info",
           [](PyRuntime& self) {
             const lp::ModelInfo i = self.get().info();
             py::dict d;
             d["path"] = i.path;
             d["architecture"] = i.architecture;
             d["name"] = i.name;
             d["n_vocab"] = i.n_vocab;
             d["n_embd"] = i.n_embd;
             d["n_layer"] = i.n_layer;
             d["n_head"] = i.n_head;
             d["n_head_kv"] = i.n_head_kv;
             d["n_ctx_train"] = i.n_ctx_train;
             d["ctx"] = i.ctx;
             d["threads"] = i.threads;
             d["bos_token"] = i.bos_token;
             d["add_bos"] = i.add_bos;
             d["file_bytes"] = i.file_bytes;
             d["cache_type"] = i.cache_type;
             d["load_seconds"] = i.load_seconds;
             return d;
           })
      .def_property_readonly("closed", [](const PyRuntime& self) { return !self.rt; })
      .def_property_readonly("last_result", [](const PyRuntime& self) { return self.last; })
      .def("close", [](PyRuntime& self) { self.close(); });
}
