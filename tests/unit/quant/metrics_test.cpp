#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "quant/metrics.h"

namespace lp::quant {
namespace {

TEST(Metrics, RmseAndRelative) {
  const std::vector<float> a = {1, 2, 3, 4}, b = {1, 2, 3, 6};
  EXPECT_DOUBLE_EQ(rmse(a.data(), b.data(), 4), 1.0);  // sqrt(4/4)
  EXPECT_DOUBLE_EQ(relative_rmse(a.data(), b.data(), 4), 1.0 / std::sqrt(30.0 / 4));
  EXPECT_EQ(rmse(a.data(), a.data(), 4), 0.0);
  const std::vector<float> z(4, 0.0f);
  EXPECT_EQ(relative_rmse(z.data(), z.data(), 4), 0.0);
}

TEST(Metrics, WeightedMse) {
  // 2x2, error only in column 1; importance {1, 3}: sum w d^2 = 3*(1+4) = 15, over nrows*sum(w) = 2*4.
  const std::vector<float> a = {0, 0, 0, 0}, b = {0, 1, 0, 2};
  const std::vector<float> imp = {1, 3};
  EXPECT_DOUBLE_EQ(weighted_mse(a.data(), b.data(), 2, 2, imp.data()), 15.0 / 8.0);
  EXPECT_DOUBLE_EQ(weighted_mse(a.data(), b.data(), 2, 2, nullptr), 5.0 / 4.0);  // plain MSE
  const std::vector<float> flat = {2, 2};
  EXPECT_DOUBLE_EQ(weighted_mse(a.data(), b.data(), 2, 2, flat.data()), 5.0 / 4.0);
}

}  // namespace
}  // namespace lp::quant
