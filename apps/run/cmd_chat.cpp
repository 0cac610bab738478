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

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "core/error.h"
#include "engine_cli.h"
#include "serve/chat_prompt.h"
#include "serve/constraints.h"

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
  std::string tools;  // --tools FILE.json
};

// One turn with --tools: the conversation and the tools go through the server's request path (the model's
// template with tools, the tool-call parser); the reply is streamed, the calls are printed after it and kept in
// the history (the next line typed is sent as the user's message).
nlohmann::json tools_turn(lp::Runtime& rt, const Opts& o, const nlohmann::json& tools, nlohmann::json& history) {
  namespace sv = lp::serve;
  sv::RequestDefaults d;
  d.config = o.infer;
  d.max_tokens = o.infer.max_tokens;
  sv::GenerationRequest r = sv::parse_chat_request(nlohmann::json{{"messages", history}, {"tools", tools}}.dump(), d);
  const sv::ChatPrompt p = sv::render_chat_prompt(rt.chat_template_info(), r);
  sv::configure_generation(rt, r, &p);
  sv::ReplyDeltas deltas(p, r);
  bool reasoning = false;
  auto show = [&](const std::vector<nlohmann::json>& ds) {
    for (const auto& d : ds) {
      if (d.contains("reasoning_content")) {
        if (!reasoning) std::fputs("[thinking] ", stdout);
        reasoning = true;
        std::fputs(d["reasoning_content"].get<std::string>().c_str(), stdout);
      } else if (d.contains("content")) {
        if (reasoning) std::fputs("\n", stdout);
        reasoning = false;
        std::fputs(d["content"].get<std::string>().c_str(), stdout);
      }
    }
    std::fflush(stdout);
  };
  const lp::GenerationResult res = rt.generate_tokens(rt.tokenize(p.text, false, true), r.config, [&](std::string_view piece) {
    show(deltas.feed(piece));
    return true;
  });
  show(deltas.finish());
  const sv::ReplyMessage m = deltas.message();
  nlohmann::json msg = {{"role", "assistant"}, {"content", m.content}};
  if (!m.tool_calls.empty()) {
    msg["tool_calls"] = nlohmann::json::array();
    for (const auto& c : m.tool_calls) {
      std::printf("\n[tool call %s] %s(%s)", c.id.c_str(), c.name.c_str(), c.arguments.c_str());
      msg["tool_calls"].push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
  }
  std::printf("\n");
  std::fprintf(stderr, "[%zu tokens, %.1f tok/s, finish %s]\n", res.tokens.size(), res.decode_tokens_per_second(),
               sv::chat_finish_reason(res.stop_reason, m).c_str());
  return msg;
}

lp::app::RegisterCommand reg{{"chat", "Interactive chat using the model's chat template", [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  o->add_model_options(sub, 4096, true);
  o->add_sampling_options(sub);
  o->infer.max_tokens = 512;
  sub.add_option("--system", o->system, "system prompt");
  sub.add_option("--tools", o->tools, "JSON file: an OpenAI tools array; the model's tool calls are shown (not run)")->check(CLI::ExistingFile);
  return [o]() {
    nlohmann::json tools;
    if (!o->tools.empty()) {
      std::ifstream in(o->tools);
      try {
        tools = nlohmann::json::parse(in);
      } catch (const std::exception& e) {
        lp::fail("{}: not valid JSON: {}", o->tools, e.what());
      }
      if (!tools.is_array() || tools.empty()) lp::fail("{}: must be a non-empty JSON array of tools", o->tools);
      for (auto& t : tools)  // bare function objects are accepted too
        if (t.is_object() && !t.contains("type") && t.contains("name")) t = {{"type", "function"}, {"function", t}};
    }
    lp::Runtime rt = o->open();
    std::vector<lp::ChatMessage> messages;
    std::map<size_t, nlohmann::json> tool_turns;  // --tools: index in messages -> the assistant message with tool_calls
    auto reset = [&] {
      messages.clear();
      tool_turns.clear();
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
      if (!tools.is_null()) {
        nlohmann::json history = nlohmann::json::array();
        for (const auto& m : messages) history.push_back({{"role", m.role}, {"content", m.content}});
        for (size_t i = 0; i < history.size(); ++i)  // assistant turns with tool calls, kept aside
          if (auto it = tool_turns.find(i); it != tool_turns.end()) history[i] = it->second;
        try {
          const nlohmann::json reply = tools_turn(rt, *o, tools, history);
          tool_turns[messages.size()] = reply;
          messages.push_back({"assistant", reply["content"].get<std::string>()});
        } catch (const lp::serve::ApiError& e) {
          lp::fail("--tools: {}", e.what());
        }
        continue;
      }
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
