// llama-pajamas-run chat: interactive conversation using the model's chat template. Streams each reply,
// prints tok/s after it; /reset clears the conversation, /exit quits. Works with piped stdin (one user
// message per line). On a terminal, GNU readline is used when libreadline is installed (loaded at run
// time, so the binary does not depend on it).
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "common/command.h"
#include "engine_cli.h"

namespace {

// Line input: readline (history, editing) on a TTY when available, std::getline otherwise.
class LineReader {
 public:
  LineReader() {
    if (!isatty(STDIN_FILENO)) return;
    for (const char* lib : {"libreadline.so.8", "libreadline.so"}) {
      if ((handle_ = dlopen(lib, RTLD_NOW | RTLD_LOCAL))) break;
    }
    if (!handle_) return;
    readline_ = reinterpret_cast<char* (*)(const char*)>(dlsym(handle_, "readline"));
    add_history_ = reinterpret_cast<void (*)(const char*)>(dlsym(handle_, "add_history"));
  }
  ~LineReader() {
    if (handle_) dlclose(handle_);
  }
  std::optional<std::string> read(const char* prompt) {
    if (readline_) {
      char* line = readline_(prompt);
      if (!line) return std::nullopt;
      std::string s(line);
      std::free(line);
      if (!s.empty() && add_history_) add_history_(s.c_str());
      return s;
    }
    if (isatty(STDIN_FILENO)) {
      std::fputs(prompt, stdout);
      std::fflush(stdout);
    }
    std::string s;
    if (!std::getline(std::cin, s)) return std::nullopt;
    return s;
  }

 private:
  void* handle_ = nullptr;
  char* (*readline_)(const char*) = nullptr;
  void (*add_history_)(const char*) = nullptr;
};

struct Opts : lp::app::EngineCli {
  std::string system;
};

lp::app::RegisterCommand reg{{"chat", "Interactive chat using the model's chat template", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 4096);
  o->add_sampling_options(sub);
  o->infer.max_tokens = 512;
  sub.add_option("--system", o->system, "system prompt");
  return [o]() {
    lp::Runtime rt = o->open();
    std::vector<lp::ChatMessage> messages;
    auto reset = [&] {
      messages.clear();
      if (!o->system.empty()) messages.push_back({"system", o->system});
    };
    reset();
    const bool tty = isatty(STDIN_FILENO);
    if (tty) std::fprintf(stderr, "chat with %s — /reset clears the conversation, /exit quits\n", rt.info().path.c_str());
    LineReader reader;
    while (auto line = reader.read("> ")) {
      if (*line == "/exit" || *line == "/quit") break;
      if (*line == "/reset") {
        reset();
        rt.reset();
        std::fprintf(stderr, "[conversation cleared]\n");
        continue;
      }
      if (line->empty()) continue;
      messages.push_back({"user", *line});
      const lp::GenerationResult r = rt.chat(messages, o->infer, [](std::string_view piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        return true;
      });
      std::printf("\n");
      std::fflush(stdout);
      std::fprintf(stderr, "[%zu tokens, %.1f tok/s, prompt %d (%d cached), %.1f tok/s prefill]\n", r.tokens.size(),
                   r.decode_tokens_per_second(), r.prompt_tokens, r.cached_prompt_tokens, r.prefill_tokens_per_second());
      messages.push_back({"assistant", r.text});
    }
    return 0;
  };
}}};

}  // namespace
