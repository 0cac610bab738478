// Byte-for-byte agreement with ggml's own quantizers: tests/data/quant/ggml_reference.txt holds hashes of
// what libggml-base.so (llama.cpp's ggml, as shipped by node-llama-cpp) writes for reference_input(),
// with and without an importance vector. See tests/data/quant/gen_ggml_reference.cpp.
// A quick regression check only: the hashes were made once by hand. The claim that our quantizers write ggml's bytes
// rests on tests/oracles/quant_ggml.test.mjs, which calls libggml-base's ggml_quantize_chunk in every test run.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "quant/quantize.h"
#include "reference_input.h"
#include "test_data.h"

namespace lp::quant {
namespace {
using namespace testing;

std::map<std::string, uint64_t> load_reference() {
  std::ifstream in(std::string(LP_SOURCE_DIR) + "/tests/data/quant/ggml_reference.txt");
  std::map<std::string, uint64_t> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string name, hash;
    int imp = 0, rows = 0, cols = 0;
    ss >> name >> imp >> rows >> cols >> hash;
    if (rows != kRefRows || cols != kRefCols) continue;
    out[name + "/" + std::to_string(imp)] = std::stoull(hash, nullptr, 16);
  }
  return out;
}

TEST(GgmlReference, EveryTypeMatchesGgmlBytes) {
  const auto ref = load_reference();
  ASSERT_EQ(ref.size(), std::size(kRefTypes) * 2) << "tests/data/quant/ggml_reference.txt missing or incomplete";
  const auto x = reference_input();
  const auto imp = skewed_importance(kRefCols, 4242);
  for (const auto& t : kRefTypes) {
    const auto type = ggml_type_from_name(t.name);
    ASSERT_TRUE(type) << t.name;
    ASSERT_EQ(ggml_traits(*type).block_size, static_cast<uint32_t>(t.block_size));
    ASSERT_EQ(ggml_traits(*type).type_size, static_cast<uint32_t>(t.block_bytes));
    std::vector<uint8_t> out(ggml_row_bytes(*type, kRefCols) * kRefRows);
    for (int useimp = 0; useimp < 2; ++useimp) {
      const size_t n = quantize(*type, x.data(), out.data(), kRefRows, kRefCols, useimp ? imp.data() : nullptr);
      ASSERT_EQ(n, out.size());
      char got[32];
      std::snprintf(got, sizeof got, "%016llx", static_cast<unsigned long long>(fnv1a64(out.data(), out.size())));
      char want[32];
      std::snprintf(want, sizeof want, "%016llx",
                    static_cast<unsigned long long>(ref.at(std::string(t.name) + "/" + std::to_string(useimp))));
      EXPECT_STREQ(got, want) << t.name << (useimp ? " with importance" : " without importance");
    }
  }
}

}  // namespace
}  // namespace lp::quant
