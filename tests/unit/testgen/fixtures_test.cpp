// Cross-check against the trained fixtures (real HF-layout checkpoints): with the fixtures' sizes, a generated
// checkpoint has exactly their tensor names, shapes and dtypes, and the same config.json keys.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "formats/checkpoint.h"
#include "testgen/generate.h"
#include "peer_skip.h"

namespace lp::testgen {
namespace {

using formats::Checkpoint;
using nlohmann::json;

struct FixtureCase {
  std::string fixture, family;
  ShapeOverrides sizes;  // the fixture's sizes where they differ from our tiny preset
};

void PrintTo(const FixtureCase& c, std::ostream* os) { *os << c.fixture; }

std::vector<FixtureCase> cases() {
  ShapeOverrides moe;
  moe.layers = 4;
  moe.experts = 8;
  return {{"tiny-qwen3", "qwen3", {}},
          {"tiny-qwen3moe", "qwen3moe", moe},
          {"tiny-gptoss", "gpt-oss", moe},
          {"tiny-gemma3", "gemma3", {}}};
}

std::filesystem::path fixture_dir(const std::string& name) { return std::filesystem::path(LP_SHARED_FIXTURES) / name; }

class FixtureTest : public ::testing::TestWithParam<FixtureCase> {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(fixture_dir(GetParam().fixture) / "config.json"))
      LP_SKIP_OR_FAIL("fixture " << GetParam().fixture << " not found under " << LP_SHARED_FIXTURES);
  }
  GenerateOptions options() const {
    GenerateOptions o;
    o.family = GetParam().family;
    o.overrides = GetParam().sizes;
    o.rope_scaling = false;  // the fixtures were trained without long-context rope scaling
    return o;
  }
};

std::set<std::string> keys_of(const json& j) {
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  return keys;
}

TEST_P(FixtureTest, ConfigHasTheSameKeys) {
  const Checkpoint fixture = Checkpoint::open(fixture_dir(GetParam().fixture).string());
  const json ours = make_config(options());
  EXPECT_EQ(keys_of(ours), keys_of(fixture.config()));
  EXPECT_EQ(keys_of(ours.value("quantization_config", json::object())),
            keys_of(fixture.config().value("quantization_config", json::object())));
}

// Values that legitimately differ: token ids (our vocab layout is the family's, the fixtures all use ChatML ids),
// the release's context length, and training-only coefficients.
const std::set<std::string> kMayDiffer = {"bos_token_id", "eos_token_id", "pad_token_id", "transformers_version",
                                          "max_position_embeddings", "router_aux_loss_coef"};

TEST_P(FixtureTest, ConfigValuesMatchExceptTokenIdsAndContextLength) {
  const Checkpoint fixture = Checkpoint::open(fixture_dir(GetParam().fixture).string());
  const json ours = make_config(options());
  for (const auto& [key, value] : fixture.config().items()) {
    if (kMayDiffer.count(key) || !ours.contains(key)) continue;
    if (value.is_number() && ours[key].is_number()) {
      EXPECT_DOUBLE_EQ(ours[key].get<double>(), value.get<double>()) << key;
    } else {
      EXPECT_EQ(ours[key], value) << key;
    }
  }
}

TEST_P(FixtureTest, TensorsHaveTheFixturesNamesShapesAndDtypes) {
  const Checkpoint fixture = Checkpoint::open(fixture_dir(GetParam().fixture).string());
  const auto plan = plan_tensors(options());
  std::set<std::string> ours;
  for (const auto& t : plan) {
    ours.insert(t.name);
    const auto* real = fixture.find(t.name);
    if (!real) continue;
    EXPECT_EQ(t.shape, real->shape) << t.name;
    EXPECT_STREQ(dtype_name(t.dtype), formats::st_dtype_name(real->dtype)) << t.name;
  }
  const auto names = fixture.tensor_names();
  EXPECT_EQ(ours, std::set<std::string>(names.begin(), names.end()));
}

TEST_P(FixtureTest, TokenizerConfigHasTheFixturesKeys) {
  const Checkpoint fixture = Checkpoint::open(fixture_dir(GetParam().fixture).string());
  const json ours = make_tokenizer_config(options());
  for (const auto& key : keys_of(*fixture.tokenizer_config())) EXPECT_TRUE(ours.contains(key)) << key;
  const json tok = make_tokenizer_json(options());
  EXPECT_EQ(keys_of(tok), keys_of(*fixture.tokenizer_json()));
  EXPECT_EQ(keys_of(tok["model"]), keys_of(fixture.tokenizer_json()->at("model")));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string n = info.param.fixture;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
});

}  // namespace
}  // namespace lp::testgen
