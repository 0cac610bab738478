// MLX affine matmul: y = Σ_g scale_g·Σ_{e in g} q_e·x_e + Σ_g bias_g·Σ_{e in g} x_e.
//
// As the GGUF types do, x is quantized once per call: int8 per 32 elements with a float scale
// d = amax/127 (round half to even). The code sums Σ q·xq are exact integers, scaled by scale_g·d per
// 32-block; the bias term multiplies the exact float sums of x. The only difference to the float
// reference is the activation rounding: |Δy| <= Σ_e |scale_g·q_e|·d_b/2 (docs/KERNELS.md, "MLX").
//
// The SIMD kernels (dot_mlx-inl.h): lane tiles of 16 (AVX-512 VNNI) or 8 (AVX2/AVX3, <= 6 bits)
// tokens held in vector lanes for prefill, then per-token tiles of up to 8 tokens for the rest, and a
// two-blocks-per-vector decode kernel on AVX-512 VNNI; rows go to threads in blocks of 16, as matmul()
// does for GGUF types. Targets without them (SCALAR, EMU128, non-x86) run the portable integer path.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/matmul.h"

namespace lp::kernels {
namespace {

constexpr int64_t kMlxRowBlock = 16;

struct MlxActivations {
  std::vector<int8_t> q;             // n_tokens × cols, `layout` order inside each 32-block
  std::vector<float> d;              // n_tokens × cols/32
  std::vector<float> sum, hat_sum;   // n_tokens × groups: Σ x and Σ d·q per group
};

void quantize_activations_mlx(const float* x, int64_t n_tokens, int64_t cols, int group_size, MlxXLayout layout,
                              MlxActivations& a, int threads) {
  const int64_t nb = cols / 32, groups = cols / group_size;
  a.q.resize(static_cast<size_t>(n_tokens * cols));
  a.d.resize(static_cast<size_t>(n_tokens * nb));
  a.sum.resize(static_cast<size_t>(n_tokens * groups));
  a.hat_sum.resize(static_cast<size_t>(n_tokens * groups));
  int perm[32];
  for (int k = 0; k < 32; ++k) perm[k] = mlx_layout_element(layout, k);
#pragma omp parallel for num_threads(threads) schedule(static) if (n_tokens >= 4 && threads > 1)
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * cols;
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = xt + 32 * b;
      float amax = 0;
      for (int k = 0; k < 32; ++k) amax = std::max(amax, std::fabs(xb[k]));
      const float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
      int8_t* qb = a.q.data() + t * cols + 32 * b;
      int isum = 0;
      for (int k = 0; k < 32; ++k) {
        // round half to even without a libm call: adding 1.5·2^23 leaves the rounded integer in the mantissa
        const int v = static_cast<int>((xb[perm[k]] * id + 12582912.0f) - 12582912.0f);
        qb[k] = static_cast<int8_t>(std::clamp(v, -127, 127));
        isum += qb[k];
      }
      a.d[t * nb + b] = d;
      const int64_t g = 32 * b / group_size;
      if (32 * b % group_size == 0) a.sum[t * groups + g] = a.hat_sum[t * groups + g] = 0;
      float s = 0;
      for (int k = 0; k < 32; ++k) s += xb[k];
      a.sum[t * groups + g] += s;
      a.hat_sum[t * groups + g] += d * static_cast<float>(isum);
    }
  }
}

// Lane tiles (8 or 16 tokens) of the activations in the lane layout (tiles.h): token t's 4 bytes of each 4-position
// group side by side, its block scales and group sums likewise.
struct MlxLanes {
  std::vector<int8_t> q;
  std::vector<float> d, sum;
};

void to_lanes(const MlxActivations& a, int L, int64_t tiles, int64_t cols, int64_t groups, MlxLanes& l, int threads) {
  const int64_t nb = cols / 32;
  l.q.resize(static_cast<size_t>(tiles * cols * L));
  l.d.resize(static_cast<size_t>(tiles * nb * L));
  l.sum.resize(static_cast<size_t>(tiles * groups * L));
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && tiles > 1)
  for (int64_t j = 0; j < tiles; ++j) {
    int8_t* q = l.q.data() + j * cols * L;
    for (int t = 0; t < L; ++t) {
      const int64_t tok = j * L + t;
      const int8_t* src = a.q.data() + tok * cols;
      for (int64_t i = 0; i < nb; ++i) {
        for (int k = 0; k < 8; ++k) std::memcpy(q + 32 * L * i + 4 * L * k + 4 * t, src + 32 * i + 4 * k, 4);
        l.d[(j * nb + i) * L + t] = a.d[tok * nb + i];
      }
      for (int64_t g = 0; g < groups; ++g) l.sum[(j * groups + g) * L + t] = a.sum[tok * groups + g];
    }
  }
}

void check(const MlxWeights& w, int64_t cols, const char* who) {
  const bool bits_ok = w.bits == 2 || w.bits == 3 || w.bits == 4 || w.bits == 5 || w.bits == 6 || w.bits == 8;
  const bool group_ok = w.group_size == 32 || w.group_size == 64 || w.group_size == 128;
  if (!bits_ok || !group_ok) lp::fail("{}: unsupported bits {} / group_size {}", who, w.bits, w.group_size);
  if (cols <= 0 || cols % w.group_size != 0) lp::fail("{}: cols {} is not a multiple of group_size {}", who, cols, w.group_size);
}

template <class BlockFn>
void for_row_blocks(int64_t rows, int threads, BlockFn&& block) {
  const int64_t nblocks = (rows + kMlxRowBlock - 1) / kMlxRowBlock;
  if (threads <= 1 || nblocks == 1) {
    for (int64_t b = 0; b < nblocks; ++b) block(b * kMlxRowBlock, std::min(rows, (b + 1) * kMlxRowBlock));
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t b = 0; b < nblocks; ++b) block(b * kMlxRowBlock, std::min(rows, (b + 1) * kMlxRowBlock));
}

// Code i of a little-endian bit stream of `bits`-bit values (read bytewise: no read past the row).
inline uint32_t stream_code(const uint8_t* row, int64_t row_bytes, int64_t i, int bits) {
  const int64_t bit = i * bits, byte = bit / 8;
  uint32_t v = 0;
  std::memcpy(&v, row + byte, static_cast<size_t>(std::min<int64_t>(4, row_bytes - byte)));
  return (v >> (bit % 8)) & ((1u << bits) - 1);
}

}  // namespace

namespace detail {
void matmul_mlx_portable(const MlxWeights& w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens, float* y,
                         int threads) {
  check(w, cols, "matmul_mlx");
  if (rows <= 0 || n_tokens <= 0) return;
  threads = threads > 0 ? threads : omp_get_max_threads();
  thread_local MlxActivations scratch;
  const MlxActivations& act = scratch;  // the calling thread's buffers, also inside the parallel region
  quantize_activations_mlx(x, n_tokens, cols, w.group_size, MlxXLayout::kNatural, scratch, threads);
  const int64_t nb = cols / 32, groups = cols / w.group_size, row_bytes = cols * w.bits / 8, bpg = w.group_size / 32;
  const auto* packed = reinterpret_cast<const uint8_t*>(w.packed);
  for_row_blocks(rows, threads, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> codes(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = packed + r * row_bytes;
      for (int64_t e = 0; e < cols; ++e) codes[e] = static_cast<uint8_t>(stream_code(row, row_bytes, e, w.bits));
      const float* sc = w.scales + r * groups;
      const float* bi = w.biases + r * groups;
      for (int64_t t = 0; t < n_tokens; ++t) {
        const int8_t* xq = act.q.data() + t * cols;
        float acc = 0, bsum = 0;
        for (int64_t g = 0; g < groups; ++g) {
          bsum += bi[g] * act.sum[t * groups + g];
          for (int64_t i = g * bpg; i < (g + 1) * bpg; ++i) {
            int32_t s = 0;
            for (int k = 0; k < 32; ++k) s += int32_t{codes[32 * i + k]} * xq[32 * i + k];
            acc += static_cast<float>(s) * (sc[g] * act.d[t * nb + i]);
          }
        }
        y[t * rows + r] = acc + bsum;
      }
    }
  });
}
}  // namespace detail

void matmul_mlx(const MlxWeights& w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens, float* y,
                int threads) {
  check(w, cols, "matmul_mlx");
  if (rows <= 0 || n_tokens <= 0) return;
  MlxTileSet tiles;
  if (!detail::mlx_tiles_for(w.bits, &tiles)) return detail::matmul_mlx_portable(w, rows, cols, x, n_tokens, y, threads);
  threads = threads > 0 ? threads : omp_get_max_threads();
  thread_local MlxActivations act;
  quantize_activations_mlx(x, n_tokens, cols, w.group_size, tiles.layout, act, threads);
  const int64_t groups = cols / w.group_size, row_bytes = cols * w.bits / 8;
  MlxTileArgs base;
  base.xq = act.q.data();
  base.xq_stride = static_cast<size_t>(cols);
  base.xd = act.d.data();
  base.xd_stride = static_cast<size_t>(cols / 32);
  base.xsum = act.sum.data();
  base.xhat_sum = act.hat_sum.data();
  base.xsum_stride = static_cast<size_t>(groups);
  base.group_size = w.group_size;
  const auto* packed = reinterpret_cast<const uint8_t*>(w.packed);
  // The tiles may read kMlxRowOverRead bytes past a row: the last row of the call runs from a padded copy.
  // (2/4/8-bit loads end at the row end: no copy.)
  const bool over_reads = w.bits == 3 || w.bits == 5 || w.bits == 6;
  thread_local std::vector<uint8_t> last_row_scratch;
  std::vector<uint8_t>& last_row = last_row_scratch;
  if (over_reads) {
    last_row.assign(static_cast<size_t>(row_bytes + kMlxRowOverRead), 0);
    std::memcpy(last_row.data(), packed + (rows - 1) * row_bytes, static_cast<size_t>(row_bytes));
  }
  const int64_t padded_row = over_reads ? rows - 1 : rows;
  auto row_at = [&](int64_t r) { return r == padded_row ? last_row.data() : packed + r * row_bytes; };
  // Full lane tiles (tiles.h, MlxTileSet::lanes: 16 or 8 tokens), the rest in per-token tiles.
  const int L = tiles.lane_tokens;
  const int64_t lane_tiles = tiles.lanes != nullptr ? n_tokens / L : 0, nb = cols / 32;
  thread_local MlxLanes lanes_scratch;
  MlxLanes& lanes = lanes_scratch;
  if (lane_tiles > 0) to_lanes(act, L, lane_tiles, cols, groups, lanes, threads);
  if (n_tokens == 1 && tiles.decode != nullptr && nb % 2 == 0) {
    thread_local std::vector<float> xd8;
    std::vector<float>& d8 = xd8;
    d8.resize(static_cast<size_t>(8 * nb));
    for (int64_t i = 0; i < nb; ++i) std::fill_n(d8.begin() + 8 * i, 8, act.d[i]);
    MlxTileArgs a = base;
    a.xd = d8.data();
    for_row_blocks(rows, threads, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) tiles.decode(row_at(r), w.scales + r * groups, w.biases + r * groups, a, cols, y + r, rows);
    });
    return;
  }
  for_row_blocks(rows, threads, [&](int64_t r0, int64_t r1) {
    for (int64_t j = 0; j < lane_tiles; ++j) {
      MlxTileArgs a;
      a.xq = lanes.q.data() + j * cols * L;
      a.xd = lanes.d.data() + j * nb * L;
      a.xsum = lanes.sum.data() + j * groups * L;
      a.group_size = w.group_size;
      float* yj = y + j * L * rows;
      for (int64_t r = r0; r < r1; ++r) tiles.lanes(row_at(r), w.scales + r * groups, w.biases + r * groups, a, cols, yj + r, rows);
    }
    for (int64_t t0 = lane_tiles * L; t0 < n_tokens; t0 += tiles.max_tokens) {
      const auto T = static_cast<int>(std::min<int64_t>(tiles.max_tokens, n_tokens - t0));
      MlxTileArgs a = base;
      a.xq += t0 * a.xq_stride;
      a.xd += t0 * a.xd_stride;
      a.xsum += t0 * a.xsum_stride;
      a.xhat_sum += t0 * a.xsum_stride;
      const MlxRowTileFn fn = tiles.by_tokens[T];
      for (int64_t r = r0; r < r1; ++r) fn(row_at(r), w.scales + r * groups, w.biases + r * groups, a, cols, y + t0 * rows + r, rows);
    }
  });
}

}  // namespace lp::kernels
