// Scale-search helpers shared by the block quantizers. These follow ggml's reference algorithms
// (ggml-quants.c: make_qx_quants, make_q3_quants, make_qkx2_quants, make_qkx3_quants,
// make_qp_quants, the iq4 best-scale search) step for step, including the floating-point evaluation
// order, because GGUF files we write should be byte-identical to llama-quantize's output.
// Internal to lp_quant.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace lp::quant::detail {

inline constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, via the 1.5*2^23 trick (ggml's nearest_int); |x| < 2^22.
inline int nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int32_t i;
  std::memcpy(&i, &val, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// Index of the codebook entry nearest to x (codebook sorted ascending); ties go to the upper entry.
// Same result as ggml's binary search (mu = first entry > x), computed branch-free by counting.
inline int best_index_int8(int n, const int8_t* val, float x) {
  if (x <= val[0]) return 0;
  if (x >= val[n - 1]) return n - 1;
  int mu = 0;
  for (int i = 0; i < n; ++i) mu += static_cast<float>(val[i]) <= x;
  if (mu == 0) return n - 1;  // NaN: where ggml's search ends up
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// Symmetric quantizer: L[i] in [0, 2*nmax), x ~ scale*(L[i]-nmax). rmse_type selects the weighting
// when qw is null (1: x^2, 2: 1, 3: |x|, 4: sqrt|x|); negative rmse_type returns early.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);

// Q3_K's symmetric quantizer with an iterative per-element refinement (weights x^2).
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// Asymmetric quantizer: x ~ scale*L - the_min, L in [0, nmax]. Searches nstep+1 scales.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// As make_qkx2_quants but weights may be null (then x^2) and the degenerate test is max <= min.
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// Positive-only quantizer for the super-block scales (Q2_K/Q4_K/Q5_K with importance).
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// 6-bit scale/min pair j of Q4_K/Q5_K's packed 12-byte scales.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// Packs 6-bit scale ls and min lm for sub-block j into Q4_K/Q5_K's 12-byte layout (scales zeroed or
// written in ascending j order beforehand).
inline void set_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* q) {
  if (j < 4) {
    q[j] = ls;
    q[j + 4] = lm;
  } else {
    q[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
    q[j - 4] |= ((ls >> 4) << 6);
    q[j - 0] |= ((lm >> 4) << 6);
  }
}

}  // namespace lp::quant::detail
