#include "convert/convert.h"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "convert/modelfile.h"
#include "convert/row_source.h"
#include "convert/source_model.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/progress.h"
#include "core/threads.h"
#include "core/units.h"
#include "formats/manifest.h"
#include "plan/recipe.h"
#include "quant/mlx_affine.h"
#include "quant/quantize.h"
#include "text/tokenizer/tokenizer.h"
#include "writers/gguf_writer.h"
#include "writers/safetensors_writer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lp::convert {
namespace {

std::string iso_time_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Bytes per float element for unquantized MLX tensors and scales/biases.
formats::StDtype mlx_float_dtype(const arch::HParams& hp) {
  if (hp.torch_dtype == "float32") return formats::StDtype::F32;
  if (hp.torch_dtype == "float16") return formats::StDtype::F16;
  return formats::StDtype::BF16;
}

void encode_floats(formats::StDtype dtype, const float* src, size_t n, std::vector<uint8_t>& out) {
  if (dtype == formats::StDtype::F32) {
    out.resize(n * 4);
    std::memcpy(out.data(), src, n * 4);
    return;
  }
  out.resize(n * 2);
  auto* dst = reinterpret_cast<uint16_t*>(out.data());
  if (dtype == formats::StDtype::F16)
    for (size_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
  else
    for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

int64_t chunk_rows(int64_t ncols, uint64_t chunk_bytes) {
  return std::max<int64_t>(1, static_cast<int64_t>(chunk_bytes / (sizeof(float) * static_cast<uint64_t>(std::max<int64_t>(1, ncols)))));
}

struct GgufJob {
  plan::GgufPlan plan;
  std::string rel_path;
  std::unique_ptr<writers::GgufWriter> writer;
};

struct MlxJob {
  plan::MlxPlan plan;
  std::string rel_dir;
  std::unique_ptr<writers::SafetensorsWriter> writer;
};

std::string module_of(const std::string& name) {
  return name.ends_with(".weight") ? name.substr(0, name.size() - 7) : name;
}

void copy_if_exists(const fs::path& from, const fs::path& to) {
  if (fs::exists(from)) fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

// The vocabulary a GGUF carries, padded to the embedding rows where the checkpoint pads them.
struct GgufVocab {
  text::GgufTokenizerMeta meta;
  int64_t n_vocab = 0;
  std::vector<std::string> warnings;
};

GgufVocab gguf_vocab(const SourceModel& src, const text::Tokenizer& tokenizer) {
  GgufVocab v;
  v.meta = text::gguf_tokenizer_metadata(tokenizer);
  for (auto& w : v.meta.warnings) v.warnings.push_back("tokenizer: " + w);
  int64_t tok_vocab = static_cast<int64_t>(tokenizer.vocab_size());
  const bool trims = std::any_of(src.gguf.begin(), src.gguf.end(), [](const auto& r) { return r.trim_to_tokenizer_vocab; });
  if (!trims && src.hp.n_vocab > tok_vocab) {
    // The embedding has more rows than the tokenizer has tokens (Qwen pads to a multiple of 128): llama.cpp
    // requires n_vocab tokens, so pad with unused "[PAD<i>]" entries as convert_hf_to_gguf does.
    const int64_t pad = src.hp.n_vocab - tok_vocab;
    for (auto& e : v.meta.entries) {
      if (e.key == "tokenizer.ggml.tokens") {
        std::vector<std::string> t = e.value.strings(e.key);
        for (int64_t i = tok_vocab; i < src.hp.n_vocab; ++i) t.push_back("[PAD" + std::to_string(i) + "]");
        e.value = formats::GgufValue(std::move(t));
      } else if (e.key == "tokenizer.ggml.token_type") {
        std::vector<int32_t> t = e.value.as_i32_array(e.key);
        t.resize(static_cast<size_t>(src.hp.n_vocab), 5);  // 5 = unused
        e.value = formats::GgufValue(t);
      } else if (e.key == "tokenizer.ggml.scores") {
        std::vector<float> t = e.value.as_f32_array(e.key);
        t.resize(static_cast<size_t>(src.hp.n_vocab), -1000.0f);
        e.value = formats::GgufValue(t);
      }
    }
    v.warnings.push_back(fmt::format("tokenizer: {} tokens for {} embedding rows; padded with {} unused [PAD] tokens",
                                     tok_vocab, src.hp.n_vocab, pad));
    tok_vocab = src.hp.n_vocab;
  } else if (src.hp.n_vocab > 0 && tok_vocab > src.hp.n_vocab) {
    // More tokens than embedding rows (Gemma 3 1B: 262,144 rows, tokenizer.json 262,145 with <image_soft_token>):
    // ids past the embedding can never be evaluated and llama.cpp refuses the file (token_embd shape), so the
    // tokens past the last row are dropped, as convert_hf_to_gguf does ("ignore token N: id is out of range").
    std::string dropped;
    for (auto& e : v.meta.entries) {
      if (e.key == "tokenizer.ggml.tokens") {
        std::vector<std::string> t = e.value.strings(e.key);
        for (size_t i = static_cast<size_t>(src.hp.n_vocab); i < t.size() && i < static_cast<size_t>(src.hp.n_vocab) + 4; ++i)
          dropped += (dropped.empty() ? "" : ", ") + t[i];
        t.resize(static_cast<size_t>(src.hp.n_vocab));
        e.value = formats::GgufValue(std::move(t));
      } else if (e.key == "tokenizer.ggml.token_type") {
        std::vector<int32_t> t = e.value.as_i32_array(e.key);
        t.resize(static_cast<size_t>(src.hp.n_vocab));
        e.value = formats::GgufValue(t);
      } else if (e.key == "tokenizer.ggml.scores") {
        std::vector<float> t = e.value.as_f32_array(e.key);
        t.resize(static_cast<size_t>(src.hp.n_vocab));
        e.value = formats::GgufValue(t);
      }
    }
    v.warnings.push_back(fmt::format("tokenizer: {} tokens for {} embedding rows; dropped the {} tokens past the "
                                     "embedding ({}{})",
                                     tok_vocab, src.hp.n_vocab, tok_vocab - src.hp.n_vocab, dropped,
                                     tok_vocab - src.hp.n_vocab > 4 ? ", ..." : ""));
    tok_vocab = src.hp.n_vocab;
  }
  v.n_vocab = tok_vocab;
  return v;
}

// Metadata and tensor declarations of one GGUF (trims vocabulary-sized tensors to the tokenizer in `plan`).
void declare_gguf(writers::GgufWriter& w, const SourceModel& src, const GgufVocab& vocab, plan::GgufPlan& plan) {
  for (const auto& kv : arch::gguf_metadata(src.hp, src.name)) w.set(kv.key, kv.value);
  w.set("general.file_type", formats::GgufValue(plan::preset_llama_ftype(plan.preset)));
  w.set("general.quantization_version", formats::GgufValue(uint32_t{2}));
  for (const auto& e : vocab.meta.entries) w.set(e.key, e.value);
  for (auto& t : plan.tensors) {
    if (t.recipe.trim_to_tokenizer_vocab && t.recipe.ne.size() == 2 && t.recipe.ne[1] > vocab.n_vocab)
      t.recipe.ne[1] = vocab.n_vocab;
    w.add_tensor(t.recipe.gguf_name, t.type, t.recipe.ne);
  }
}

}  // namespace

GgufOverhead gguf_overhead(const SourceModel& src, const plan::GgufPlan& plan) {
  const fs::path tok_json = fs::path(src.ckpt.dir()) / "tokenizer.json";
  if (!fs::exists(tok_json))
    fail("{}: missing; a GGUF needs the vocabulary (llama.cpp cannot load a model without one)", tok_json.string());
  const text::Tokenizer tokenizer = text::Tokenizer::from_hf(tok_json, fs::path(src.ckpt.dir()) / "tokenizer_config.json");
  const GgufVocab vocab = gguf_vocab(src, tokenizer);
  plan::GgufPlan p = plan;
  writers::GgufWriter w("(size estimate)");
  declare_gguf(w, src, vocab, p);
  GgufOverhead o;
  o.header_bytes = w.header_bytes();
  o.max_padding_bytes = static_cast<uint64_t>(w.tensor_count()) * (w.alignment() - 1);
  return o;
}

namespace {

// The settings `plan` would use for the same flags (plan::plan_settings), from the converter's options.
plan::PlanSettings plan_settings(const ConvertOptions& opt) {
  plan::PlanSettings s;
  s.architecture_aware = opt.architecture_aware;
  s.tensor_types = opt.tensor_types;
  s.output_type = opt.output_type;
  s.token_embedding_type = opt.token_embedding_type;
  s.mlx_overrides = opt.mlx_overrides;
  s.embedding_bits = opt.embedding_bits;
  s.has_imatrix = static_cast<bool>(opt.importance);
  s.assigned = opt.gguf_assigned;
  s.label = opt.gguf_label;
  return s;
}

// Plan first: every artifact's per-tensor types, before anything is written.
void plan_jobs(const SourceModel& src, const ConvertOptions& opt, formats::StDtype mlx_dtype, std::vector<GgufJob>& gguf_jobs,
               std::vector<MlxJob>& mlx_jobs) {
  const plan::PlanSettings settings = plan_settings(opt);
  for (plan::Preset p : opt.precision.gguf) {
    GgufJob job;
    job.plan = plan::plan_gguf(src.hp, src.gguf, plan::gguf_plan_options(settings, p));
    std::string suffix = plan::preset_file_suffix(p);
    if (!opt.gguf_label.empty()) {
      suffix = opt.gguf_label;
      for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    job.rel_path = "gguf/" + src.name + "-" + suffix + ".gguf";
    gguf_jobs.push_back(std::move(job));
  }
  // The i-quants below 3.5 bits need importance where llama.cpp requires it: say so before writing anything.
  for (const auto& job : gguf_jobs)
    for (const auto& t : job.plan.tensors)
      if (!opt.importance && plan::tensor_requires_imatrix(t.recipe.role, t.type))
        fail("{}: {} needs an importance matrix (llama.cpp requires one too); pass --imatrix FILE or --calibration "
             "TEXT", t.recipe.gguf_name, ggml_type_name(t.type));
  if (!opt.precision.mlx.empty() && src.mlx.empty())
    arch::mlx_tensors(src.hp, src.tensors);  // fails naming why (qwen35: MLX layout not supported yet)
  for (plan::MlxPrecision mp : opt.precision.mlx) {
    if (opt.mlx_mixed) mp.mixed = *opt.mlx_mixed;
    plan::MlxPlanOptions mo = plan::mlx_plan_options(settings, mp);
    mo.float_bytes = mlx_dtype == formats::StDtype::F32 ? 4 : 2;
    MlxJob job;
    job.plan = plan::plan_mlx(src.hp, src.mlx, mo);
    job.rel_dir = "mlx/" + mp.name();
    mlx_jobs.push_back(std::move(job));
  }
}

// The GGUF artifacts (one pass over the checkpoint for every preset), their Ollama Modelfiles and gguf/metadata.json.
void write_gguf(const SourceModel& src, const ConvertOptions& opt, const text::Tokenizer& tok, std::vector<GgufJob>& gguf_jobs,
                const fs::path& out, int threads, ConvertResult& result) {
  fs::create_directories(out / "gguf");
  GgufVocab vocab = gguf_vocab(src, tok);
  for (auto& w : vocab.warnings) result.warnings.push_back(w);
  for (auto& job : gguf_jobs) {
    job.writer = std::make_unique<writers::GgufWriter>(out / job.rel_path);
    declare_gguf(*job.writer, src, vocab, job.plan);
    job.writer->begin();
  }
  const auto& tensors = gguf_jobs.front().plan.tensors;
  Progress bar("gguf", tensors.size(), opt.progress);
  std::vector<float> rows;
  std::vector<uint8_t> qbuf;
  for (size_t ti = 0; ti < tensors.size(); ++ti) {
    const auto& recipe = tensors[ti].recipe;
    RowSource rs(src.ckpt, src.hp, gguf_jobs.front().plan.tensors[ti].recipe);
    const int64_t ncols = rs.ncols();
    const int64_t nrows = recipe.ne.size() >= 2 ? [&] {
      int64_t r = 1;
      for (size_t d = 1; d < recipe.ne.size(); ++d) r *= recipe.ne[d];
      return r;
    }() : 1;
    // Chunks never straddle two experts, so one importance vector serves a whole chunk.
    const int64_t rows_per_mat = recipe.ne.size() > 2 ? recipe.ne[1] : nrows;
    const int64_t step = std::min(chunk_rows(ncols, opt.chunk_bytes), rows_per_mat);
    std::optional<std::vector<float>> importance;
    int importance_expert = -1;
    for (int64_t r0 = 0; r0 < nrows;) {
      const int64_t mat_end = (r0 / rows_per_mat + 1) * rows_per_mat;
      const int64_t n = std::min({step, nrows - r0, mat_end - r0});
      const int expert = static_cast<int>(r0 / rows_per_mat);
      if (opt.importance && expert != importance_expert) {
        importance = opt.importance(recipe.gguf_name, expert, ncols);
        importance_expert = expert;
      }
      bool have_floats = false;
      for (auto& job : gguf_jobs) {
        const GgmlType type = job.plan.tensors[ti].type;
        if (type == GgmlType::MXFP4 && rs.has_native_mxfp4()) {
          qbuf.resize(static_cast<size_t>(n * ncols / 32 * 17));
          rs.read_mxfp4(r0, n, qbuf.data());
          job.writer->write_tensor_data(recipe.gguf_name, qbuf.data(), qbuf.size());
          continue;
        }
        if (!have_floats) {
          rows.resize(static_cast<size_t>(n * ncols));
          rs.read(r0, n, rows.data());
          have_floats = true;
        }
        qbuf.resize(static_cast<size_t>(n) * ggml_row_bytes(type, static_cast<uint64_t>(ncols)));
        const float* imp = importance && quant::uses_importance(type) ? importance->data() : nullptr;
        if (!imp && (quant::requires_importance(type) || plan::tensor_requires_imatrix(recipe.role, type)))
          fail("{}: {} needs an importance matrix but the imatrix has no entry for this tensor; pass --imatrix "
               "FILE or --calibration TEXT that covers it, or choose another type for it (--tensor-type)",
               recipe.gguf_name, ggml_type_name(type));
        quant::quantize_parallel(type, rows.data(), qbuf.data(), n, ncols, imp, threads);
        job.writer->write_tensor_data(recipe.gguf_name, qbuf.data(), qbuf.size());
      }
      rs.release(r0, n);
      r0 += n;
    }
    rs.release_all();
    bar.advance(1, recipe.gguf_name);
  }
  bar.finish();
  // Ollama Modelfile per GGUF: its EOS tokens from generation_config.json, the template from the checkpoint.
  std::vector<std::string> eos_tokens;
  if (const fs::path gc = fs::path(src.ckpt.dir()) / "generation_config.json"; fs::exists(gc)) {
    std::ifstream in(gc);
    const json g = json::parse(in, nullptr, false);
    if (g.is_object() && g.contains("eos_token_id")) {
      const json& e = g["eos_token_id"];
      for (const json& id : e.is_array() ? e : json::array({e}))
        if (id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < static_cast<int64_t>(tok.vocab_size()))
          eos_tokens.push_back(tok.token_text(static_cast<text::TokenId>(id.get<int64_t>())));
    }
  }
  const std::optional<std::string> chat_template = src.ckpt.chat_template();
  const TemplateShape shape = template_shape(chat_template);
  if (shape == TemplateShape::Unknown)
    result.warnings.push_back("ollama: the chat template has no known shape (ChatML, Llama-3, Gemma); the Modelfiles have no TEMPLATE");
  json files = json::array();
  for (auto& job : gguf_jobs) {
    const std::string gguf_name = fs::path(job.rel_path).filename().string();
    const std::string modelfile = fs::path(job.rel_path).stem().string() + ".Modelfile";
    write_file_atomic(out / "gguf" / modelfile, render_modelfile({gguf_name, chat_template, eos_tokens}));
    job.writer->finish();
    Artifact a{"gguf", job.plan.precision_name(), job.rel_path,
               static_cast<uint64_t>(fs::file_size(out / job.rel_path)), job.plan.bpw(), job.plan.total_params};
    files.push_back({{"file", fs::path(job.rel_path).filename().string()},
                     {"precision", a.precision},
                     {"size_bytes", a.size_bytes},
                     {"bpw", a.bpw},
                     {"ollama_modelfile", modelfile}});
    result.artifacts.push_back(a);
  }
  json meta = {{"format", "gguf"},
               {"method", opt.architecture_aware ? "llama.cpp-compatible quants, llama.cpp mix + architecture rules"
                                                 : "llama.cpp-compatible quants, llama.cpp mix"},
               {"architecture", src.hp.gguf_arch},
               {"compatible_backends", {"llama-pajamas-run", "llama.cpp", "ollama", "lm-studio"}},
               {"ollama", {{"modelfile_template", template_shape_name(shape)},
                           {"usage", "ollama create NAME -f gguf/<file>.Modelfile (not tested against Ollama here)"}}},
               {"files", files}};
  write_file_atomic(out / "gguf" / "metadata.json", meta.dump(2) + "\n");
}

// The MLX folders (one pass over the checkpoint for every precision), each with config, tokenizer files and metadata.
void write_mlx(const SourceModel& src, const ConvertOptions& opt, std::vector<MlxJob>& mlx_jobs, formats::StDtype mlx_dtype,
               const fs::path& out, ConvertResult& result) {
  for (auto& job : mlx_jobs) {
    const fs::path dir = out / job.rel_dir;
    fs::create_directories(dir);
    job.writer = std::make_unique<writers::SafetensorsWriter>(dir / "model.safetensors",
                                                              std::map<std::string, std::string>{{"format", "mlx"}});
    for (const auto& t : job.plan.tensors) {
      if (t.quantized) {
        std::vector<int64_t> wshape = t.recipe.shape, sshape = t.recipe.shape;
        wshape.back() = quant::mlx_packed_cols(wshape.back(), t.bits);
        sshape.back() = sshape.back() / t.group_size;
        const std::string m = module_of(t.recipe.mlx_name);
        job.writer->add(m + ".weight", formats::StDtype::U32, wshape);
        job.writer->add(m + ".scales", mlx_dtype, sshape);
        job.writer->add(m + ".biases", mlx_dtype, sshape);
      } else {
        job.writer->add(t.recipe.mlx_name, mlx_dtype, t.recipe.shape);
      }
    }
    job.writer->begin();
  }
  if (!mlx_jobs.empty()) {
    const auto& tensors = mlx_jobs.front().plan.tensors;
    Progress bar("mlx", tensors.size(), opt.progress);
    std::vector<float> rows;
    std::vector<uint8_t> bytes;
    for (size_t ti = 0; ti < tensors.size(); ++ti) {
      RowSource rs(src.ckpt, src.hp, tensors[ti].recipe);
      const int64_t ncols = rs.ncols(), nrows = rs.nrows();
      const int64_t step = chunk_rows(ncols, opt.chunk_bytes);
      // scales/biases follow the packed weight in the file, so they are kept until the weight is written
      std::vector<std::vector<float>> scales(mlx_jobs.size()), biases(mlx_jobs.size());
      for (int64_t r0 = 0; r0 < nrows; r0 += step) {
        const int64_t n = std::min(step, nrows - r0);
        rows.resize(static_cast<size_t>(n * ncols));
        rs.read(r0, n, rows.data());
        for (size_t j = 0; j < mlx_jobs.size(); ++j) {
          const auto& t = mlx_jobs[j].plan.tensors[ti];
          if (t.quantized) {
            std::vector<uint32_t> packed;
            std::vector<float> s, b;
            quant::MlxQuantOptions qo;
            qo.param_dtype = mlx_dtype == formats::StDtype::F32 ? quant::MlxParamDtype::kF32
                             : mlx_dtype == formats::StDtype::F16 ? quant::MlxParamDtype::kF16
                                                                  : quant::MlxParamDtype::kBF16;
            quant::mlx_quantize(rows.data(), n, ncols, t.bits, t.group_size, packed, s, b, qo);
            mlx_jobs[j].writer->write_tensor_data(module_of(t.recipe.mlx_name) + ".weight", packed.data(),
                                                  packed.size() * sizeof(uint32_t));
            scales[j].insert(scales[j].end(), s.begin(), s.end());
            biases[j].insert(biases[j].end(), b.begin(), b.end());
          } else {
            encode_floats(mlx_dtype, rows.data(), rows.size(), bytes);
            mlx_jobs[j].writer->write_tensor_data(t.recipe.mlx_name, bytes.data(), bytes.size());
          }
        }
        rs.release(r0, n);
      }
      rs.release_all();
      for (size_t j = 0; j < mlx_jobs.size(); ++j) {
        const auto& t = mlx_jobs[j].plan.tensors[ti];
        if (!t.quantized) continue;
        const std::string m = module_of(t.recipe.mlx_name);
        encode_floats(mlx_dtype, scales[j].data(), scales[j].size(), bytes);
        mlx_jobs[j].writer->write_tensor_data(m + ".scales", bytes.data(), bytes.size());
        encode_floats(mlx_dtype, biases[j].data(), biases[j].size(), bytes);
        mlx_jobs[j].writer->write_tensor_data(m + ".biases", bytes.data(), bytes.size());
      }
      bar.advance(1, tensors[ti].recipe.mlx_name);
    }
    bar.finish();
    for (auto& job : mlx_jobs) {
      job.writer->finish();
      const fs::path dir = out / job.rel_dir;
      json cfg = arch::mlx_config(src.hp, src.ckpt.config());
      cfg["quantization"] = job.plan.quantization_config();
      cfg["quantization_config"] = cfg["quantization"];
      write_file_atomic(dir / "config.json", cfg.dump(2) + "\n");
      for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                            "chat_template.jinja", "chat_template.json", "tokenizer.model"})
        copy_if_exists(fs::path(src.ckpt.dir()) / f, dir / f);
      uint64_t size = 0;
      for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) size += e.file_size();
      Artifact a{"mlx", job.plan.precision.name(), job.rel_dir, size, job.plan.bpw(), job.plan.total_params};
      json meta = {{"format", "mlx"},
                   {"method", "affine group quantization (mlx.core.quantize layout)"},
                   {"precision", a.precision},
                   {"bits", job.plan.precision.bits},
                   {"group_size", job.plan.precision.group_size},
                   {"mixed", job.plan.precision.mixed},
                   {"mlx_model_type", src.hp.mlx_model_type},
                   {"compatible_backends", {"mlx-lm", "llama-pajamas-run"}},
                   {"size_bytes", a.size_bytes},
                   {"bpw", a.bpw}};
      write_file_atomic(dir / "metadata.json", meta.dump(2) + "\n");
      result.artifacts.push_back(a);
    }
  }
}

// manifest.json: the artifacts, their plans and the architecture report (formats/manifest.h).
void write_manifest(const SourceModel& src, const ConvertOptions& opt, const std::vector<GgufJob>& gguf_jobs,
                    const std::vector<MlxJob>& mlx_jobs, const fs::path& out, ConvertResult& result) {
  formats::Manifest manifest;
  manifest.model_id = src.name;
  for (const auto& a : result.artifacts)
    manifest.formats.push_back({a.format, a.precision, a.path, a.size_bytes, a.bpw,
                                a.format == "gguf" ? "gguf/metadata.json" : a.path + "/metadata.json", {}});
  json plans = json::array();
  for (const auto& job : gguf_jobs) {
    std::map<std::string, uint64_t> by_type;
    std::map<std::string, int> rules;
    for (const auto& t : job.plan.tensors) {
      by_type[ggml_type_name(t.type)] += t.bytes;
      if (t.rule.starts_with("arch:") || t.rule == "user") ++rules[t.rule];
    }
    plans.push_back({{"format", "gguf"}, {"precision", job.plan.precision_name()}, {"total_bytes", job.plan.total_bytes},
                     {"bpw", job.plan.bpw()}, {"bytes_by_type", by_type}, {"architecture_rules_applied", rules}});
  }
  for (const auto& job : mlx_jobs) {
    std::map<std::string, uint64_t> by_bits;
    for (const auto& t : job.plan.tensors) by_bits[t.quantized ? std::to_string(t.bits) + "bit" : "float"] += t.bytes;
    plans.push_back({{"format", "mlx"}, {"precision", job.plan.precision.name()}, {"total_bytes", job.plan.total_bytes},
                     {"bpw", job.plan.bpw()}, {"bytes_by_bits", by_bits}});
  }
  arch::ModelReport report = arch::detect(src.ckpt);
  manifest.sections = {{"tool", {{"name", "llama-pajamas"}, {"version", LP_VERSION}}},
                       {"created", iso_time_now()},
                       {"model", {{"id", src.name}, {"source", fs::weakly_canonical(src.ckpt.dir()).string()}}},
                       {"architecture", arch::to_json(report)},
                       {"architecture_aware", opt.architecture_aware},
                       {"plan", plans},
                       {"warnings", result.warnings}};
  manifest.write(out / "manifest.json");
  result.manifest = manifest.to_json();
}

}  // namespace

ConvertResult convert(const ConvertOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  ConvertResult result;
  if (!opt.gguf && !opt.mlx) fail("--formats: nothing to write (use gguf, mlx or gguf,mlx)");
  SourceModel src = open_source_model(opt.model);
  const int threads = thread_count(opt.threads);

  // A converted folder is one unit (manifest, artifacts, validation results): never mix old and new.
  if (is_non_empty_output(opt.output)) {
    if (!fs::is_directory(opt.output)) fail("{}: exists and is not a folder", opt.output.string());
    if (!opt.force) {
      std::string held;
      int n = 0;
      for (const auto& e : fs::directory_iterator(opt.output)) {
        if (n++ < 4) held += (held.empty() ? "" : ", ") + e.path().filename().string();
      }
      if (n > 4) held += fmt::format(", ... ({} entries)", n);
      fail("{}: output folder is not empty (holds {}); use --force to replace it as a whole, or choose another -o",
           opt.output.string(), held);
    }
  }
  // Fail before any output exists if the destination cannot be written.
  StagingDir staging(opt.output);

  // ---- tokenizer (GGUF needs the vocabulary; MLX copies the files)
  std::optional<text::Tokenizer> tokenizer;
  const fs::path tok_json = fs::path(src.ckpt.dir()) / "tokenizer.json";
  if (fs::exists(tok_json)) {
    tokenizer = text::Tokenizer::from_hf(tok_json, fs::path(src.ckpt.dir()) / "tokenizer_config.json");
  } else if (opt.gguf) {
    fail("{}: missing; a GGUF needs the vocabulary (llama.cpp cannot load a model without one)", tok_json.string());
  }

  // ---- plan, then write
  std::vector<GgufJob> gguf_jobs;
  std::vector<MlxJob> mlx_jobs;
  const formats::StDtype mlx_dtype = mlx_float_dtype(src.hp);
  plan_jobs(src, opt, mlx_dtype, gguf_jobs, mlx_jobs);
  if (!gguf_jobs.empty()) write_gguf(src, opt, *tokenizer, gguf_jobs, staging.path(), threads, result);
  write_mlx(src, opt, mlx_jobs, mlx_dtype, staging.path(), result);
  write_manifest(src, opt, gguf_jobs, mlx_jobs, staging.path(), result);
  if (opt.force) staging.commit_replace();  // the old folder goes as a whole (artifacts, VALIDATION.md, ...)
  else staging.commit();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

std::string write_reference_gguf(const std::string& model, const fs::path& dir, int threads, bool progress) {
  ConvertOptions o;
  o.model = model;
  o.output = dir;
  o.gguf = true;
  o.mlx = false;
  o.precision.gguf = {plan::Preset::F32};
  o.architecture_aware = false;
  o.threads = threads;
  o.progress = progress;
  const ConvertResult r = convert(o);
  for (const auto& a : r.artifacts)
    if (a.format == "gguf") return (dir / a.path).string();
  fail("{}: converting to an F32 GGUF produced no GGUF", model);
}

}  // namespace lp::convert
