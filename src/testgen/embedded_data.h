// Data files compiled into lp_testgen (lp_embed_file, see src/testgen/CMakeLists.txt).
#pragma once
#include <string_view>

namespace lp::testgen {

// src/testgen/data/tokenizers/bpe4096/tokenizer.json: byte-level BPE, 4,093 base tokens (256 bytes + 3,837
// merges, token 256+i is the result of merge i) + 3 ChatML specials, Qwen2 pre-tokenizer regex, NFC.
std::string_view bpe4096_tokenizer_json();

}  // namespace lp::testgen
