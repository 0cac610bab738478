#include "quant/iq_grids.h"

#include <algorithm>
#include <array>
#include <mutex>

#include "core/error.h"

namespace lp::quant {

#include "quant/iq_grids.inc"

namespace {

// Byte lane i of a grid entry.
template <typename T>
int lane(T entry, int i, bool is_signed) {
  const auto b = static_cast<uint8_t>(entry >> (8 * i));
  return is_signed ? static_cast<int8_t>(b) : b;
}

// levels: the distinct lane values in ascending order; a lane's level is its rank (ggml's compact grids
// store exactly that rank, 2 or 3 bits per lane).
template <typename T>
IqLattice build(const T* grid, int grid_size, int lanes, int bits, int nwant, bool is_signed) {
  IqLattice lat;
  lat.lanes = lanes;
  lat.bits = bits;
  std::vector<int> values;
  for (int k = 0; k < grid_size; ++k)
    for (int i = 0; i < lanes; ++i) values.push_back(lane(grid[k], i, is_signed));
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  LP_CHECK(static_cast<int>(values.size()) <= (1 << bits), "i-quant grid has {} lane values", values.size());

  lat.pos.resize(static_cast<size_t>(grid_size) * lanes);
  const int kmap_size = lanes == 8 ? 43692 : 4096;  // ggml's sizes: largest key of levels <= 2 (8 lanes), 3 bits x 4
  lat.map.assign(kmap_size, -1);
  for (int k = 0; k < grid_size; ++k) {
    uint32_t key = 0;
    for (int i = 0; i < lanes; ++i) {
      const int l = static_cast<int>(std::lower_bound(values.begin(), values.end(), lane(grid[k], i, is_signed)) - values.begin());
      lat.pos[static_cast<size_t>(k) * lanes + i] = static_cast<int8_t>(2 * l + 1);
      key |= static_cast<uint32_t>(l) << (bits * i);
    }
    LP_CHECK(key < static_cast<uint32_t>(kmap_size), "i-quant grid key {} out of range", key);
    lat.map[key] = k;
  }
  // Neighbours of every off-grid key: ggml sorts (d2, index) pairs and keeps the points of the nwant smallest
  // distinct distances. Integer distances are small, so a counting pass gives the same order.
  const int max_d2 = lanes * 14 * 14 + 1;
  std::vector<int> d2(grid_size), count(max_d2);
  for (int key = 0; key < kmap_size; ++key) {
    if (lat.map[key] >= 0) continue;
    std::array<int, 8> p{};
    for (int i = 0; i < lanes; ++i) p[i] = 2 * static_cast<int>((key >> (bits * i)) & ((1u << bits) - 1)) + 1;
    std::fill(count.begin(), count.end(), 0);
    for (int j = 0; j < grid_size; ++j) {
      const int8_t* pg = lat.point(j);
      int d = 0;
      for (int i = 0; i < lanes; ++i) d += (pg[i] - p[i]) * (pg[i] - p[i]);
      d2[j] = d;
      ++count[d];
    }
    int have = 0, limit = -1;
    for (int d = 0; d < max_d2 && have < nwant; ++d)
      if (count[d]) {
        ++have;
        limit = d;
      }
    const size_t start = lat.neighbours.size();
    lat.map[key] = -static_cast<int32_t>(start + 1);
    lat.neighbours.push_back(0);
    const size_t first = lat.neighbours.size();
    for (int j = 0; j < grid_size; ++j)
      if (d2[j] <= limit) lat.neighbours.push_back(static_cast<uint16_t>(j));
    std::stable_sort(lat.neighbours.begin() + static_cast<std::ptrdiff_t>(first), lat.neighbours.end(),
                     [&](uint16_t a, uint16_t b) { return d2[a] < d2[b]; });
    lat.neighbours[start] = static_cast<uint16_t>(lat.neighbours.size() - start - 1);
  }
  return lat;
}

}  // namespace

const IqLattice& iq_lattice(GgmlType type) {
  static std::once_flag once[6];
  static IqLattice lat[6];
  switch (type) {
    case GgmlType::IQ2_XXS:
      std::call_once(once[0], [] { lat[0] = build(kIq2xxsGrid, 256, 8, 2, 2, false); });
      return lat[0];
    case GgmlType::IQ2_XS:
      std::call_once(once[1], [] { lat[1] = build(kIq2xsGrid, 512, 8, 2, 2, false); });
      return lat[1];
    case GgmlType::IQ2_S:
      std::call_once(once[2], [] { lat[2] = build(kIq2sGrid, 1024, 8, 2, 1, false); });
      return lat[2];
    case GgmlType::IQ1_S:
    case GgmlType::IQ1_M:
      std::call_once(once[3], [] { lat[3] = build(kIq1sGrid, 2048, 8, 2, 3, true); });
      return lat[3];
    case GgmlType::IQ3_XXS:
      std::call_once(once[4], [] { lat[4] = build(kIq3xxsGrid, 256, 4, 3, 2, false); });
      return lat[4];
    case GgmlType::IQ3_S:
      std::call_once(once[5], [] { lat[5] = build(kIq3sGrid, 512, 4, 3, 3, false); });
      return lat[5];
    default: fail("iq_lattice: {} is not an i-quant grid type", ggml_type_name(type));
  }
}

}  // namespace lp::quant
