// Test helper: turns the trained HF fixture /work/shared/fixtures/tiny-qwen3 (bf16 safetensors) into a
// GGUF the engine can load (F32, F16 or Q8_0 matrices; norms F32), with the HF->GGUF qwen3 names.
// The real converter replaces this; it exists so engine tests do not depend on pipeline modules.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/ggml_type.h"

namespace lp::engine::testing {

std::string fixture_dir(const std::string& name);  // "" when the shared fixtures are missing

// Writes (once per process and type) a GGUF next to the test binary; returns its path.
std::string tiny_qwen3_gguf(GgmlType matrix_type);

// tests/data/engine/heldout_tokens_tiny_qwen3.txt (heldout.txt tokenized by llama.cpp, so tests using it do
// not depend on our tokenizer): the first `max` tokens.
std::vector<int32_t> heldout_tokens(size_t max = std::numeric_limits<size_t>::max());

}  // namespace lp::engine::testing
