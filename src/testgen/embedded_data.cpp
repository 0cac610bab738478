#include "testgen/embedded_data.h"

#include <cstddef>

namespace lp::testgen {
namespace detail {
// Written by lp_embed_file (src/testgen/CMakeLists.txt).
extern const unsigned char kBpe4096TokenizerJson[];
extern const size_t kBpe4096TokenizerJsonSize;
}  // namespace detail

std::string_view bpe4096_tokenizer_json() {
  return {reinterpret_cast<const char*>(detail::kBpe4096TokenizerJson), detail::kBpe4096TokenizerJsonSize};
}

}  // namespace lp::testgen
