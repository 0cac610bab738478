// MXFP4 (OCP microscaling FP4: E2M1 codes, one E8M0 exponent per 32 values) in two layouts.
//
// Checkpoint layout (GPT-OSS `*_blocks` / `*_scales`, also compressed-tensors "mxfp4-pack-quantized"):
//   blocks U8 [..., n_groups, 16]: byte k of a group holds element 2k in its LOW nibble and element
//   2k+1 in its HIGH nibble. scales U8 [..., n_groups]: E8M0 biased exponent e, factor 2^(e-127).
//
// ggml layout (block_mxfp4, GGUF type 39): { uint8_t e; uint8_t qs[16]; } where qs[j] holds element
//   j in its LOW nibble and element j+16 in its HIGH nibble. The byte e is the same E8M0 exponent.
//
// Codes are the same 4-bit E2M1 patterns in both layouts (bit 3 = sign; 0..7 = 0, .5, 1, 1.5, 2, 3, 4, 6),
// so the conversion only moves nibbles: element i of group g = code(i) * 2^(e-127). ggml evaluates it
// as kvalues_mxfp4[code] (the E2M1 value doubled) * e8m0_to_f32_half(e) (= 2^(e-128)), the same number.
// This matches llama.cpp's convert_hf_to_gguf (GptOssModel.transform_nibble_layout / repack_mxfp4
// and ModelBase.repack_mxfp4_blocks) and ggml's dequantize_row_mxfp4.
#pragma once
#include <cstdint>

#include "quant/blocks.h"

namespace lp::quant {

// E2M1 code -> value (not doubled): 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives.
float e2m1_to_f32(uint8_t code);

// Converts one checkpoint row of `ncols` values (ncols % 32 == 0): `blocks` holds ncols/2 bytes,
// `scales` ncols/32 bytes. Writes ncols/32 ggml blocks. Lossless.
void mxfp4_from_checkpoint(const uint8_t* blocks, const uint8_t* scales, int64_t ncols, block_mxfp4* out);

// Inverse of mxfp4_from_checkpoint (for tests and round trips).
void mxfp4_to_checkpoint(const block_mxfp4* in, int64_t ncols, uint8_t* blocks, uint8_t* scales);

// Direct decode of a checkpoint row (the definition above, independent of ggml's tables).
void mxfp4_checkpoint_dequantize(const uint8_t* blocks, const uint8_t* scales, int64_t ncols, float* out);

}  // namespace lp::quant
