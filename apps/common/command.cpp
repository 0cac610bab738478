#include "common/command.h"

#include <cstdio>
#include <exception>
#include <memory>

#include "core/error.h"

namespace lp::app {

std::vector<Command>& command_registry() {
  static std::vector<Command> registry;
  return registry;
}

int run_main(const std::string& program, const std::string& description, int argc, char** argv) {
  CLI::App app{description, program};
  app.set_version_flag("--version", std::string(program) + " " + LP_VERSION);
  app.require_subcommand(0, 1);
  std::vector<std::pair<CLI::App*, std::function<int()>>> actions;
  for (auto& cmd : command_registry()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.help);
    if (cmd.hidden) sub->group("");
    actions.emplace_back(sub, cmd.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const lp::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace lp::app
