#include "common/command.h"

#include <cstdio>
#include <exception>
#include <memory>
#include <sstream>
#include <algorithm>

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
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "(did you mean --ctx-size?)" for an unexpected --option close to a visible one of the parsed subcommand.
std::string did_you_mean(const CLI::App* app, const std::string& what) {
  const CLI::App* sub = nullptr;
  for (const CLI::App* s : app->get_subcommands([](const CLI::App* c) { return c->parsed(); })) sub = s;
  if (!sub) return "";
  const size_t colon = what.find(": ");
  if (colon == std::string::npos) return "";
  std::istringstream words(what.substr(colon + 2));
  for (std::string word; words >> word;) {
    if (word.rfind("--", 0) != 0) continue;
    word = word.substr(0, word.find('='));
    std::string best;
    size_t best_d = 3;  // at most 2 edits, or a prefix
    for (const CLI::Option* opt : sub->get_options()) {
      if (opt->get_group().empty()) continue;
      for (const auto& l : opt->get_lnames()) {
        const std::string name = "--" + l;
        const size_t d = name.rfind(word, 0) == 0 ? 1 : edit_distance(word, name);
        if (d < best_d) best_d = d, best = name;
      }
    }
    if (!best.empty()) return " (did you mean " + best + "?)";
  }
  return "";
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
  app.failure_message([](const CLI::App* a, const CLI::Error& e) {
    const std::string hint = dynamic_cast<const CLI::ExtrasError*>(&e) ? did_you_mean(a, e.what()) : "";
    return std::string("error: ") + e.what() + hint + " (see --help)\n";
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
