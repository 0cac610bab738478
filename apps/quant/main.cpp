// llama-pajamas-quant: the offline pipeline (detect, plan, convert, inspect, ...). Each subcommand is
// a cmd_*.cpp file in this folder; the work itself lives in the library under src/.
#include "common/command.h"

int main(int argc, char** argv) {
  return lp::app::run_main("llama-pajamas-quant",
                           "Architecture-aware quantization: Hugging Face checkpoint -> GGUF / MLX artifacts", argc, argv);
}
