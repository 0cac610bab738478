// Internal: the per-CPU-target entry points of the SIMD kernels (Highway dynamic dispatch), and
// hooks that let tests pin a specific target.
#pragma once
#include <cstdint>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/dot_scalar.h"
#include "kernels/matmul.h"
#include "kernels/tiles.h"

namespace lp::kernels::detail {

// Row dot product of the currently chosen target for wtype (nullptr if unsupported).
RowDotFn row_dot_for(GgmlType wtype);

// Four-token variant for wtype on the chosen target (nullptr if none).
RowDot4Fn row_dot4_for(GgmlType wtype);

// Single-token variant that takes float q8_0 activation scales (xd), writing out[0]; nullptr if none.
RowDot4Fn row_dot1_xd_for(GgmlType wtype);

// Prefill GEMM tiles for wtype on the chosen target; false (out untouched) if none.
bool row_tiles_for(GgmlType wtype, RowTileSet* out);

// MLX affine row tiles for `bits` on the chosen target; false (out untouched) if the target has none
// (SCALAR / EMU128 / non-x86: matmul_mlx then runs its portable integer path).
bool mlx_tiles_for(int bits, MlxTileSet* out);

// matmul_mlx's portable integer path (the same activation quantization and integer sums as the SIMD
// tiles, in plain C++): what the no-SIMD targets run, and the exact-integer reference the tiles are
// tested against.
void matmul_mlx_portable(const MlxWeights& w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens, float* y,
                         int threads);

// Name of the currently chosen target.
const char* chosen_target_name();

// Highway target bits compiled into lp_kernels that this CPU supports, best first (only the forced
// one when LP_KERNELS_TARGET names a target).
std::vector<int64_t> available_target_bits();
// The target LP_KERNELS_TARGET forces for the whole process, or 0.
int64_t env_forced_target();
const char* target_name(int64_t target_bit);

// Restricts dispatch to one target (tests); 0 restores normal CPU detection (or LP_KERNELS_TARGET's target).
void force_target(int64_t target_bit);

}  // namespace lp::kernels::detail
