// Subcommands register themselves at static-initialisation time, so each one lives in its own
// cmd_<name>.cpp file and the executables' main() stays a dozen lines.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace lp::app {

struct Command {
  std::string name;
  std::string help;
  // Adds options to `sub` and returns the action to run once parsing succeeded. The action returns the exit code.
  std::function<std::function<int()>(CLI::App& sub)> setup;
  bool hidden = false;
};

std::vector<Command>& command_registry();

struct RegisterCommand {
  explicit RegisterCommand(Command c) { command_registry().push_back(std::move(c)); }
};

// Parses argv, runs the chosen subcommand, prints "error: ..." for lp::Error and returns the exit code.
int run_main(const std::string& program, const std::string& description, int argc, char** argv);

}  // namespace lp::app
