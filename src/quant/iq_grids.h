// ggml's i-quant codebooks (grids) and sign tables, and the lattice search structures its quantizers build
// from them. The grids are data read out of ggml once by scripts/gen_iq_grids.py (see quant/iq_grids.inc);
// the sign tables are computed (they are a parity rule); the lattices (map + neighbour lists) are derived
// from the grids at first use with ggml's rules (iq2xs_init_impl / iq3xs_init_impl), so quantization
// searches exactly the candidates ggml searches, in the same order.
#pragma once
#include <cstdint>
#include <vector>

#include "core/ggml_type.h"

namespace lp::quant {

// Entry k: 8 byte lanes (IQ2_*, IQ1_*) or 4 (IQ3_*), lane i = bits 8i..8i+7.
extern const uint64_t kIq2xxsGrid[256];
extern const uint64_t kIq2xsGrid[512];
extern const uint64_t kIq2sGrid[1024];
extern const uint32_t kIq3xxsGrid[256];
extern const uint32_t kIq3sGrid[512];
extern const uint64_t kIq1sGrid[2048];  // lanes are int8 -1 / 0 / +1

// ksigns_iq2xs: 7 stored sign bits -> 8 signs (bit 7 = parity, so every group has an even number of negatives).
inline constexpr uint8_t iq2_signs(uint32_t seven) {
  return static_cast<uint8_t>(seven | ((__builtin_popcount(seven) & 1) << 7));
}
inline constexpr float kIq1Delta = 0.125f;  // IQ1S_DELTA / IQ1M_DELTA

// A quantizer lattice: grid points as odd integers 2l+1 (l = level of each lane), a map from the packed
// levels of any point (bits_per_lane per lane) to its grid index, and for off-grid points the neighbour list
// (grid indices of the points at the `nwant` smallest distinct squared distances, ordered by distance then
// index, as ggml's qsort leaves them).
struct IqLattice {
  int lanes = 0;          // 8 or 4
  int bits = 0;           // 2 or 3 bits per lane in the map key
  std::vector<int8_t> pos;  // grid_size * lanes values 2l+1
  std::vector<int32_t> map;   // key -> grid index, or -(offset+1) into neighbours
  std::vector<uint16_t> neighbours;  // at offset: count, then that many grid indices
  const int8_t* point(int index) const { return pos.data() + static_cast<size_t>(index) * lanes; }
  // Neighbour list of an off-grid key (first entry is the count).
  const uint16_t* neighbours_of(uint32_t key) const { return neighbours.data() + (-map[key] - 1); }
};

// IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S / IQ1_M (shared), IQ3_XXS, IQ3_S. Built once, thread-safe.
const IqLattice& iq_lattice(GgmlType type);

}  // namespace lp::quant
