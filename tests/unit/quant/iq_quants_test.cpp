// The i-quants' data and invariants (the bytes themselves are proven against ggml by
// tests/oracles/quant_ggml.test.mjs): grid sizes and value sets, the search lattices derived from them, the
// importance requirement, and round-trip error far below the value range for every i-quant.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "quant/iq_grids.h"
#include "quant/quantize.h"

namespace lp::quant {
namespace {

template <typename T>
std::set<int> lane_values(const T* grid, int n, int lanes, bool is_signed) {
  std::set<int> v;
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < lanes; ++i) {
      const auto b = static_cast<uint8_t>(grid[k] >> (8 * i));
      v.insert(is_signed ? static_cast<int8_t>(b) : b);
    }
  return v;
}

template <typename T>
size_t distinct(const T* grid, int n) {
  return std::set<T>(grid, grid + n).size();
}

TEST(IqGrids, SizesValueSetsAndUniqueEntries) {
  EXPECT_EQ(lane_values(kIq2xxsGrid, 256, 8, false), (std::set<int>{8, 25, 43}));
  EXPECT_EQ(lane_values(kIq2xsGrid, 512, 8, false), (std::set<int>{8, 25, 43}));
  EXPECT_EQ(lane_values(kIq2sGrid, 1024, 8, false), (std::set<int>{8, 25, 43}));
  EXPECT_EQ(lane_values(kIq3xxsGrid, 256, 4, false), (std::set<int>{4, 12, 20, 28, 36, 44, 52, 62}));
  EXPECT_EQ(lane_values(kIq3sGrid, 512, 4, false), (std::set<int>{1, 3, 5, 7, 9, 11, 13, 15}));
  EXPECT_EQ(lane_values(kIq1sGrid, 2048, 8, true), (std::set<int>{-1, 0, 1}));
  EXPECT_EQ(distinct(kIq2xxsGrid, 256), 256u);
  EXPECT_EQ(distinct(kIq2xsGrid, 512), 512u);
  EXPECT_EQ(distinct(kIq2sGrid, 1024), 1024u);
  EXPECT_EQ(distinct(kIq3xxsGrid, 256), 256u);
  EXPECT_EQ(distinct(kIq3sGrid, 512), 512u);
  EXPECT_EQ(distinct(kIq1sGrid, 2048), 2048u);
  // The sign rule: 7 stored bits, the 8th makes the count of negatives even.
  for (uint32_t s = 0; s < 128; ++s) EXPECT_EQ(__builtin_popcount(iq2_signs(s)) % 2, 0) << s;
}

TEST(IqGrids, LatticesMapGridPointsToThemselvesAndEveryOtherPointToNeighbours) {
  for (GgmlType t : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ1_S, GgmlType::IQ3_XXS,
                     GgmlType::IQ3_S}) {
    const IqLattice& lat = iq_lattice(t);
    const int n = static_cast<int>(lat.pos.size()) / lat.lanes;
    int on = 0;
    for (size_t key = 0; key < lat.map.size(); ++key) {
      if (lat.map[key] >= 0) {
        ++on;
        const int8_t* p = lat.point(lat.map[key]);
        uint32_t back = 0;
        for (int i = 0; i < lat.lanes; ++i) back |= static_cast<uint32_t>((p[i] - 1) / 2) << (lat.bits * i);
        EXPECT_EQ(back, key) << ggml_type_name(t);
      } else {
        const uint16_t* nb = lat.neighbours_of(static_cast<uint32_t>(key));
        ASSERT_GT(nb[0], 0) << ggml_type_name(t) << " key " << key;
        for (int j = 1; j <= nb[0]; ++j) ASSERT_LT(nb[j], n);
      }
    }
    EXPECT_EQ(on, n) << ggml_type_name(t);
  }
}

TEST(IqQuants, ImportanceRequiredWhereGgmlRequiresIt) {
  std::vector<float> x(256, 0.5f), imp(256, 1.0f);
  std::vector<uint8_t> out(256);
  for (GgmlType t : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ1_S}) {
    EXPECT_TRUE(requires_importance(t));
    try {
      quantize(t, x.data(), out.data(), 1, 256);
      ADD_FAILURE() << ggml_type_name(t) << " quantized without importance";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--imatrix"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("--calibration"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(quantize(t, x.data(), out.data(), 1, 256, imp.data()));
  }
  for (GgmlType t : {GgmlType::IQ2_S, GgmlType::IQ3_XXS, GgmlType::IQ3_S, GgmlType::IQ1_M})
    EXPECT_FALSE(requires_importance(t)) << ggml_type_name(t);
}

// Gaussian rows: relative RMS error of quantize -> dequantize within what each bit width allows (measured
// 2026-12-07: IQ1_S 0.49, IQ1_M 0.46, IQ2_XXS 0.35, IQ2_XS 0.30, IQ2_S 0.25, IQ3_XXS 0.19, IQ3_S 0.14).
TEST(IqQuants, RoundTripErrorFitsTheBitWidth) {
  const struct {
    GgmlType type;
    double max_rel_rmse;
  } cases[] = {{GgmlType::IQ1_S, 0.7},  {GgmlType::IQ1_M, 0.6},  {GgmlType::IQ2_XXS, 0.42}, {GgmlType::IQ2_XS, 0.36},
               {GgmlType::IQ2_S, 0.32}, {GgmlType::IQ3_XXS, 0.22}, {GgmlType::IQ3_S, 0.19}};
  const int64_t rows = 8, cols = 512;
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.f, 0.02f);
  std::vector<float> x(rows * cols), y(rows * cols), imp(cols, 1.0f);
  for (auto& v : x) v = g(rng);
  for (const auto& c : cases) {
    std::vector<uint8_t> q(ggml_row_bytes(c.type, cols) * rows);
    quantize(c.type, x.data(), q.data(), rows, cols, imp.data());
    dequantize(c.type, q.data(), y.data(), rows, cols);
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (x[i] - y[i]) * (x[i] - y[i]);
      ref += x[i] * x[i];
    }
    const double rel = std::sqrt(err / ref);
    std::printf("%s relative RMSE %.3f\n", ggml_type_name(c.type), rel);
    EXPECT_LT(rel, c.max_rel_rmse) << ggml_type_name(c.type);
    EXPECT_GT(rel, 0.01) << ggml_type_name(c.type);  // not a float copy
  }
}

}  // namespace
}  // namespace lp::quant
