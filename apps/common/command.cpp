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

void note(const std::string& message) {
  std::fprintf(stderr, "note: %s\n", message.c_str());
  std::fflush(stderr);
}

std::vector<std::string> rewrite_llamacpp_args(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  for (const auto& a : args) {
    if (a == "-ngl") out.push_back("--n-gpu-layers");
    else if (a.rfind("-ngl=", 0) == 0) out.push_back("--n-gpu-layers=" + a.substr(5));
    else out.push_back(a);
  }
  return out;
}

std::string HelpFormatter::make_option_name(const CLI::Option* opt, bool is_positional) const {
  if (is_positional) return opt->get_name(true, false);
  std::string out;
  for (const auto& s : opt->get_snames()) out += (out.empty() ? "-" : ",-") + s;
  for (const auto& l : opt->get_lnames()) out += (out.empty() ? "--" : ",--") + l;
  return out;
}

namespace {
// CLI11 appends validator descriptions to the type ("TEXT:FILE", "TEXT:{auto,cpu}", "INT:INT in [0 - 65535]"):
// keep what tells the user something ({auto,cpu}, the range), drop the rest.
std::string clean_type(std::string t) {
  const size_t colon = t.find(':');
  if (colon == std::string::npos) return t;
  std::string base = t.substr(0, colon), rest = t.substr(colon + 1);
  if (rest == "FILE" || rest == "DIR" || rest == "PATH(existing)" || rest == "PATH(non-existing)") return rest == "DIR" ? "DIR" : "FILE";
  if (!rest.empty() && rest.front() == '{') return rest;
  const size_t in = rest.find(" in ");
  if (in != std::string::npos) return base + rest.substr(in);
  return base;
}
}  // namespace

std::string HelpFormatter::make_option_opts(const CLI::Option* opt) const {
  std::string out;
  if (!opt->get_option_text().empty()) return " " + opt->get_option_text();
  if (opt->get_type_size() != 0) {
    const std::string type = clean_type(opt->get_type_name());
    if (!type.empty()) out += " " + type;
    if (!opt->get_default_str().empty()) out += "=" + opt->get_default_str();
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
  }
  if (opt->get_required()) out += " REQUIRED";
  std::string excludes;
  for (const CLI::Option* other : opt->get_excludes())
    if (!other->get_group().empty()) excludes += " " + other->get_name();
  if (!excludes.empty()) out += " (not with" + excludes + ")";
  std::string needs;
  for (const CLI::Option* other : opt->get_needs())
    if (!other->get_group().empty()) needs += " " + other->get_name();
  if (!needs.empty()) out += " (needs" + needs + ")";
  return out;
}

int run_main(const std::string& program, const std::string& description, int argc, char** argv) {
  CLI::App app{description, program};
  app.formatter(std::make_shared<HelpFormatter>());
  app.set_version_flag("--version", std::string(program) + " " + LP_VERSION);
  app.require_subcommand(0, 1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("error: ") + e.what() + " (see --help)\n";
  });
  std::vector<std::pair<CLI::App*, std::function<int()>>> actions;
  for (auto& cmd : command_registry()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.help);
    std::function<int()> action = cmd.setup(*sub);
    if (cmd.hidden || !cmd.deprecated_for.empty()) sub->group("");
    if (!cmd.deprecated_for.empty()) {
      action = [action, name = cmd.name, replacement = cmd.deprecated_for] {
        note("'" + name + "' is deprecated; use '" + replacement + "'");
        return action();
      };
    }
    actions.emplace_back(sub, std::move(action));
  }
  std::vector<std::string> forward(argv + 1, argv + argc);
  forward = rewrite_llamacpp_args(forward);
  std::vector<std::string> reversed(forward.rbegin(), forward.rend());  // CLI11 takes the arguments reversed
  try {
    app.parse(reversed);
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
