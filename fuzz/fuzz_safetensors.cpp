// Any byte string must either parse as safetensors or raise lp::Error.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = lp::formats::SafetensorsFile::parse(std::span<const uint8_t>(data, size), "fuzz.safetensors");
    uint64_t sum = 0;
    for (const auto& t : f.tensors())
      if (t.nbytes) sum += t.data[0] + t.data[t.nbytes - 1];
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const lp::Error&) {
  }
  return 0;
}
