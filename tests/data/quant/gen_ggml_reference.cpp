// Regenerates ggml_reference.txt: FNV-1a-64 hashes of the bytes ggml's own quantizers produce for the
// deterministic inputs of tests/unit/quant/test_data.h (see reference_input in ggml_reference_test.cpp).
// Not part of the build (the live comparison is tests/oracles/quant_ggml.test.mjs). Built and run by hand against the
// libggml-base.so that node-llama-cpp ships:
//   g++ -std=c++20 -O2 -I src -I tests/unit/quant tests/data/quant/gen_ggml_reference.cpp -ldl -o /tmp/gen
//   /tmp/gen tests/oracles/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so \
//       > tests/data/quant/ggml_reference.txt
#include <dlfcn.h>

#include <cstdio>
#include <vector>

#include "reference_input.h"
#include "test_data.h"

using qfn = size_t (*)(const float*, void*, int64_t, int64_t, const float*);

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* h = dlopen(argv[1], RTLD_NOW);
  if (!h) { std::fprintf(stderr, "%s\n", dlerror()); return 1; }
  using namespace lp::quant::testing;
  const auto x = reference_input();
  const auto imp = skewed_importance(kRefCols, 4242);
  std::printf("# type importance rows cols fnv1a64 (ggml quantize_<type>, node-llama-cpp 3.21.1 libggml-base.so)\n");
  for (const auto& t : kRefTypes) {
    auto fn = reinterpret_cast<qfn>(dlsym(h, t.ggml_fn));
    if (!fn) { std::fprintf(stderr, "missing %s\n", t.ggml_fn); return 1; }
    std::vector<uint8_t> out(t.block_bytes * (kRefCols / t.block_size) * kRefRows);
    for (int useimp = 0; useimp < 2; ++useimp) {
      fn(x.data(), out.data(), kRefRows, kRefCols, useimp ? imp.data() : nullptr);
      std::printf("%s %d %d %d %016llx\n", t.name, useimp, kRefRows, kRefCols,
                  static_cast<unsigned long long>(fnv1a64(out.data(), out.size())));
    }
  }
  return 0;
}
