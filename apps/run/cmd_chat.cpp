// llama-pajamas-run chat: interactive conversation using the model's chat template. Streams each reply,
// prints tok/s after it. Lines whose first word is /letters are commands handled here, never sent to the model
// (/help lists them; an unknown one is an error message); "//text" sends "/text". Works with piped stdin (one user
// message per line). On a terminal, GNU readline is used when libreadline is installed (loaded at run
// time, so the binary does not depend on it).
#include <dlfcn.h>
#include <unistd.h>

#include <cctype>
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

constexpr const char* kCommandHelp =
    "commands:\n"
    "  /help          this list\n"
    "  /reset         clear the conversation (keeps --system)\n"
    "  /exit, /quit   leave (also Ctrl-D)\n"
    "  //text         send \"/text\" to the model\n";

// "/word ..." with only letters in word: a chat command (returns "/word"); otherwise "" (a message).
std::string chat_command(const std::string& line) {
  if (line.size() < 2 || line[0] != '/' || line[1] == '/') return "";
  size_t end = 1;
  while (end < line.size() && std::isalpha(static_cast<unsigned char>(line[end]))) ++end;
  if (end == 1 || (end < line.size() && line[end] != ' ' && line[end] != '\t')) return "";
  return line.substr(0, end);
}

struct Opts : lp::app::EngineCli {
  std::string system;
};

lp::app::RegisterCommand reg{{"chat", "Interactive chat using the model's chat template", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 4096, true);
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
    if (tty) std::fprintf(stderr, "chat with %s — /help lists the commands, /reset clears the conversation, /exit quits\n", rt.info().path.c_str());
    LineReader reader;
    while (auto line = reader.read("> ")) {
      const std::string cmd = chat_command(*line);
      if (cmd == "/exit" || cmd == "/quit") break;
      if (cmd == "/reset") {
        reset();
        rt.reset();
        std::fprintf(stderr, "[conversation cleared]\n");
        continue;
      }
      if (cmd == "/help") {
        std::fputs(kCommandHelp, stderr);
        continue;
      }
      if (!cmd.empty()) {
        std::fprintf(stderr, "unknown command %s (not sent to the model)\n%s", cmd.c_str(), kCommandHelp);
        continue;
      }
      if (line->rfind("//", 0) == 0) line->erase(0, 1);
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
