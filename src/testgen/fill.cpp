#include "testgen/fill.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "testgen/mxfp4_encode.h"
#include "testgen/random.h"

namespace lp::testgen {
namespace {

bool is_mxfp4(const TensorPlan& t) { return t.init == InitKind::Mxfp4Blocks || t.init == InitKind::Mxfp4Scales; }

// The *_blocks and *_scales halves of one MXFP4 tensor must encode the same values: same stream name.
std::string_view stream_name(const TensorPlan& t) {
  std::string_view name = t.name;
  if (is_mxfp4(t) && name.size() > 7) name.remove_suffix(7);  // "_blocks" / "_scales"
  return name;
}

uint64_t chunk_seed(uint64_t seed, std::string_view name, uint64_t chunk) {
  const uint64_t stream = mix64(mix64(seed + 0x9E3779B97F4A7C15ull) ^ hash_name(name));
  return mix64(stream ^ mix64(chunk + 1));
}

void sample_values(const TensorPlan& t, uint64_t seed, uint64_t chunk, float* values, uint64_t n) {
  if (t.init == InitKind::Constant && t.std == 0.0f) {
    std::fill(values, values + n, t.value);
    return;
  }
  NormalSampler normal(chunk_seed(seed, stream_name(t), chunk));
  const double mean = t.init == InitKind::Constant ? t.value : 0.0;
  for (uint64_t i = 0; i < n; ++i) values[i] = static_cast<float>(mean + static_cast<double>(t.std) * normal.next());
}

void store_floats(TensorDtype dtype, const float* values, uint64_t n, uint8_t* out) {
  switch (dtype) {
    case TensorDtype::F32:
      std::memcpy(out, values, n * sizeof(float));
      break;
    case TensorDtype::BF16:
    case TensorDtype::F16:
      for (uint64_t i = 0; i < n; ++i) {
        const uint16_t h = dtype == TensorDtype::BF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      break;
    case TensorDtype::U8:
      fail("testgen: U8 tensor with float init");
  }
}

void fill_one_chunk(const TensorPlan& t, uint64_t seed, uint64_t chunk, uint8_t* out) {
  const uint64_t total = logical_values(t);
  const uint64_t begin = chunk * kChunkValues;
  const uint64_t n = std::min(kChunkValues, total - begin);
  std::vector<float> values(n);
  sample_values(t, seed, chunk, values.data(), n);
  if (!is_mxfp4(t)) {
    store_floats(t.dtype, values.data(), n, out);
    return;
  }
  uint8_t codes[kMxfp4Block / 2];
  uint8_t scale = 0;
  for (uint64_t b = 0; b < n / kMxfp4Block; ++b) {
    encode_mxfp4_block(values.data() + b * kMxfp4Block, codes, &scale);
    if (t.init == InitKind::Mxfp4Blocks) std::memcpy(out + b * sizeof(codes), codes, sizeof(codes));
    else out[b] = scale;
  }
}

}  // namespace

uint64_t logical_values(const TensorPlan& t) {
  switch (t.init) {
    case InitKind::Mxfp4Blocks: return t.numel() * 2;
    case InitKind::Mxfp4Scales: return t.numel() * kMxfp4Block;
    default: return t.numel();
  }
}

uint64_t chunk_count(const TensorPlan& t) { return (logical_values(t) + kChunkValues - 1) / kChunkValues; }

uint64_t chunk_byte_offset(const TensorPlan& t, uint64_t chunk) {
  const uint64_t first_value = chunk * kChunkValues;
  switch (t.init) {
    case InitKind::Mxfp4Blocks: return first_value / 2;
    case InitKind::Mxfp4Scales: return first_value / kMxfp4Block;
    default: return first_value * dtype_size(t.dtype);
  }
}

void fill_chunks(const TensorPlan& t, uint64_t seed, uint64_t first, uint64_t count, uint8_t* out) {
  if (is_mxfp4(t) && (t.shape.empty() || logical_values(t) % kMxfp4Block != 0))
    fail("testgen: {}: MXFP4 tensor of unexpected shape", t.name);
  if (!is_mxfp4(t) && t.dtype == TensorDtype::U8) fail("testgen: {}: U8 tensor with float init", t.name);
  const uint64_t base = chunk_byte_offset(t, first);
  const auto n = static_cast<int64_t>(count);
#pragma omp parallel for schedule(static) if (n > 1)
  for (int64_t c = 0; c < n; ++c) {
    const uint64_t chunk = first + static_cast<uint64_t>(c);
    fill_one_chunk(t, seed, chunk, out + (chunk_byte_offset(t, chunk) - base));
  }
}

void fill_tensor(const TensorPlan& tensor, uint64_t seed, void* out) {
  fill_chunks(tensor, seed, 0, chunk_count(tensor), static_cast<uint8_t*>(out));
}

}  // namespace lp::testgen
