// llama-pajamas-run generate: complete a prompt, streaming text to stdout (or one JSON object).
#include <cstdio>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "engine_cli.h"

namespace {

struct Opts : lp::app::EngineCli {
  std::string prompt, prompt_tokens, prompt_file, positional;
  bool no_bos = false;
};

lp::app::RegisterCommand reg{{"generate", "Generate text from a prompt with the CPU engine", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 4096, true);
  o->add_sampling_options(sub);
  o->add_json(sub);
  auto* pos = sub.add_option("prompt", o->positional, "prompt text (or -p / -f)");
  auto* p = sub.add_option("-p,--prompt", o->prompt, "prompt text");
  auto* f = sub.add_option("-f,--file", o->prompt_file, "read the prompt from this file")->check(CLI::ExistingFile);
  auto* pt = sub.add_option("--prompt-tokens", o->prompt_tokens, "prompt as token ids (comma separated)")->group("");
  p->excludes(pt)->excludes(f)->excludes(pos);
  f->excludes(pt)->excludes(pos);
  pos->excludes(pt);
  sub.add_flag("--no-bos", o->no_bos, "do not prepend BOS even if the vocabulary asks for it");
  return [o]() {
    if (!o->positional.empty()) o->prompt = o->positional;
    if (!o->prompt_file.empty()) {
      std::ifstream in(o->prompt_file, std::ios::binary);
      if (!in) lp::fail("{}: cannot open", o->prompt_file);
      std::ostringstream ss;
      ss << in.rdbuf();
      o->prompt = ss.str();
      if (o->prompt.empty()) lp::fail("{}: empty prompt file", o->prompt_file);
    }
    if (o->prompt.empty() && o->prompt_tokens.empty()) lp::fail("generate: a prompt is required (PROMPT, -p TEXT or -f FILE)");
    o->infer.add_bos = !o->no_bos;
    lp::Runtime rt = o->open();
    auto print = [&](std::string_view piece) {
      if (!o->json) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
      return true;
    };
    lp::GenerationResult r = o->prompt_tokens.empty()
                                 ? rt.generate(o->prompt, o->infer, print)
                                 : rt.generate_tokens(lp::app::parse_token_list(o->prompt_tokens), o->infer, print);
    if (o->json) {
      nlohmann::json j = {{"text", r.text},
                          {"tokens", r.tokens},
                          {"prompt_tokens", r.prompt_tokens},
                          {"stop_reason", r.stop_reason},
                          {"timing",
                           {{"load_seconds", rt.info().load_seconds},
                            {"prefill_seconds", r.prefill_seconds},
                            {"decode_seconds", r.decode_seconds},
                            {"prefill_tokens_per_second", r.prefill_tokens_per_second()},
                            {"decode_tokens_per_second", r.decode_tokens_per_second()}}}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("\n");
      std::fprintf(stderr, "[%d prompt tokens, %.1f tok/s prefill; %zu generated, %.1f tok/s; stop: %s]\n", r.prompt_tokens,
                   r.prefill_tokens_per_second(), r.tokens.size(), r.decode_tokens_per_second(), r.stop_reason.c_str());
    }
    return 0;
  };
}}};

}  // namespace
