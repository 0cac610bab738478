// llama-pajamas-run: the light runtime. It links only runtime modules (core, quant kernels, format
// readers, arch, text, engine); never the pipeline (plan, writers, calibration).
#include "common/command.h"

int main(int argc, char** argv) {
  return lp::app::run_main("llama-pajamas-run", "Run quantized models: generate, chat, serve, bench", argc, argv);
}
