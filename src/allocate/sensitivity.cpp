#include "allocate/sensitivity.h"

#include <cmath>
#include <memory>
#include <span>

#include "core/error.h"
#include "core/progress.h"
#include "engine/context.h"
#include "engine/gguf_view.h"
#include "engine/model.h"
#include "eval/token_metrics.h"
#include "llama_pajamas/runtime.h"
#include "quant/quantize.h"

namespace lp::allocate {
namespace {

uint64_t rows_of(const engine::GgufTensor& t) { return static_cast<uint64_t>(t.ne[1] * t.ne[2] * t.ne[3]); }

// The original values of a tensor as floats (row-major, ne[0] per row).
std::vector<float> original_floats(const engine::GgufTensor& t) {
  if (t.mlx) fail("allocate: {} is MLX-quantized; sensitivity needs the original float weights", t.name);
  if (!quant::can_dequantize(t.type)) fail("allocate: {} has type {} which cannot be read back", t.name, ggml_type_name(t.type));
  std::vector<float> out(rows_of(t) * static_cast<uint64_t>(t.ne[0]));
  quant::dequantize(t.type, t.data, out.data(), static_cast<int64_t>(rows_of(t)), t.ne[0]);
  return out;
}

// Quantizes `w` to `type` (per expert slice with that expert's importance) and dequantizes it back into `out`.
// Returns the importance-weighted squared error.
double round_trip(const engine::GgufTensor& t, const std::vector<float>& w, GgmlType type, const SensitivityOptions& o,
                  std::vector<float>& out) {
  const ImportanceFn& importance = o.importance;
  const int threads = o.threads;
  const int64_t ncols = t.ne[0];
  const int64_t rows_per_slice = t.ne[1];
  const int64_t slices = t.ne[2] * t.ne[3];
  out.resize(w.size());
  std::vector<uint8_t> q(static_cast<size_t>(rows_per_slice) * ggml_row_bytes(type, static_cast<uint64_t>(ncols)));
  double err = 0;
  for (int64_t s = 0; s < slices; ++s) {
    const float* src = w.data() + s * rows_per_slice * ncols;
    float* dst = out.data() + s * rows_per_slice * ncols;
    std::optional<std::vector<float>> imp;
    if (importance) imp = importance(t.name, t.ne[2] > 1 ? static_cast<int>(s) : 0, ncols);
    const float* imp_ptr = imp && quant::uses_importance(type) ? imp->data() : nullptr;
    quant::quantize_parallel(type, src, q.data(), rows_per_slice, ncols, imp_ptr, threads);
    quant::dequantize(type, q.data(), dst, rows_per_slice, ncols);
    double slice_err = 0;
    for (int64_t r = 0; r < rows_per_slice; ++r)
      for (int64_t c = 0; c < ncols; ++c) {
        const double d = static_cast<double>(src[r * ncols + c]) - dst[r * ncols + c];
        slice_err += (imp ? (*imp)[static_cast<size_t>(c)] : 1.0) * d * d;
      }
    err += slices > 1 && o.expert_usage ? slice_err * o.expert_usage(t.name, static_cast<int>(s)) : slice_err;
  }
  return err;
}

const engine::GgufTensor& find_tensor(const engine::GgufView& view, const std::string& name) {
  const engine::GgufTensor* t = view.tensor(name);
  if (!t) fail("allocate: the engine's view of the model has no tensor {}", name);
  return *t;
}

size_t total_trials(const std::map<std::string, std::vector<GgmlType>>& candidates) {
  size_t n = 0;
  for (const auto& [name, types] : candidates) n += types.size();
  return n;
}

}  // namespace

LossTable proxy_error(const SensitivityOptions& o, const std::map<std::string, std::vector<GgmlType>>& candidates) {
  const auto view = engine::open_model_view(o.model);
  LossTable table;
  Progress bar("sensitivity (proxy)", total_trials(candidates), o.progress);
  std::vector<float> out;
  for (const auto& [name, types] : candidates) {
    const engine::GgufTensor& t = find_tensor(*view, name);
    const std::vector<float> w = original_floats(t);
    for (GgmlType type : types) {
      table[name][type] = round_trip(t, w, type, o, out);
      bar.advance();
    }
  }
  bar.finish();
  return table;
}

LossTable measure_kld(const SensitivityOptions& o, const std::map<std::string, std::vector<GgmlType>>& candidates) {
  if (o.ctx < 8) fail("allocate: --sensitivity-ctx {} is too small (at least 8)", o.ctx);
  RuntimeOptions ro;
  ro.threads = o.threads;
  ro.ctx = o.ctx;
  ro.batch = o.ctx;
  Runtime ref = Runtime::open(o.model, ro);
  const ModelInfo info = ref.info();
  const std::vector<int32_t> tokens = ref.tokenize(o.text, false, false);
  const int64_t available = static_cast<int64_t>(tokens.size()) / o.ctx;
  if (available < o.chunks)
    fail("calibration set too small for sensitivity: {} tokens make {} chunks of {}, {} needed (--sensitivity-chunks)",
         tokens.size(), available, o.ctx, o.chunks);

  // Reference log-probabilities of the scored positions (second half of each chunk), computed once.
  const int first = o.ctx / 2, n_vocab = info.n_vocab, scored = o.ctx - 1 - first;
  std::vector<std::vector<int32_t>> chunks;
  std::vector<float> ref_lp(static_cast<size_t>(o.chunks) * scored * n_vocab);
  std::vector<int> ref_top(static_cast<size_t>(o.chunks) * scored);
  for (int c = 0; c < o.chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + static_cast<int64_t>(c) * o.ctx, tokens.begin() + static_cast<int64_t>(c + 1) * o.ctx);
    if (info.add_bos && info.bos_token >= 0) chunk[0] = info.bos_token;
    const std::vector<float> logits = ref.evaluate(chunk);
    for (int j = 0; j < scored; ++j) {
      float* row = ref_lp.data() + (static_cast<size_t>(c) * scored + j) * n_vocab;
      std::copy_n(logits.data() + static_cast<size_t>(first + j) * n_vocab, n_vocab, row);
      ref_top[static_cast<size_t>(c) * scored + j] = eval::log_softmax_inplace({row, static_cast<size_t>(n_vocab)}).top;
    }
    chunks.push_back(std::move(chunk));
  }

  const auto base = engine::open_model_view(o.model);
  engine::ContextOptions co;
  co.n_ctx = o.ctx;
  co.n_batch = o.ctx;
  co.threads = o.threads;
  LossTable table;
  Progress bar("sensitivity (KLD)", total_trials(candidates), o.progress);
  std::vector<float> replaced;
  for (const auto& [name, types] : candidates) {
    const engine::GgufTensor& orig = find_tensor(*base, name);
    const std::vector<float> w = original_floats(orig);
    for (GgmlType type : types) {
      round_trip(orig, w, type, o, replaced);
      // The variant: the original's tensors by pointer, this one replaced by its round-tripped F32 copy.
      auto model = engine::Model::from_view(base->with_f32_tensor(name, replaced));
      engine::Context ctx(*model, co);
      eval::ComparisonAccumulator acc;
      for (int c = 0; c < o.chunks; ++c) {
        ctx.reset();
        ctx.eval(chunks[c], /*all_logits=*/true);
        for (int j = 0; j < scored; ++j) {
          const size_t k = static_cast<size_t>(c) * scored + j;
          acc.add(eval::compare_token({ref_lp.data() + k * n_vocab, static_cast<size_t>(n_vocab)}, ref_top[k],
                                      {ctx.logits(first + j), static_cast<size_t>(n_vocab)}, chunks[c][first + j + 1]));
        }
      }
      table[name][type] = acc.summary().kld_mean;
      bar.advance();
    }
  }
  bar.finish();
  return table;
}

}  // namespace lp::allocate
