// Any byte string must either parse as GGUF or raise lp::Error: no crash, overflow, or out-of-bounds read.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "formats/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = lp::formats::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
    // Touch everything the reader promised is valid.
    uint64_t sum = 0;
    for (const auto& t : f.tensors())
      if (t.nbytes) sum += t.data[0] + t.data[t.nbytes - 1];
    for (const auto& [k, v] : f.metadata()) sum += v.to_string(4).size();
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const lp::Error&) {
  }
  return 0;
}
