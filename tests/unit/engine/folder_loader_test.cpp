// Model folders as engine inputs: the HF checkpoint of tiny-qwen3 (BF16 safetensors) must give the F32
// GGUF's logits; MLX folders (written here with quant::mlx_quantize in mlx-lm's layout) must give a
// perplexity close to the float model's; --model resolution picks the right artifact or names what it found.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "engine/context.h"
#include "engine/folder_loader.h"
#include "engine/matmul.h"
#include "engine/model.h"
#include "formats/checkpoint.h"
#include "llama_pajamas/runtime.h"
#include "quant/mlx_affine.h"
#include "quant/mxfp4.h"
#include "tiny_fixture.h"
#include "peer_skip.h"

namespace lp::engine {
namespace {
namespace fs = std::filesystem;

using engine::testing::heldout_tokens;

double perplexity(const Model& m, const std::vector<int32_t>& toks, int n_ctx, int chunks) {
  ContextOptions o;
  o.n_ctx = n_ctx;
  o.n_batch = n_ctx;
  Context ctx(m, o);
  double nll = 0;
  int scored = 0;
  for (int c = 0; c < chunks; ++c) {
    ctx.reset();
    std::span<const int32_t> chunk(toks.data() + size_t(c) * n_ctx, n_ctx);
    ctx.eval(chunk, true);
    for (int i = n_ctx / 2; i < n_ctx - 1; ++i) {
      const float* l = ctx.logits(i);
      const float mx = *std::max_element(l, l + ctx.n_vocab());
      double sum = 0;
      for (int k = 0; k < ctx.n_vocab(); ++k) sum += std::exp(double(l[k]) - mx);
      nll -= double(l[chunk[i + 1]]) - mx - std::log(sum);
      ++scored;
    }
  }
  return std::exp(nll / scored);
}

std::vector<float> all_logits(const Model& m, std::span<const int32_t> toks) {
  ContextOptions o;
  o.n_ctx = 256;
  o.n_batch = 256;
  Context ctx(m, o);
  ctx.eval(toks, true);
  return std::vector<float>(ctx.logits(0), ctx.logits(0) + toks.size() * size_t(ctx.n_vocab()));
}

fs::path scratch_root() { return fs::temp_directory_path() / ("lp_folder_test_" + std::to_string(getpid())); }

// Removes this process's scratch folders when the test binary exits.
struct ScratchCleanup {
  ~ScratchCleanup() {
    std::error_code ec;
    fs::remove_all(scratch_root(), ec);
  }
} scratch_cleanup;

fs::path scratch(const std::string& name) {
  const fs::path p = scratch_root() / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// A minimal safetensors writer (the real one lives in the pipeline's writers module).
struct StOut {
  nlohmann::json header = nlohmann::json::object();
  std::vector<uint8_t> data;
  void add(const std::string& name, const char* dtype, std::vector<int64_t> shape, const void* bytes, size_t n) {
    while (data.size() % 8) data.push_back(0);
    header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {data.size(), data.size() + n}}};
    const auto* p = static_cast<const uint8_t*>(bytes);
    data.insert(data.end(), p, p + n);
  }
  void write(const fs::path& path) {
    header["__metadata__"] = {{"format", "mlx"}};
    std::string h = header.dump();
    while (h.size() % 8) h += ' ';
    std::ofstream out(path, std::ios::binary);
    const uint64_t len = h.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out.write(h.data(), h.size());
    out.write(reinterpret_cast<const char*>(data.data()), data.size());
  }
};

// mlx-lm's layout for a quantized dense model: every 2-D weight as <module>.weight (U32), .scales, .biases (BF16).
fs::path write_mlx_folder(const std::string& fixture, int bits, int group) {
  const fs::path dir = scratch(fs::path(fixture).filename().string() + "_mlx" + std::to_string(bits));
  const auto ckpt = formats::Checkpoint::open(fixture);
  StOut st;
  for (const std::string& name : ckpt.tensor_names()) {
    const auto& t = ckpt.tensor(name);
    if (t.shape.size() != 2) {
      st.add(name, formats::st_dtype_name(t.dtype), t.shape, t.data, t.nbytes);
      continue;
    }
    const auto w = ckpt.read_f32(name);
    std::vector<uint32_t> packed;
    std::vector<float> scales, biases;
    quant::MlxQuantOptions qo;
    qo.param_dtype = quant::MlxParamDtype::kBF16;
    quant::mlx_quantize(w.data(), t.shape[0], t.shape[1], bits, group, packed, scales, biases, qo);
    auto bf16 = [](const std::vector<float>& v) {
      std::vector<uint16_t> h(v.size());
      for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_bf16(v[i]);
      return h;
    };
    const std::string module = name.substr(0, name.rfind('.'));
    const int64_t groups = t.shape[1] / group;
    st.add(module + ".weight", "U32", {t.shape[0], quant::mlx_packed_cols(t.shape[1], bits)}, packed.data(), packed.size() * 4);
    const auto s = bf16(scales), b = bf16(biases);
    st.add(module + ".scales", "BF16", {t.shape[0], groups}, s.data(), s.size() * 2);
    st.add(module + ".biases", "BF16", {t.shape[0], groups}, b.data(), b.size() * 2);
  }
  st.write(dir / "model.safetensors");
  nlohmann::json config = ckpt.config();
  config["quantization"] = {{"group_size", group}, {"bits", bits}};
  config["quantization_config"] = config["quantization"];
  std::ofstream(dir / "config.json") << config.dump(2);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(fs::path(fixture) / f, dir / f);
  return dir;
}

TEST(FolderLoader, HfFolderLogitsMatchF32Gguf) {
  const std::string dir = testing::fixture_dir("tiny-qwen3");
  if (dir.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  EXPECT_EQ(folder_kind(dir), FolderKind::Hf);
  auto hf = Model::load(dir);
  auto gg = Model::load(testing::tiny_qwen3_gguf(GgmlType::F32));
  EXPECT_EQ(hf->hp().arch, "qwen3");
  EXPECT_EQ(hf->hp().n_vocab, gg->hp().n_vocab);
  EXPECT_EQ(hf->hp().n_head_kv, gg->hp().n_head_kv);
  EXPECT_EQ(hf->tokens().bos, gg->tokens().bos);
  EXPECT_EQ(hf->tokens().add_bos, gg->tokens().add_bos);
  // Matrices stay BF16 and zero-copy from the mmap; norms are widened to F32.
  EXPECT_EQ(hf->layers()[0].wq.type(), GgmlType::BF16);
  EXPECT_EQ(hf->layers()[0].q_norm.type(), GgmlType::F32);
  EXPECT_EQ(hf->output().t, hf->token_embd().t);  // tied
  const auto toks = heldout_tokens();
  ASSERT_GE(toks.size(), 256u);
  const std::span<const int32_t> seq(toks.data(), 128);
  const auto a = all_logits(*hf, seq), b = all_logits(*gg, seq);
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
    max_abs = std::max(max_abs, double(std::fabs(b[i])));
  }
  // Same weights (BF16 values are exact in F32); only the kernels differ: the BF16 path
  // multiplies with F32 activations but sums in another order/width, so the difference is float
  // rounding accumulated over 4 layers: ~1e-5 relative to logits of magnitude ~10.
  EXPECT_LT(max_diff, 1e-4 * std::max(1.0, max_abs)) << "max |diff| " << max_diff << " max |logit| " << max_abs;
  std::printf("[ info ] HF BF16 vs F32 GGUF: max |dlogit| %.3g (max |logit| %.3g)\n", max_diff, max_abs);
}

TEST(FolderLoader, MlxFoldersPerplexityCloseToFloat) {
  const std::string dir = testing::fixture_dir("tiny-qwen3");
  if (dir.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  const auto toks = heldout_tokens();
  auto f32 = Model::load(testing::tiny_qwen3_gguf(GgmlType::F32));
  const double base = perplexity(*f32, toks, 256, 16);
  for (const auto& [bits, tol] : {std::pair{8, 0.01}, std::pair{4, 0.05}}) {
    const fs::path mlx = write_mlx_folder(dir, bits, 64);
    EXPECT_EQ(folder_kind(mlx.string()), FolderKind::Mlx);
    auto m = Model::load(mlx.string());
    ASSERT_TRUE(m->layers()[0].wq.t->mlx.has_value());
    EXPECT_EQ(m->layers()[0].wq.t->mlx->bits, bits);
    ASSERT_TRUE(m->token_embd().t->mlx.has_value());  // quantized tied embedding: get_rows + output head
    const double ppl = perplexity(*m, toks, 256, 16);
    EXPECT_NEAR(ppl, base, base * tol) << bits << "-bit MLX perplexity " << ppl << " vs float " << base;
    std::printf("[ info ] %d-bit MLX ppl %.4f vs F32 %.4f (%+.3f%%)\n", bits, ppl, base, 100 * (ppl / base - 1));
  }
}

// tiny-qwen3's weights without its q/k norms, as a `model_type` checkpoint (BF16). qwen2 gets zero q/k/v biases.
fs::path write_dense_variant(const std::string& fixture, const std::string& model_type, const std::string& hf_class) {
  const fs::path dir = scratch(model_type);
  const auto ckpt = formats::Checkpoint::open(fixture);
  StOut st;
  for (const std::string& name : ckpt.tensor_names()) {
    if (name.find("q_norm") != std::string::npos || name.find("k_norm") != std::string::npos) continue;
    const auto& t = ckpt.tensor(name);
    st.add(name, formats::st_dtype_name(t.dtype), t.shape, t.data, t.nbytes);
    if (model_type == "qwen2" && (name.ends_with("q_proj.weight") || name.ends_with("k_proj.weight") || name.ends_with("v_proj.weight"))) {
      const std::vector<uint16_t> zeros(t.shape[0], 0);
      st.add(name.substr(0, name.size() - 6) + "bias", "BF16", {t.shape[0]}, zeros.data(), zeros.size() * 2);
    }
  }
  st.write(dir / "model.safetensors");
  nlohmann::json config = ckpt.config();
  config["model_type"] = model_type;
  config["architectures"] = {hf_class};
  std::ofstream(dir / "config.json") << config.dump(2);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(fs::path(fixture) / f, dir / f);
  return dir;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

TEST(FolderLoader, LlamaQkPermutationMatchesNeoxRope) {
  // llama q/k rows are permuted at load into GGUF's interleaved order and run with "normal" rope; qwen2 keeps
  // HF order with NEOX rope. Same weights (qwen2's biases are zero) -> same logits, for BF16 and MLX rows.
  const std::string dir = testing::fixture_dir("tiny-qwen3");
  if (dir.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  const fs::path llama = write_dense_variant(dir, "llama", "LlamaForCausalLM");
  const fs::path qwen2 = write_dense_variant(dir, "qwen2", "Qwen2ForCausalLM");
  const auto toks = heldout_tokens();
  const std::span<const int32_t> seq(toks.data(), 96);
  auto ml = Model::load(llama.string()), mq = Model::load(qwen2.string());
  ASSERT_EQ(ml->hp().arch, "llama");
  ASSERT_EQ(mq->hp().arch, "qwen2");
  const auto ll = all_logits(*ml, seq), lq = all_logits(*mq, seq);
  // Float noise only (rope pairing and the kernels' tile order differ; measured 1.4e-3 since the column-chunked
  // BF16 tiles, 11.6 without the permutation): 5e-3 separates the two.
  EXPECT_LT(max_abs_diff(ll, lq), 5e-3) << "BF16 llama vs qwen2";
  auto xl = Model::load(write_mlx_folder(llama.string(), 8, 64).string());
  auto xq = Model::load(write_mlx_folder(qwen2.string(), 8, 64).string());
  ASSERT_TRUE(xl->layers()[0].wk.t->mlx.has_value());
  const auto mll = all_logits(*xl, seq), mlq = all_logits(*xq, seq);
  // MLX matmuls quantize activations to int8 per 32 (as the GGUF kernels do): the float noise above flips a few
  // roundings, which 4 layers amplify (measured 0.16-0.19 on every SIMD target and the portable path); a wrong
  // permutation moves logits by ~10.
  EXPECT_LT(max_abs_diff(mll, mlq), 0.5) << "MLX llama vs qwen2";
  EXPECT_GT(max_abs_diff(mll, ll), 1e-4);  // the MLX models really run quantized weights
}

TEST(FolderLoader, ManifestFolderPicksGgufThenMlx) {
  const std::string dir = testing::fixture_dir("tiny-qwen3");
  if (dir.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  const fs::path out = scratch("manifest");
  fs::create_directories(out / "gguf");
  fs::create_directories(out / "mlx");
  fs::copy_file(testing::tiny_qwen3_gguf(GgmlType::F32), out / "gguf" / "model-F32.gguf");
  fs::copy(write_mlx_folder(dir, 8, 64), out / "mlx" / "8bit", fs::copy_options::recursive);
  const nlohmann::json manifest = {{"formats",
                                    {{{"format", "mlx"}, {"path", "mlx/8bit"}},
                                     {{"format", "gguf"}, {"path", "gguf/model-F32.gguf"}}}}};
  std::ofstream(out / "manifest.json") << manifest.dump();
  RuntimeOptions o;
  o.ctx = 64;
  o.backend = Backend::Cpu;
  EXPECT_EQ(fs::path(Runtime::open(out.string(), o).info().path).filename(), "model-F32.gguf");
  fs::remove(out / "gguf" / "model-F32.gguf");  // no GGUF left: the MLX folder is next
  auto rt = Runtime::open(out.string(), o);
  EXPECT_EQ(fs::path(rt.info().path).filename(), "8bit");
  EXPECT_EQ(rt.info().architecture, "qwen3");
  EXPECT_FALSE(rt.tokenize("hello world", false).empty());
}

std::string open_error(const std::string& path) {
  try {
    RuntimeOptions o;
    o.ctx = 64;
    Runtime::open(path, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(FolderLoader, ClearErrorsForFoldersItCannotRun) {
  const fs::path empty = scratch("empty");
  EXPECT_NE(open_error(empty.string()).find("not a model"), std::string::npos) << open_error(empty.string());

  const fs::path cfg_only = scratch("cfg_only");
  std::ofstream(cfg_only / "config.json") << R"({"model_type": "qwen3"})";
  EXPECT_NE(open_error(cfg_only.string()).find("no *.safetensors"), std::string::npos) << open_error(cfg_only.string());

  const fs::path manifest = scratch("bad_manifest");
  std::ofstream(manifest / "manifest.json") << R"({"formats": [{"format": "gguf", "path": "gguf/missing.gguf"}]})";
  EXPECT_NE(open_error(manifest.string()).find("manifest.json names no GGUF"), std::string::npos) << open_error(manifest.string());
}

// HF MoE folder: per-expert BF16 matrices are stacked into one [in, out, n_expert] tensor; expert e's row r
// must be the checkpoint's experts.e row r. (Logits/perplexity: tests/oracles/engine_moe.test.mjs.)
TEST(FolderLoader, Qwen3MoeExpertsAreStackedInExpertOrder) {
  const std::string dir = testing::fixture_dir("tiny-qwen3moe");
  if (dir.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3moe missing");
  auto m = Model::load(dir);
  ASSERT_TRUE(m->hp().is_moe());
  EXPECT_EQ(m->hp().n_expert, 8);
  EXPECT_EQ(m->hp().n_expert_used, 2);
  const auto ckpt = formats::Checkpoint::open(dir);
  for (const auto& [layer, expert, proj, gguf] : {std::tuple{2, 5, "down_proj", "ffn_down_exps"}, std::tuple{0, 7, "gate_proj", "ffn_gate_exps"},
                                                  std::tuple{3, 0, "up_proj", "ffn_up_exps"}}) {
    const MoeDesc& moe = m->layers()[layer].moe;
    const Weight& w = std::string(gguf) == "ffn_down_exps" ? moe.down_exps : std::string(gguf) == "ffn_gate_exps" ? moe.gate_exps : moe.up_exps;
    ASSERT_TRUE(w);
    EXPECT_EQ(w.n_experts(), 8);
    const auto src = ckpt.read_f32("model.layers." + std::to_string(layer) + ".mlp.experts." + std::to_string(expert) + "." + proj + ".weight");
    std::vector<float> row(w.cols());
    for (int64_t r : {int64_t{0}, int64_t{7}, w.expert_rows() - 1}) {
      weight_row(w, expert * w.expert_rows() + r, row.data());
      for (int64_t c = 0; c < w.cols(); ++c) ASSERT_EQ(row[c], src[r * w.cols() + c]) << gguf << " expert " << expert << " row " << r;
    }
  }
}

// gpt-oss HF folder: MXFP4 experts (`*_blocks`/`*_scales`) are repacked to ggml block_mxfp4 at load, never
// dequantized; gate_up's interleaved rows split into gate (even) and up (odd), its bias likewise. Every expert row
// checked must decode to the checkpoint's values by the independent checkpoint-layout decoder.
// (Perplexity == the F16+MXFP4 GGUF's: tests/oracles/engine_moe.test.mjs.)
TEST(FolderLoader, GptOssMxfp4ExpertsRepackedLosslessly) {
  const std::string dir = testing::fixture_dir("tiny-gptoss");
  if (dir.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-gptoss missing");
  auto m = Model::load(dir);
  ASSERT_TRUE(m->hp().is_moe());
  const auto ckpt = formats::Checkpoint::open(dir);
  for (int layer : {0, 3}) {
    const MoeDesc& moe = m->layers()[layer].moe;
    const std::string prefix = "model.layers." + std::to_string(layer) + ".mlp.experts.";
    for (const auto& [w, proj, stride, offset] : {std::tuple{&moe.gate_exps, "gate_up_proj", 2, 0}, std::tuple{&moe.up_exps, "gate_up_proj", 2, 1},
                                                  std::tuple{&moe.down_exps, "down_proj", 1, 0}}) {
      ASSERT_TRUE(*w);
      EXPECT_EQ(w->type(), GgmlType::MXFP4) << proj;
      const auto& blocks = ckpt.tensor(prefix + proj + "_blocks");
      const auto& scales = ckpt.tensor(prefix + proj + "_scales");
      const int64_t cols = w->cols(), rows = w->expert_rows(), src_rows = rows * stride;
      std::vector<float> got(cols), want(cols);
      for (int64_t e : {int64_t{0}, w->n_experts() - 1})
        for (int64_t r : {int64_t{0}, int64_t{5}, rows - 1}) {
          weight_row(*w, e * rows + r, got.data());
          const int64_t src = e * src_rows + r * stride + offset;
          quant::mxfp4_checkpoint_dequantize(blocks.data + src * cols / 2, scales.data + src * (cols / 32), cols, want.data());
          for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(got[c], want[c]) << proj << " layer " << layer << " expert " << e << " row " << r;
        }
    }
    // gate_up bias [E, 2F] interleaved -> gate/up [F, E]; down bias [E, D] as is.
    const auto bias = ckpt.read_f32(prefix + "gate_up_proj_bias");
    const auto down_bias = ckpt.read_f32(prefix + "down_proj_bias");
    const int64_t F = moe.gate_exps.expert_rows(), D = moe.down_exps.expert_rows();
    std::vector<float> g(F), u(F), d(D);
    for (int64_t e : {int64_t{0}, int64_t{6}}) {
      weight_row(moe.gate_exps_b, e, g.data());
      weight_row(moe.up_exps_b, e, u.data());
      weight_row(moe.down_exps_b, e, d.data());
      for (int64_t f = 0; f < F; ++f) {
        ASSERT_EQ(g[f], bias[e * 2 * F + 2 * f]) << "gate bias expert " << e;
        ASSERT_EQ(u[f], bias[e * 2 * F + 2 * f + 1]) << "up bias expert " << e;
      }
      for (int64_t c = 0; c < D; ++c) ASSERT_EQ(d[c], down_bias[e * D + c]) << "down bias expert " << e;
    }
  }
}

}  // namespace
}  // namespace lp::engine
