// MLX artifacts as mlx-lm loads them (mlx_lm/utils.py load_model + nn.quantize with the config's
// "quantization" as class_predicate): for every quantized module M the file holds M.weight (U32, packed
// cols*bits/32 per row), M.scales and M.biases (bf16/f16, cols/group per row); config.json "quantization" has
// the global group_size/bits and per-module {"group_size","bits"} overrides keyed by module path (no ".weight"),
// or false for modules kept in float. MoE experts are stacked under mlp.switch_mlp. Values decode to the
// source weights within the error of affine quantization at that width.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "convert/convert.h"
#include "convert_test_util.h"
#include "plan/preset.h"
#include "quant/mlx_affine.h"
#include "peer_skip.h"

namespace lp::convert_test {
namespace {

using formats::SafetensorsFile;
using formats::StDtype;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Source values of an MLX float tensor name: the HF tensor of that name, or the experts stacked in order
// for .../mlp.switch_mlp.<proj>.weight (HF: .../mlp.experts.<e>.<proj>.weight).
std::vector<float> source_values(const std::vector<SafetensorsFile>& src, const std::string& name, int64_t experts) {
  for (const auto& f : src)
    if (const auto* t = f.find(name)) return to_f32(*t);
  const auto pos = name.find(".switch_mlp.");
  if (pos == std::string::npos) return {};
  std::vector<float> all;
  for (int64_t e = 0; e < experts; ++e) {
    const std::string hf = name.substr(0, pos) + ".experts." + std::to_string(e) + "." + name.substr(pos + 12);
    std::vector<float> v = source_values(src, hf, 0);
    if (v.empty()) return {};
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

std::vector<float> params_f32(const formats::StTensor& t) { return to_f32(t); }

double rel_rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    ref += double(b[i]) * b[i];
  }
  return std::sqrt(err / ref);
}

// Affine quantization of a Gaussian-ish group spans ~5-6 sigma in 2^bits-1 steps: RMSE ~ step/sqrt(12), i.e.
// about 1.5/(2^bits-1) of the weights' RMS (trained weights have heavier tails: margin to 2.2). Scales and biases
// are stored in bf16 (8-bit mantissa): the bias rounding alone adds ~0.5% of the RMS, which dominates at 8 bits.
double rmse_bound(int bits) { return 2.2 / ((1 << bits) - 1) + 0.01; }

struct Checked {
  int quantized = 0, float_kept = 0, overrides = 0;  // overrides: modules with their own config entry
  double worst_ratio = 0;  // max over modules of rel. RMSE / bound (printed: shows how much margin the bound has)
  std::set<std::string> names;
};

Checked check_mlx_dir(const fs::path& dir, const plan::MlxPrecision& prec, const fs::path& model, int64_t experts) {
  Checked c;
  const nlohmann::json cfg = read_json(dir / "config.json");
  EXPECT_TRUE(cfg.contains("quantization")) << dir;
  const nlohmann::json& q = cfg["quantization"];
  EXPECT_EQ(q.value("group_size", 0), prec.group_size);
  EXPECT_EQ(q.value("bits", 0), prec.bits);
  EXPECT_EQ(cfg.value("quantization_config", nlohmann::json()), q) << "transformers-style copy";
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) EXPECT_TRUE(fs::exists(dir / f)) << f;

  std::vector<SafetensorsFile> src;
  for (const auto& e : fs::directory_iterator(model))
    if (e.path().extension() == ".safetensors") src.push_back(SafetensorsFile::open(e.path().string()));
  const auto out = SafetensorsFile::open((dir / "model.safetensors").string());
  for (const auto& t : out.tensors()) c.names.insert(t.name);

  for (const auto& t : out.tensors()) {
    const std::string& name = t.name;
    if (name.size() > 7 && name.ends_with(".scales")) {
      const std::string m = name.substr(0, name.size() - 7);
      SCOPED_TRACE(dir.filename().string() + ": " + m);
      const auto* w = out.find(m + ".weight");
      const auto* b = out.find(m + ".biases");
      if (!w || !b) {
        ADD_FAILURE() << "scales without weight/biases";
        continue;
      }
      EXPECT_EQ(w->dtype, StDtype::U32);
      EXPECT_TRUE(t.dtype == StDtype::BF16 || t.dtype == StDtype::F16) << formats::st_dtype_name(t.dtype);
      EXPECT_EQ(b->dtype, t.dtype);
      EXPECT_EQ(b->shape, t.shape);
      int bits = prec.bits, group = prec.group_size;
      if (q.contains(m)) {
        EXPECT_TRUE(q[m].is_object()) << "quantized module marked " << q[m];
        if (!q[m].is_object()) continue;
        bits = q[m].at("bits").get<int>();
        group = q[m].at("group_size").get<int>();
        ++c.overrides;
      }
      const int64_t cols = t.shape.back() * group;
      if (w->shape.size() != t.shape.size()) {
        ADD_FAILURE() << "weight rank " << w->shape.size() << " vs scales rank " << t.shape.size();
        continue;
      }
      for (size_t d = 0; d + 1 < t.shape.size(); ++d) EXPECT_EQ(w->shape[d], t.shape[d]);
      EXPECT_EQ(w->shape.back(), cols * bits / 32);
      const std::vector<float> ref = source_values(src, m + ".weight", experts);
      if (static_cast<int64_t>(ref.size()) != static_cast<int64_t>(t.n_elements()) * group) {
        ADD_FAILURE() << "source of " << m << ": " << ref.size() << " values";
        continue;
      }
      const int64_t rows = static_cast<int64_t>(ref.size()) / cols;
      std::vector<float> deq(ref.size());
      quant::mlx_dequantize(reinterpret_cast<const uint32_t*>(w->data), params_f32(t).data(), params_f32(*b).data(), rows,
                            cols, bits, group, deq.data());
      const double e = rel_rmse(deq, ref);
      EXPECT_LT(e, rmse_bound(bits)) << bits << "-bit g" << group;
      c.worst_ratio = std::max(c.worst_ratio, e / rmse_bound(bits));
      ++c.quantized;
    } else if (name.ends_with(".weight") && !c.names.contains(name.substr(0, name.size() - 7) + ".scales")) {
      const std::string m = name.substr(0, name.size() - 7);
      SCOPED_TRACE(dir.filename().string() + ": " + m);
      EXPECT_TRUE(t.dtype == StDtype::BF16 || t.dtype == StDtype::F16 || t.dtype == StDtype::F32);
      // A float 2-D+ weight of a Linear/Embedding must be marked false, or mlx-lm would try to quantize it.
      if (t.shape.size() >= 2) {
        EXPECT_TRUE(q.contains(m) && q[m] == false) << "float matrix without a false entry";
        ++c.float_kept;
      }
      const std::vector<float> ref = source_values(src, name, experts);
      if (!ref.empty() && ref.size() == t.n_elements()) {
        EXPECT_LT(rel_rmse(to_f32(t), ref), 1e-2);
      }
    }
  }
  // Every per-module entry names a module that exists in the file.
  for (const auto& [key, value] : q.items()) {
    if (key == "group_size" || key == "bits" || key == "mode") continue;
    EXPECT_TRUE(c.names.contains(key + ".weight")) << "config entry for a missing module: " << key;
  }
  return c;
}

std::vector<fs::path> convert_mlx(const fs::path& model, const fs::path& out, const std::string& precisions) {
  convert::ConvertOptions o;
  o.model = model.string();
  o.output = out;
  o.gguf = false;
  o.mlx = true;
  o.precision = plan::parse_precision(precisions, false, true);
  o.progress = false;
  o.threads = 2;
  std::vector<fs::path> dirs;
  for (const auto& a : convert::convert(o).artifacts) dirs.push_back(out / a.path);
  return dirs;
}

TEST(MlxLayout, DenseQwen3AllWidthsGroupsMixedAndPure) {
  if (!have_fixture("tiny-qwen3")) LP_SKIP_OR_FAIL("fixture missing: " << fixture("tiny-qwen3"));
  ScratchDir dir;
  const std::string list = "4bit,4bit-pure,3bit-g32,6bit-g128-pure,8bit,2bit-g64-pure,5bit-g32";
  const auto req = plan::parse_precision(list, false, true);
  const auto dirs = convert_mlx(fixture("tiny-qwen3"), dir / "out", list);
  ASSERT_EQ(dirs.size(), req.mlx.size());
  for (size_t i = 0; i < dirs.size(); ++i) {
    const auto& p = req.mlx[i];
    const Checked c = check_mlx_dir(dirs[i], p, fixture("tiny-qwen3"), 0);
    std::printf("%s: %d quantized modules, worst rel. RMSE = %.2f x bound\n", p.name().c_str(), c.quantized, c.worst_ratio);
    // 4 layers x 7 projections + embeddings (tied: no lm_head, as mlx-lm's qwen3 expects)
    EXPECT_EQ(c.quantized + c.float_kept, 29) << p.name();
    EXPECT_FALSE(c.names.contains("lm_head.weight"));
    EXPECT_TRUE(c.names.contains("model.layers.0.self_attn.q_norm.weight"));
    // Mixed: embeddings at 6 bits (an override when the body is narrower); pure: embeddings at the body width.
    const auto q = read_json(dirs[i] / "config.json")["quantization"];
    if (p.mixed && p.bits < 6) {
      EXPECT_EQ(q.value("model.embed_tokens", nlohmann::json())["bits"], 6) << p.name();
    }
    if (!p.mixed) {
      EXPECT_FALSE(q.contains("model.embed_tokens")) << p.name();
    }
  }
}

TEST(MlxLayout, Qwen3MoeExpertsStackedUnderSwitchMlp) {
  if (!have_fixture("tiny-qwen3moe")) LP_SKIP_OR_FAIL("fixture missing: " << fixture("tiny-qwen3moe"));
  ScratchDir dir;
  const auto dirs = convert_mlx(fixture("tiny-qwen3moe"), dir / "out", "4bit");
  ASSERT_EQ(dirs.size(), 1u);
  const auto cfg = read_json(fixture("tiny-qwen3moe") / "config.json");
  const int64_t experts = cfg.at("num_experts").get<int64_t>();
  const Checked c = check_mlx_dir(dirs[0], plan::parse_precision("4bit", false, true).mlx[0], fixture("tiny-qwen3moe"), experts);
  for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
    const std::string m = std::string("model.layers.0.mlp.switch_mlp.") + proj;
    EXPECT_TRUE(c.names.contains(m + ".weight")) << m;
    EXPECT_TRUE(c.names.contains(m + ".scales")) << m;
  }
  EXPECT_TRUE(c.names.contains("model.layers.0.mlp.gate.weight")) << "router";
  for (const auto& n : c.names) EXPECT_EQ(n.find(".experts."), std::string::npos) << n;
  const auto out = SafetensorsFile::open((dirs[0] / "model.safetensors").string());
  const auto* up = out.find("model.layers.0.mlp.switch_mlp.up_proj.weight");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->shape.size(), 3u);
  EXPECT_EQ(up->shape[0], experts);
}

}  // namespace
}  // namespace lp::convert_test
