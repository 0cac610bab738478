// What the allocator feeds into plans: per-tensor assigned types (below user overrides), "auto" precision,
// the shared flag/recipe merge `plan` and `convert` both use, and the architecture priors table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "arch/arch.h"
#include "core/error.h"
#include "plan/gguf_plan.h"
#include "plan/preset.h"
#include "plan/priors.h"
#include "plan/recipe.h"
#include "scratch_path.h"

using lp::GgmlType;
using namespace lp::plan;

namespace {

struct PublicModel {
  lp::arch::HParams hp;
  std::vector<lp::arch::GgufTensorRecipe> gguf;
};

PublicModel load_public_model(const std::string& name) {
  std::ifstream in(std::filesystem::path(LP_SOURCE_DIR) / "tests/data/configs" / name / "config.json");
  PublicModel m;
  m.hp = lp::arch::parse_hparams(nlohmann::json::parse(in), "config.json");
  m.gguf = lp::arch::gguf_tensors(m.hp, lp::arch::classify(m.hp, lp::arch::expected_tensors(m.hp)));
  return m;
}

const PlannedTensor& find(const GgufPlan& p, const std::string& name) {
  for (const auto& t : p.tensors)
    if (t.recipe.gguf_name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

std::string first_config() { return "Qwen3-8B"; }

}  // namespace

TEST(AssignedTypes, ApplyBelowUserOverrides) {
  const PublicModel m = load_public_model(first_config());
  GgufPlanOptions o;
  o.preset = Preset::Q4_K_M;
  o.assigned["blk.0.attn_q.weight"] = {GgmlType::Q2_K, "allocate:measured", "test", 1e-5};
  o.assigned["blk.1.attn_q.weight"] = {GgmlType::Q2_K, "allocate:measured", "test", 2e-5};
  o.overrides = {{"blk\\.1\\.attn_q", GgmlType::Q8_0}};
  o.label = "AUTO-4.50BPW";
  const GgufPlan p = plan_gguf(m.hp, m.gguf, o);
  EXPECT_EQ(p.precision_name(), "AUTO-4.50BPW");
  const auto& a = find(p, "blk.0.attn_q.weight");
  EXPECT_EQ(a.type, GgmlType::Q2_K);
  EXPECT_EQ(a.rule, "allocate:measured");
  ASSERT_TRUE(a.sensitivity.has_value());
  const auto& u = find(p, "blk.1.attn_q.weight");
  EXPECT_EQ(u.type, GgmlType::Q8_0);  // the user wins over the allocator
  EXPECT_EQ(u.rule, "user");
  EXPECT_FALSE(u.sensitivity.has_value());
  EXPECT_NE(to_table(p, false).find("sensitivity"), std::string::npos);
  int with_sensitivity = 0;
  const nlohmann::json j = to_json(p);
  for (const auto& t : j["tensors"])
    if (t.contains("sensitivity")) {
      EXPECT_EQ(t["name"], "blk.0.attn_q.weight");
      ++with_sensitivity;
    }
  EXPECT_EQ(with_sensitivity, 1);
}

TEST(AutoPrecision, ParsesAloneOnly) {
  const auto r = parse_precision("auto", true, false);
  EXPECT_TRUE(r.gguf_auto);
  ASSERT_EQ(r.gguf.size(), 1u);
  EXPECT_EQ(r.gguf[0], Preset::Q4_K_M);
  EXPECT_TRUE(parse_precision("auto:4bit", true, true).gguf_auto);
  EXPECT_FALSE(parse_precision("q4_k_m", true, false).gguf_auto);
  EXPECT_THROW(parse_precision("auto,q8_0", true, false), lp::Error);
}

TEST(PrecisionFlags, CliBeforeRecipeAndDefaults) {
  const auto dir = lp::test::scratch_path("lp-precision-flags-test");
  std::filesystem::create_directories(dir);
  const auto recipe = (dir / "r.yaml").string();
  std::ofstream(recipe) << "architecture_aware: false\ngguf:\n  precision: q3_k_m\n  tensor_types: {\"attn_v\": q8_0}\n"
                           "  output_type: q6_k\nmlx:\n  precision: 8bit\n";
  PrecisionFlags f;
  f.recipe = recipe;
  f.tensor_types = {"ffn_down=q5_k"};
  PrecisionChoice c = resolve_precision_flags(f, true, false);
  EXPECT_EQ(c.precision, "q3_k_m");
  EXPECT_FALSE(c.architecture_aware);
  ASSERT_EQ(c.tensor_types.size(), 2u);
  EXPECT_EQ(c.tensor_types[0].pattern, "ffn_down");  // CLI pattern tried first
  EXPECT_EQ(c.output_type, GgmlType::Q6_K);
  EXPECT_EQ(resolve_precision_flags(f, true, true).precision, "q3_k_m:8bit");
  f.precision = "q5_k_m";
  f.output_type = "q8_0";
  c = resolve_precision_flags(f, true, false);
  EXPECT_EQ(c.precision, "q5_k_m");
  EXPECT_EQ(c.output_type, GgmlType::Q8_0);
  const GgufPlanOptions o = gguf_plan_options(c, Preset::Q5_K_M);
  EXPECT_EQ(o.overrides.size(), 2u);
  EXPECT_FALSE(o.architecture_aware);
  f.mlx_bits = {"bad"};
  EXPECT_THROW(resolve_precision_flags(f, false, true), lp::Error);
  std::filesystem::remove_all(dir);
}

TEST(Priors, ExplainEveryFactorAndDependOnEvidence) {
  const PublicModel m = load_public_model(first_config());
  const auto& v = [&]() -> const lp::arch::GgufTensorRecipe& {
    for (const auto& t : m.gguf)
      if (t.role == lp::arch::Role::AttnV && t.layer == 0) return t;
    throw std::runtime_error("no attn_v");
  }();
  const SensitivityPrior proxy = sensitivity_prior(m.hp, v, /*measured=*/false);
  const SensitivityPrior measured = sensitivity_prior(m.hp, v, /*measured=*/true);
  EXPECT_GT(proxy.factor, 1.0);  // attn_v, first layer (and GQA fan-out when grouped)
  EXPECT_LE(measured.factor, proxy.factor);
  for (const auto& f : proxy.applied) {
    EXPECT_FALSE(f.why.empty()) << f.id;
    EXPECT_NE(proxy.summary().find(f.id), std::string::npos);
  }
}
