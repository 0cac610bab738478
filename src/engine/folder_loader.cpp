#include "engine/folder_loader.h"
#include "core/file_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "arch/arch.h"
#include "arch/row_map.h"
#include "core/error.h"
#include "formats/checkpoint.h"
#include "quant/mlx_affine.h"
#include "quant/mxfp4.h"
#include "text/tokenizer/tokenizer.h"

namespace lp::engine {
namespace fs = std::filesystem;
using formats::StDtype;
using formats::StTensor;

namespace {

// Owns what the view's tensors point at: the mapped checkpoint files and the buffers built at load.
struct FolderData {
  formats::Checkpoint ckpt;
  std::vector<std::vector<uint8_t>> buffers;  // moving the outer vector keeps each buffer's address
  uint8_t* alloc(size_t bytes) { return buffers.emplace_back(bytes).data(); }
  float* alloc_f32(size_t n) { return reinterpret_cast<float*>(alloc(n * sizeof(float))); }
};

const nlohmann::json* mlx_quantization(const nlohmann::json& config) {
  auto it = config.find("quantization");
  if (it == config.end() || !it->is_object() || !it->contains("bits") || !it->contains("group_size")) return nullptr;
  return &*it;
}

std::optional<nlohmann::json> read_config(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "config.json", ec)) return std::nullopt;
  return read_json_file(dir / "config.json");
}

// The metadata a GGUF from our converter carries: architecture keys, plus the tokenizer's scalar keys (ids,
// add_bos, model) which Model reads; the vocabulary itself stays with text::Tokenizer.
std::map<std::string, GgufValue> folder_metadata(const arch::HParams& hp, const fs::path& dir, const nlohmann::json& config) {
  std::map<std::string, GgufValue> kv;
  for (auto& e : arch::gguf_metadata(hp, dir.filename().string())) kv[e.key] = std::move(e.value);
  if (fs::exists(dir / "tokenizer.json")) {
    const text::Tokenizer tok = text::Tokenizer::load(dir);
    for (auto& e : text::gguf_tokenizer_metadata(tok).entries)
      if (!e.value.is_array() && e.key != "tokenizer.chat_template") kv[e.key] = std::move(e.value);
  }
  // Like llama.cpp's SpecialVocab: ids the tokenizer files leave unset come from config.json.
  for (const char* k : {"bos_token_id", "eos_token_id"}) {
    const std::string key = std::string("tokenizer.ggml.") + k;
    auto it = config.find(k);
    if (kv.count(key) || it == config.end()) continue;
    const nlohmann::json& v = it->is_array() && !it->empty() ? it->front() : *it;
    if (v.is_number_integer() && v.get<int64_t>() >= 0) kv[key] = v.get<int64_t>();
  }
  return kv;
}

void copy_rows(const uint8_t* src, uint8_t* dst, const std::vector<int64_t>& order, size_t row_bytes) {
  for (size_t r = 0; r < order.size(); ++r) std::memcpy(dst + r * row_bytes, src + order[r] * row_bytes, row_bytes);
}

bool is_expert_split(const arch::GgufTensorRecipe& r) {
  return r.transform == arch::Transform::SplitGateUpEven || r.transform == arch::Transform::SplitGateUpOdd ||
         r.transform == arch::Transform::SplitGateUpLower || r.transform == arch::Transform::SplitGateUpUpper ||
         r.transpose_source;
}

class FolderBuilder {
 public:
  FolderBuilder(std::shared_ptr<FolderData> data, arch::HParams hp, std::string dir)
      : data_(std::move(data)), hp_(std::move(hp)), dir_(std::move(dir)) {}

  const arch::HParams& hp() const { return hp_; }

  GgufTensor start(const arch::GgufTensorRecipe& r) const {
    if (r.ne.empty() || r.ne.size() > 4) fail("{}: tensor {} has {} dimensions", dir_, r.gguf_name, r.ne.size());
    GgufTensor t;
    t.name = r.gguf_name;
    t.n_dims = static_cast<int>(r.ne.size());
    for (size_t d = 0; d < r.ne.size(); ++d) t.ne[d] = r.ne[d];
    return t;
  }
  int64_t rows(const GgufTensor& t) const { return t.ne[1] * t.ne[2] * t.ne[3]; }

  // The q/k permutation's (or qwen35's V-head reordering's) source row per output row (arch::RowMap, shared with the
  // converter); nullopt when rows stay.
  std::optional<std::vector<int64_t>> row_order(const arch::GgufTensorRecipe& r, int64_t rows) const {
    if (r.transform != arch::Transform::PermuteQK && !(r.vheads.active() && !r.vheads.columns)) return std::nullopt;
    const arch::RowMap map = arch::row_map(hp_, r, 2);
    if (map.rows() != rows) fail("{}: tensor {} has {} rows, its recipe {}", dir_, r.gguf_name, rows, map.rows());
    std::vector<int64_t> src(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) src[static_cast<size_t>(i)] = map.locate(i).row;
    return src;
  }

  void check_transform(const arch::GgufTensorRecipe& r) const {
    using arch::Transform;
    if (r.transform != Transform::None && r.transform != Transform::PermuteQK && r.transform != Transform::AddOne &&
        r.transform != Transform::NegExp)
      fail("{}: {} tensor {} needs transform {}, which the CPU engine cannot apply at load", dir_, hp_.gguf_arch, r.gguf_name,
           arch::transform_name(r.transform));
    if (r.sources.size() != 1) fail("{}: tensor {} has {} sources; the CPU engine loads one", dir_, r.gguf_name, r.sources.size());
  }

  // A float checkpoint tensor in GGUF layout: vectors/norms F32; matrices in their own dtype, zero-copy when
  // no transform applies (see folder_loader.h).
  GgufTensor float_tensor(const arch::GgufTensorRecipe& r, const StTensor& st) {
    check_transform(r);
    GgufTensor t = start(r);
    const int64_t n = t.ne[0] * rows(t);
    if (static_cast<int64_t>(st.n_elements()) != n)
      fail("{}: tensor {} ({}) has {} elements, expected {}", dir_, st.name, r.gguf_name, st.n_elements(), n);
    const bool keep_dtype = t.n_dims >= 2 && !r.force_f32 && r.transform != arch::Transform::AddOne && !r.vheads.active() &&
                            (st.dtype == StDtype::F32 || st.dtype == StDtype::F16 || st.dtype == StDtype::BF16);
    if (!keep_dtype) {
      float* f = data_->alloc_f32(n);
      data_->ckpt.read_f32(st, f);  // integer dtypes are refused here, naming the tensor
      if (r.transform == arch::Transform::AddOne)
        for (int64_t i = 0; i < n; ++i) f[i] += 1.0f;
      if (r.transform == arch::Transform::NegExp)  // qwen35 ssm_a = -exp(A_log)
        for (int64_t i = 0; i < n; ++i) f[i] = -std::exp(f[i]);
      if (r.vheads.active() && r.vheads.columns) {  // qwen35 V-head order within each row (ssm_out, ssm_a, ssm_dt)
        const int64_t cols = t.ne[0];
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t i = 0; i < n / cols; ++i) {
          std::copy_n(f + i * cols, cols, row.data());
          for (int64_t k = 0; k < cols; ++k) f[i * cols + k] = row[static_cast<size_t>(r.vheads.source(k))];
        }
      }
      if (auto order = row_order(r, rows(t))) {  // 1-D q/k biases: one "row" per element
        std::vector<float> tmp(f, f + n);
        copy_rows(reinterpret_cast<const uint8_t*>(tmp.data()), reinterpret_cast<uint8_t*>(f), *order, t.ne[0] * sizeof(float));
      }
      t.type = GgmlType::F32;
      t.data = reinterpret_cast<const uint8_t*>(f);
      t.nbytes = n * sizeof(float);
      return t;
    }
    t.type = st.dtype == StDtype::F32 ? GgmlType::F32 : st.dtype == StDtype::F16 ? GgmlType::F16 : GgmlType::BF16;
    t.nbytes = st.nbytes;
    const size_t elem = st.dtype == StDtype::F32 ? 4 : 2;
    auto order = row_order(r, rows(t));
    if (!order && reinterpret_cast<uintptr_t>(st.data) % elem == 0) {
      t.data = st.data;  // zero-copy from the mmap
      return t;
    }
    uint8_t* dst = data_->alloc(st.nbytes);
    if (order) copy_rows(st.data, dst, *order, t.ne[0] * elem);
    else std::memcpy(dst, st.data, st.nbytes);
    t.data = dst;
    return t;
  }

  // Per-expert float matrices (HF qwen3moe/mixtral: sources[e] = expert e's [out, in]) stacked into one
  // [in, out, n_expert] tensor in the experts' common dtype: one copy, as the GGUF converter does.
  GgufTensor stacked_experts(const arch::GgufTensorRecipe& r, const formats::Checkpoint& ckpt) {
    GgufTensor t = start(r);
    const int64_t per_expert = t.ne[0] * t.ne[1];
    if (t.n_dims != 3 || static_cast<int64_t>(r.sources.size()) != t.ne[2])
      fail("{}: tensor {} stacks {} sources into {} experts", dir_, r.gguf_name, r.sources.size(), t.ne[2]);
    const StTensor& first = ckpt.tensor(r.sources[0]);
    if (first.dtype != StDtype::F32 && first.dtype != StDtype::F16 && first.dtype != StDtype::BF16)
      fail("{}: expert tensor {} has dtype {}; the CPU engine stacks F32/F16/BF16 experts", dir_, first.name, formats::st_dtype_name(first.dtype));
    const size_t bytes = first.nbytes;
    std::vector<const StTensor*> experts;
    for (size_t e = 0; e < r.sources.size(); ++e) {
      const StTensor& st = ckpt.tensor(r.sources[e]);
      if (st.dtype != first.dtype || static_cast<int64_t>(st.n_elements()) != per_expert || st.nbytes != bytes)
        fail("{}: expert tensor {} ({} elements, {}) does not match {} ({} elements, {})", dir_, st.name, st.n_elements(),
             formats::st_dtype_name(st.dtype), first.name, per_expert, formats::st_dtype_name(first.dtype));
      experts.push_back(&st);
    }
    // Row by row through the recipe's RowMap, as the converter's RowSource reads them.
    const arch::RowMap map = arch::row_map(hp_, r, first.shape.size());
    const size_t row_bytes = bytes / static_cast<size_t>(t.ne[1]);
    uint8_t* dst = data_->alloc(bytes * r.sources.size());
    for (int64_t row = 0; row < map.rows(); ++row) {
      const arch::SourceRow m = map.locate(row);
      std::memcpy(dst + static_cast<size_t>(row) * row_bytes, experts[m.source]->data + static_cast<size_t>(m.row) * row_bytes, row_bytes);
    }
    t.type = first.dtype == StDtype::F32 ? GgmlType::F32 : first.dtype == StDtype::F16 ? GgmlType::F16 : GgmlType::BF16;
    t.data = dst;
    t.nbytes = bytes * r.sources.size();
    return t;
  }

  // gpt-oss MXFP4 experts: `*_blocks` U8 [E, src_rows, cols/32, 16] + `*_scales` U8 [E, src_rows, cols/32] become
  // ggml block_mxfp4 rows (a lossless nibble reorder with the exponent moved into each block: one buffer the size
  // of the checkpoint's bytes, never dequantized). gate_up keeps its even (gate) or odd (up) rows.
  GgufTensor mxfp4_experts(const arch::GgufTensorRecipe& r, const formats::Checkpoint& ckpt) {
    using arch::Transform;
    GgufTensor t = start(r);
    if (t.n_dims != 3 || r.sources.size() != 2) fail("{}: MXFP4 tensor {} needs 3 dimensions and blocks + scales", dir_, r.gguf_name);
    const StTensor& blocks = ckpt.tensor(r.sources[0]);
    const StTensor& scales = ckpt.tensor(r.sources[1]);
    const int64_t cols = t.ne[0], rows = t.ne[1], n_expert = t.ne[2], nb = cols / quant::QK_MXFP4;
    if (blocks.dtype != StDtype::U8 || scales.dtype != StDtype::U8)
      fail("{}: MXFP4 tensors {} / {} must be U8", dir_, blocks.name, scales.name);
    // The recipe's RowMap picks the source row of every output row (gate: even rows, up: odd), as in the converter.
    const arch::RowMap map = arch::row_map(hp_, r, blocks.shape.size());
    const int64_t src_rows = cols % quant::QK_MXFP4 == 0 ? static_cast<int64_t>(blocks.nbytes) / (cols / 2) : 0;
    if (cols % quant::QK_MXFP4 != 0 || static_cast<int64_t>(blocks.nbytes) != src_rows * cols / 2 ||
        static_cast<int64_t>(scales.nbytes) != src_rows * nb || map.rows() != n_expert * rows ||
        (map.rows() > 0 && map.locate(map.rows() - 1).row >= src_rows))
      fail("{}: MXFP4 tensor {} ({} bytes) / {} ({} bytes) does not hold {} experts x {} rows x {} columns", dir_, blocks.name,
           blocks.nbytes, scales.name, scales.nbytes, n_expert, rows, cols);
    auto* dst = reinterpret_cast<quant::block_mxfp4*>(data_->alloc(n_expert * rows * nb * sizeof(quant::block_mxfp4)));
    for (int64_t row = 0; row < map.rows(); ++row) {
      const int64_t src = map.locate(row).row;
      quant::mxfp4_from_checkpoint(blocks.data + src * cols / 2, scales.data + src * nb, cols, dst + row * nb);
    }
    t.type = GgmlType::MXFP4;
    t.data = reinterpret_cast<const uint8_t*>(dst);
    t.nbytes = n_expert * rows * nb * sizeof(quant::block_mxfp4);
    return t;
  }

  // gpt-oss float expert tensors that need rows picked or transposed: the gate_up bias [E, 2F] split into
  // gate/up [F, E]; the dense-BF16 layout (gate_up [E, D, 2F], down [E, F, D]) transposed to [E][out][in].
  // Built in F32 (these are copies anyway; the MXFP4 layout is the one real checkpoints use).
  GgufTensor split_experts(const arch::GgufTensorRecipe& r, const formats::Checkpoint& ckpt) {
    using arch::Transform;
    GgufTensor t = start(r);
    const StTensor& st = ckpt.tensor(r.sources.at(0));
    const int64_t n = t.ne[0] * rows(t), width = t.ne[0];
    // Source row of each output row from the recipe's RowMap (shared with the converter's RowSource).
    const arch::RowMap map = arch::row_map(hp_, r, st.shape.size());
    std::vector<float> src(st.n_elements());
    data_->ckpt.read_f32(st, src.data());
    const int64_t B = st.shape.empty() ? 0 : st.shape.back(), A = st.shape.size() >= 2 ? st.shape[st.shape.size() - 2] : 1;
    if (r.transpose_source && A != width) fail("{}: transposed source {} has {} rows, expected {}", dir_, st.name, A, width);
    float* dst = data_->alloc_f32(n);
    for (int64_t row = 0; row < map.rows(); ++row) {
      const arch::SourceRow m = map.locate(row);
      float* out = dst + row * width;
      int64_t last = 0;  // highest source index read, for the bound check
      if (m.parity >= 0) {  // bias [E, 2F]: every other value of a row twice as long
        last = (m.row + 1) * 2 * width - 1;
        if (last < static_cast<int64_t>(src.size()))
          for (int64_t c = 0; c < width; ++c) out[c] = src[static_cast<size_t>(m.row * 2 * width + 2 * c + m.parity)];
      } else if (r.transpose_source) {  // dense [E, in, B]: "row" j of matrix e is column j
        const int64_t e = m.row / B, j = m.row % B;
        last = (e * A + A - 1) * B + j;
        if (last < static_cast<int64_t>(src.size()))
          for (int64_t k = 0; k < A; ++k) out[k] = src[static_cast<size_t>((e * A + k) * B + j)];
      } else {
        last = (m.row + 1) * width - 1;
        if (last < static_cast<int64_t>(src.size())) std::memcpy(out, src.data() + m.row * width, static_cast<size_t>(width) * sizeof(float));
      }
      if (last >= static_cast<int64_t>(src.size()))
        fail("{}: tensor {} ({} elements) is too small for {} (row {})", dir_, st.name, st.n_elements(), r.gguf_name, m.row);
    }
    t.type = GgmlType::F32;
    t.data = reinterpret_cast<const uint8_t*>(dst);
    t.nbytes = n * sizeof(float);
    return t;
  }

  // An MLX affine-quantized matrix: packed words (mmap unless rows move), scales/biases widened to F32.
  // Stacked experts (mlx-lm's SwitchLinear, [E, out, in]) are already in the engine's [in, out, E] order.
  GgufTensor mlx_tensor(const arch::GgufTensorRecipe& r, const StTensor& w, const StTensor& scales, const StTensor& biases,
                        int bits, int group_size, bool stacked_experts = false) {
    if (!stacked_experts) check_transform(r);
    if (r.transform == arch::Transform::AddOne) fail("{}: norm tensor {} is quantized", dir_, w.name);
    GgufTensor t = start(r);
    const int64_t nrows = rows(t), cols = t.ne[0], words = quant::mlx_packed_cols(cols, bits), groups = cols / group_size;
    if (static_cast<int64_t>(w.n_elements()) != nrows * words || static_cast<int64_t>(scales.n_elements()) != nrows * groups ||
        static_cast<int64_t>(biases.n_elements()) != nrows * groups)
      fail("{}: MLX tensor {} does not hold [{}, {}] at {} bits, group {}", dir_, w.name, nrows, cols, bits, group_size);
    auto order = stacked_experts ? std::nullopt : row_order(r, nrows);
    const uint8_t* packed = w.data;
    if (order || reinterpret_cast<uintptr_t>(packed) % 4 != 0) {
      uint8_t* dst = data_->alloc(w.nbytes);
      if (order) copy_rows(w.data, dst, *order, words * 4);
      else std::memcpy(dst, w.data, w.nbytes);
      packed = dst;
    }
    auto widen_params = [&](const StTensor& p) {
      float* f = data_->alloc_f32(nrows * groups);
      formats::convert_to_f32(p.dtype, p.data, nrows * groups, f);
      if (order) {
        std::vector<float> tmp(f, f + nrows * groups);
        copy_rows(reinterpret_cast<const uint8_t*>(tmp.data()), reinterpret_cast<uint8_t*>(f), *order, groups * sizeof(float));
      }
      return f;
    };
    for (const StTensor* p : {&scales, &biases})
      if (p->dtype != StDtype::F32 && p->dtype != StDtype::F16 && p->dtype != StDtype::BF16)
        fail("{}: MLX tensor {} has dtype {}, expected F32/F16/BF16", dir_, p->name, formats::st_dtype_name(p->dtype));
    t.mlx = kernels::MlxWeights{reinterpret_cast<const uint32_t*>(packed), widen_params(scales), widen_params(biases), bits, group_size};
    t.type = GgmlType::F32;  // unused for MLX tensors (Weight users check t.mlx first)
    t.data = packed;
    t.nbytes = w.nbytes + scales.nbytes + biases.nbytes;
    return t;
  }

  // An MLX float tensor of stacked experts ([E, out, in] weights, [E, n] biases): the layout the engine reads.
  // Biases become F32 (the engine's vector convention); weights stay in their dtype, zero-copy when aligned.
  GgufTensor mlx_float_experts(const arch::GgufTensorRecipe& r, const StTensor& st) {
    GgufTensor t = start(r);
    const int64_t n = t.ne[0] * rows(t);
    if (static_cast<int64_t>(st.n_elements()) != n)
      fail("{}: expert tensor {} ({}) has {} elements, expected {}", dir_, st.name, r.gguf_name, st.n_elements(), n);
    const bool keep = !r.is_bias && (st.dtype == StDtype::F32 || st.dtype == StDtype::F16 || st.dtype == StDtype::BF16);
    if (!keep) {
      float* f = data_->alloc_f32(n);
      data_->ckpt.read_f32(st, f);
      t.type = GgmlType::F32;
      t.data = reinterpret_cast<const uint8_t*>(f);
      t.nbytes = n * sizeof(float);
      return t;
    }
    const size_t elem = st.dtype == StDtype::F32 ? 4 : 2;
    t.type = st.dtype == StDtype::F32 ? GgmlType::F32 : st.dtype == StDtype::F16 ? GgmlType::F16 : GgmlType::BF16;
    t.nbytes = st.nbytes;
    if (reinterpret_cast<uintptr_t>(st.data) % elem == 0) {
      t.data = st.data;
    } else {
      uint8_t* dst = data_->alloc(st.nbytes);
      std::memcpy(dst, st.data, st.nbytes);
      t.data = dst;
    }
    return t;
  }

  GgufTensor rope_freqs(const arch::GgufTensorRecipe& r) {
    const std::vector<float> f = arch::rope_freq_factors(hp_);
    GgufTensor t = start(r);
    t.type = GgmlType::F32;
    t.n_dims = 1;
    t.ne[0] = static_cast<int64_t>(f.size());
    float* dst = data_->alloc_f32(f.size());
    std::memcpy(dst, f.data(), f.size() * sizeof(float));
    t.data = reinterpret_cast<const uint8_t*>(dst);
    t.nbytes = f.size() * sizeof(float);
    return t;
  }

 private:
  std::shared_ptr<FolderData> data_;
  arch::HParams hp_;
  std::string dir_;
};

// HF folders (gpt-oss MXFP4 experts repacked at load) and MLX folders (stacked SwitchLinear experts read as
// they are) of every family the engine runs.
void require_runnable(const arch::HParams& hp, const std::string& dir) {
  if (!arch::engine_runs(hp.family))
    fail("{}: architecture '{}' ({}) is not supported by the CPU engine from this folder ({} are; convert it to GGUF)", dir,
         hp.model_type, hp.gguf_arch, arch::engine_families_text());
}

// Routed-expert tensors are keyed by what they are, not by name: HF and MLX name them differently.
using ExpertKey = std::tuple<int, arch::Role, bool>;  // layer, role, is_bias
using arch::role_is_routed_expert;

std::unique_ptr<GgufView> load_hf(const fs::path& dir) {
  auto data = std::make_shared<FolderData>(FolderData{formats::Checkpoint::open(dir.string()), {}});
  const formats::Checkpoint& ckpt = data->ckpt;
  if (!ckpt.has_weights()) fail("{}: config.json but no *.safetensors weights", dir.string());
  arch::HParams hp = arch::parse_hparams(ckpt.config(), ckpt.path_of("config.json"));
  require_runnable(hp, dir.string());
  const auto recipes = arch::gguf_tensors(hp, arch::classify(hp, ckpt));
  FolderBuilder b(data, hp, dir.string());
  std::vector<GgufTensor> tensors;
  for (const auto& r : recipes) {
    if (r.transform == arch::Transform::GenerateRopeFreqs) tensors.push_back(b.rope_freqs(r));
    else if (r.transform == arch::Transform::StackExperts) tensors.push_back(b.stacked_experts(r, ckpt));
    else if (r.native_mxfp4) tensors.push_back(b.mxfp4_experts(r, ckpt));
    else if (is_expert_split(r)) tensors.push_back(b.split_experts(r, ckpt));
    else tensors.push_back(b.float_tensor(r, ckpt.tensor(r.sources.at(0))));
  }
  return std::make_unique<GgufView>(dir.string(), ckpt.total_bytes(), folder_metadata(hp, dir, ckpt.config()), std::move(tensors), data);
}

// Bits and group size of one MLX module: the per-module override (mlx-lm writes {"bits", "group_size"} under the
// module path) or the folder default.
std::pair<int, int> mlx_params(const nlohmann::json& q, const std::string& module) {
  int bits = q.at("bits").get<int>(), group = q.at("group_size").get<int>();
  if (auto it = q.find(module); it != q.end() && it->is_object()) {
    bits = it->value("bits", bits);
    group = it->value("group_size", group);
  }
  return {bits, group};
}

std::unique_ptr<GgufView> load_mlx(const fs::path& dir) {
  auto data = std::make_shared<FolderData>(FolderData{formats::Checkpoint::open(dir.string()), {}});
  const formats::Checkpoint& ckpt = data->ckpt;
  const std::string cfg_path = ckpt.path_of("config.json");
  const nlohmann::json& q = *mlx_quantization(ckpt.config());
  arch::HParams hp = arch::parse_hparams(ckpt.config(), cfg_path);
  require_runnable(hp, dir.string());
  if (hp.full_attention_interval > 0) fail("{}: MLX folders of {} are not supported yet", dir.string(), hp.model_type);

  // MoE: the routed experts the folder should hold, by MLX name (mlx-lm's stacked form of the HF layout, which
  // for gpt-oss is the dense BF16 one: MLX folders carry no MXFP4 quantization_config).
  std::set<std::string> mlx_expert_names;
  std::vector<arch::TensorInfo> hf_experts;
  if (hp.is_moe()) {
    const auto expected = arch::classify(hp, arch::expected_tensors(hp));
    for (const auto& d : expected)
      if (role_is_routed_expert(d.role)) hf_experts.push_back({d.hf_name, d.dtype, d.hf_shape});
    for (const auto& m : arch::mlx_tensors(hp, expected))
      if (role_is_routed_expert(m.role)) mlx_expert_names.insert(m.mlx_name);
  }

  // The checkpoint as the classifier expects it: quantized weights with their logical [rows, cols] shape,
  // their .scales/.biases companions hidden.
  struct Quantized { const StTensor *w, *scales, *biases; int bits, group; };
  std::map<std::string, Quantized> quantized;  // by weight name
  std::vector<arch::TensorInfo> infos;
  for (const std::string& name : ckpt.tensor_names()) {
    const StTensor& t = ckpt.tensor(name);
    auto companion_of = [&](const char* suffix) {
      const size_t n = std::strlen(suffix);
      if (name.size() <= n || name.compare(name.size() - n, n, suffix) != 0) return false;
      const StTensor* w = ckpt.find(name.substr(0, name.size() - n) + ".weight");
      return w && w->dtype == StDtype::U32;
    };
    if (companion_of(".scales") || companion_of(".biases")) continue;
    std::vector<int64_t> shape = t.shape;
    std::string dtype = formats::st_dtype_name(t.dtype);
    if (t.dtype == StDtype::U32) {
      const std::string module = name.substr(0, name.rfind('.'));
      const StTensor* s = ckpt.find(module + ".scales");
      const StTensor* bi = ckpt.find(module + ".biases");
      const size_t rank = mlx_expert_names.count(name) ? 3 : 2;  // stacked experts: [E, out, words]
      if (!s || !bi || shape.size() != rank || s->shape.size() != rank || bi->shape != s->shape ||
          !std::equal(shape.begin(), shape.end() - 1, s->shape.begin()))
        fail("{}: U32 tensor {} has no {}-D {}.scales/.biases of matching shape: not an MLX affine-quantized weight",
             dir.string(), name, rank, module);
      const auto [bits, group] = mlx_params(q, module);
      const int64_t cols = s->shape.back() * group;
      if (!quant::mlx_supported(bits, group) || quant::mlx_packed_cols(cols, bits) != shape.back())
        fail("{}: MLX tensor {} [{} words/row, {} groups/row] does not match bits {} group_size {} from {}", dir.string(), name,
             shape.back(), s->shape.back(), bits, group, cfg_path);
      shape.back() = cols;
      dtype = formats::st_dtype_name(s->dtype);
      quantized[name] = {&t, s, bi, bits, group};
    }
    if (mlx_expert_names.count(name)) continue;  // stands in below as the HF tensors it was stacked from
    infos.push_back({name, dtype, shape});
  }
  for (const std::string& name : mlx_expert_names)
    if (!ckpt.find(name)) fail("{}: missing expert tensor '{}'", dir.string(), name);
  infos.insert(infos.end(), hf_experts.begin(), hf_experts.end());
  const auto descs = arch::classify(hp, infos);
  std::map<std::string, std::string> mlx_name_of;  // HF source name -> name in the MLX file
  std::map<ExpertKey, std::string> mlx_expert_of;
  for (const auto& m : arch::mlx_tensors(hp, descs)) {
    if (role_is_routed_expert(m.role)) mlx_expert_of[{m.layer, m.role, m.is_bias}] = m.mlx_name;
    else if (m.sources.size() == 1) mlx_name_of[m.sources[0]] = m.mlx_name;
  }

  FolderBuilder b(data, hp, dir.string());
  std::vector<GgufTensor> tensors;
  for (const auto& r : arch::gguf_tensors(hp, descs)) {
    if (r.transform == arch::Transform::GenerateRopeFreqs) {
      tensors.push_back(b.rope_freqs(r));
      continue;
    }
    if (role_is_routed_expert(r.role)) {
      auto m = mlx_expert_of.find({r.layer, r.role, r.is_bias});
      if (m == mlx_expert_of.end()) fail("{}: no MLX tensor holds {}", dir.string(), r.gguf_name);
      if (auto it = quantized.find(m->second); it != quantized.end()) {
        const Quantized& qt = it->second;
        tensors.push_back(b.mlx_tensor(r, *qt.w, *qt.scales, *qt.biases, qt.bits, qt.group, true));
      } else {
        tensors.push_back(b.mlx_float_experts(r, ckpt.tensor(m->second)));
      }
      continue;
    }
    const std::string& hf = r.sources.at(0);
    const std::string name = mlx_name_of.count(hf) ? mlx_name_of[hf] : hf;
    if (auto it = quantized.find(name); it != quantized.end()) {
      const Quantized& qt = it->second;
      tensors.push_back(b.mlx_tensor(r, *qt.w, *qt.scales, *qt.biases, qt.bits, qt.group));
    } else {
      tensors.push_back(b.float_tensor(r, ckpt.tensor(name)));
    }
  }
  return std::make_unique<GgufView>(dir.string(), ckpt.total_bytes(), folder_metadata(hp, dir, ckpt.config()), std::move(tensors), data);
}

}  // namespace

FolderKind folder_kind(const std::string& dir_str) {
  const fs::path dir(dir_str);
  if (!fs::is_directory(dir)) return FolderKind::None;
  const auto config = read_config(dir);
  if (!config) return FolderKind::None;
  if (mlx_quantization(*config)) return FolderKind::Mlx;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") return FolderKind::Hf;
  return FolderKind::None;
}

std::unique_ptr<GgufView> load_model_folder(const std::string& dir) {
  switch (folder_kind(dir)) {
    case FolderKind::Hf: return load_hf(dir);
    case FolderKind::Mlx: return load_mlx(dir);
    case FolderKind::None: break;
  }
  fail("{}: not a model folder (expected config.json with *.safetensors, an MLX folder, or a manifest.json)", dir);
}

}  // namespace lp::engine
