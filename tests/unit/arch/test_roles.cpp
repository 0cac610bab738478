// Role/enum names are stable identifiers used in plans and manifests: unique, non-empty, round-tripping.
#include <gtest/gtest.h>

#include <set>

#include "arch/arch.h"

namespace {

using namespace lp::arch;

TEST(Roles, NamesAreUniqueAndRoundTrip) {
  std::set<std::string_view> seen;
  for (int i = 0; i < static_cast<int>(Role::Count); ++i) {
    Role r = static_cast<Role>(i);
    std::string_view n = role_name(r);
    EXPECT_FALSE(n.empty()) << i;
    EXPECT_NE(n, "unknown") << i;
    EXPECT_TRUE(seen.insert(n).second) << "duplicate role name " << n;
    EXPECT_EQ(role_from_name(n), r) << n;
  }
  EXPECT_FALSE(role_from_name("attention").has_value());
}

TEST(Roles, Categories) {
  EXPECT_TRUE(role_is_norm(Role::AttnQNorm));
  EXPECT_TRUE(role_is_norm(Role::FfnPostNorm));
  EXPECT_FALSE(role_is_norm(Role::AttnSinks));
  EXPECT_TRUE(role_is_attention(Role::AttnSinks));
  EXPECT_FALSE(role_is_attention(Role::FfnNorm));
  EXPECT_TRUE(role_is_routed_expert(Role::ExpertGateUp));
  EXPECT_FALSE(role_is_routed_expert(Role::Router));
  EXPECT_TRUE(role_is_shared_expert(Role::SharedExpertRouter));
  EXPECT_TRUE(role_is_ffn(Role::Router));
  EXPECT_TRUE(role_is_matrix(Role::TokenEmbd));
  EXPECT_FALSE(role_is_matrix(Role::OutputNorm));
  EXPECT_FALSE(role_is_matrix(Role::RopeFreqs));
}

TEST(Roles, FamilyNamesAndSupportedList) {
  EXPECT_EQ(all_families().size(), 11u);
  std::set<std::string_view> names;
  for (Family f : all_families()) names.insert(family_name(f));
  EXPECT_EQ(names.size(), 11u);
  EXPECT_NE(supported_families_text().find("qwen35moe (qwen3_5_moe_text|qwen3_5_moe / Qwen3_5MoeForCausalLM|Qwen3_5MoeForConditionalGeneration)"), std::string::npos);
  std::string text = supported_families_text();
  EXPECT_NE(text.find("gpt-oss (gpt_oss / GptOssForCausalLM)"), std::string::npos) << text;
  EXPECT_EQ(transform_name(Transform::SplitGateUpOddMxfp4), "split_gate_up_odd_mxfp4");
  EXPECT_EQ(part_name(Part::MxScales), "scales");
  EXPECT_EQ(native_quant_name(NativeQuant::Fp8), "fp8");
}

}  // namespace
