// Subcommands register themselves at static-initialisation time, so each one lives in its own
// cmd_<name>.cpp file and the executables' main() stays a dozen lines. The conventions every command
// follows (short flags, aliases, --help layout, error lines) are in docs/CLI.md.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace lp::app {

struct Command {
  using Setup = std::function<std::function<int()>(CLI::App& sub)>;
  Command(std::string name_, std::string help_, Setup setup_, bool hidden_ = false, std::string deprecated_for_ = {})
      : name(std::move(name_)), help(std::move(help_)), setup(std::move(setup_)), hidden(hidden_),
        deprecated_for(std::move(deprecated_for_)) {}
  std::string name;
  std::string help;
  // Adds options to `sub` and returns the action to run once parsing succeeded. The action returns the exit code.
  Setup setup;
  bool hidden = false;
  // Non-empty: a deprecated name kept for scripts; it is hidden and running it prints a one-line note on
  // stderr naming this replacement.
  std::string deprecated_for;
};

std::vector<Command>& command_registry();

struct RegisterCommand {
  explicit RegisterCommand(Command c) { command_registry().push_back(std::move(c)); }
};

// Parses argv, runs the chosen subcommand, prints "error: ..." for lp::Error and returns the exit code.
int run_main(const std::string& program, const std::string& description, int argc, char** argv);

// llama.cpp's multi-letter single-dash options (`-ngl 99`) rewritten to their long spelling, which CLI11
// would otherwise read as `-n gl`. Exposed for tests.
std::vector<std::string> rewrite_llamacpp_args(const std::vector<std::string>& args);

// --help without CLI11's artefacts: no "{false}" after negatable flags, no ":FILE" validator suffixes, no empty
// "Excludes:" (hidden options are not listed), REQUIRED on every required option and positional.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override;
  std::string make_option_opts(const CLI::Option* opt) const override;
};

// "note: ..." on stderr (deprecations, accepted-and-ignored options).
void note(const std::string& message);

// A deprecated spelling of an option: hidden from --help; using it prints a note naming `replacement`.
template <class T>
CLI::Option* add_deprecated_alias(CLI::App& sub, const std::string& name, T& variable, const std::string& replacement) {
  auto* opt = sub.add_option(name, variable, "deprecated: use " + replacement)->group("");
  opt->each([name, replacement](const std::string&) { note(name + " is deprecated; use " + replacement); });
  return opt;
}

// -t,--threads N: one meaning and one default (0: physical cores, lp::physical_cores()) in every command.
inline CLI::Option* add_threads(CLI::App& sub, int& threads) {
  return sub.add_option("-t,--threads", threads, "CPU threads (0: physical cores)")->capture_default_str();
}

// -q,--quiet: no progress output (every command that shows progress has it).
inline CLI::Option* add_quiet(CLI::App& sub, bool& quiet) {
  return sub.add_flag("-q,--quiet", quiet, "no progress output on stderr");
}

}  // namespace lp::app
