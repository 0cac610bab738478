// Minimal embedder: load a GGUF, stream a completion, then print the timing.
//   simple_generate model.gguf "Once upon a time" [max_tokens]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "llama_pajamas/runtime.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.gguf PROMPT [MAX_TOKENS]\n", argv[0]);
    return 2;
  }
  try {
    lp::RuntimeOptions options;
    options.ctx = 2048;
    lp::Runtime rt = lp::Runtime::open(argv[1], options);

    lp::InferenceConfig config;
    config.max_tokens = argc > 3 ? std::atoi(argv[3]) : 64;
    config.sampling.temperature = 0.7f;
    config.seed = 42;

    const lp::GenerationResult r = rt.generate(argv[2], config, [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;  // keep going
    });
    std::printf("\n[%zu tokens, %.1f tok/s, stop: %s]\n", r.tokens.size(), r.decode_tokens_per_second(), r.stop_reason.c_str());

    // The iterator form of the same thing:
    auto stream = rt.stream(argv[2], config);
    while (auto piece = stream.next()) std::fputs(piece->c_str(), stdout);
    std::printf("\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
