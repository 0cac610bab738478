// llama-pajamas-quant: the offline pipeline (detect, plan, convert, inspect, ...). Each subcommand is
// a cmd_*.cpp file in this folder; the work itself lives in the library under src/.
#include "common/command.h"
#include "core/atomic_file.h"

int main(int argc, char** argv) {
  // Ctrl-C / SIGTERM during convert (or any command that stages output) leaves no .lp-staging-* folder behind.
  lp::remove_temporaries_on_signals();
  return lp::app::run_main("llama-pajamas-quant",
                           "Architecture-aware quantization: Hugging Face checkpoint -> GGUF / MLX artifacts", argc, argv);
}
