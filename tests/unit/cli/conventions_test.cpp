// The command-line conventions of docs/CLI.md, checked over every command of both tools from their --help:
// each short flag has one meaning everywhere (table below), --help exits 0 without CLI11 artefacts, a command
// run without its required arguments fails with one "error: ..." line, and what it reports as required is
// marked REQUIRED in its --help.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "cli_helpers.h"
#include "peer_skip.h"

namespace lp::testcli {
namespace {

// Short flag -> the long name it must carry (its meaning). A short flag missing here fails the test: add it to
// docs/CLI.md and to this table, with one meaning for both tools.
const std::map<std::string, std::string> kShortFlags = {
    {"-h", "--help"},    {"-m", "--model"},  {"-c", "--ctx"},     {"-p", "--prompt"},  {"-n", "--n-predict"},
    {"-t", "--threads"}, {"-f", "--file"},   {"-o", "--output"},  {"-q", "--quiet"},   {"-b", "--batch"},
    {"-s", "--seed"},    {"-v", "--verbose"}, {"-r", "--repetitions"},
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Subcommand names listed under "Subcommands:" (hidden ones are not listed, which is the point).
std::vector<std::string> subcommands(const std::string& help) {
  std::vector<std::string> names;
  bool in = false;
  for (const auto& line : lines_of(help)) {
    if (line.find("Subcommands:") != std::string::npos) {
      in = true;
      continue;
    }
    if (!in) continue;
    static const std::regex item(R"(^  ([a-z][a-z0-9-]*)\s)");
    std::smatch m;
    if (std::regex_search(line, m, item)) names.push_back(m[1]);
  }
  return names;
}

struct OptionLine {
  std::vector<std::string> names;  // "-c", "--ctx", "--ctx-size"
  std::string line;
};

std::vector<OptionLine> options(const std::string& help) {
  std::vector<OptionLine> out;
  static const std::regex opt(R"(^  (-[^ ]+))");
  for (const auto& line : lines_of(help)) {
    std::smatch m;
    if (!std::regex_search(line, m, opt)) continue;
    OptionLine o;
    o.line = line;
    std::string names = m[1];
    for (size_t start = 0; start <= names.size();) {
      const size_t comma = std::min(names.find(',', start), names.size());
      o.names.push_back(names.substr(start, comma - start));
      start = comma + 1;
    }
    out.push_back(o);
  }
  return out;
}

struct Tool {
  std::string name;
  fs::path bin;
};

std::vector<Tool> tools() {
  return {{"llama-pajamas-quant", binary("llama-pajamas-quant")}, {"llama-pajamas-run", binary("llama-pajamas-run")}};
}

TEST(Conventions, EveryCommandsHelp) {
  size_t commands = 0;
  for (const auto& tool : tools()) {
    if (tool.bin.empty()) LP_SKIP_OR_FAIL(tool.name << " not built next to this test");
    const RunResult top = run(tool.bin, {"--help"});
    ASSERT_EQ(top.exit_code, 0) << top.err;
    const auto subs = subcommands(top.out);
    ASSERT_GE(subs.size(), 3u) << top.out;
    for (const auto& sub : subs) {
      SCOPED_TRACE(tool.name + " " + sub);
      ++commands;
      const RunResult h = run(tool.bin, {sub, "--help"});
      EXPECT_EQ(h.exit_code, 0) << h.err;
      EXPECT_TRUE(h.err.empty()) << h.err;
      for (const char* artefact : {"Excludes:", "{false}", "{true}", ":FILE", ":DIR", "TEXT:", "Needs:"})
        EXPECT_EQ(h.out.find(artefact), std::string::npos) << "artefact '" << artefact << "' in:\n" << h.out;
      for (const auto& o : options(h.out)) {
        for (const auto& n : o.names) {
          if (n.size() != 2) continue;  // long names
          const auto want = kShortFlags.find(n);
          ASSERT_NE(want, kShortFlags.end()) << n << " is not in the conventions table (docs/CLI.md): " << o.line;
          EXPECT_NE(std::find(o.names.begin(), o.names.end(), want->second), o.names.end())
              << n << " must mean " << want->second << ": " << o.line;
        }
      }
      // Without arguments: either it runs (nothing required) or one "error: " line; what CLI11 reports as
      // required must be marked in --help.
      const RunResult bare = run(tool.bin, {sub});
      if (bare.exit_code != 0) {
        EXPECT_EQ(bare.err.rfind("error: ", 0), 0u) << bare.err;
        EXPECT_EQ(std::count(bare.err.begin(), bare.err.end(), '\n'), 1) << bare.err;
        static const std::regex required(R"(^error: (-?-?[A-Za-z][A-Za-z0-9_-]*) is required)");
        std::smatch m;
        if (std::regex_search(bare.err, m, required)) {
          const std::string name = m[1];
          bool marked = false;
          for (const auto& line : lines_of(h.out))
            if (line.find(name) != std::string::npos && line.find("REQUIRED") != std::string::npos) marked = true;
          EXPECT_TRUE(marked) << name << " is required but not marked REQUIRED:\n" << h.out;
        }
      }
    }
  }
  EXPECT_GE(commands, 15u);
}

// Parse errors (CLI11) and run-time errors (lp::Error) share the one-line "error: " style.
TEST(Conventions, ErrorsHaveOnePrefix) {
  for (const auto& tool : tools()) {
    if (tool.bin.empty()) LP_SKIP_OR_FAIL(tool.name << " not built next to this test");
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--no-such-flag"}, std::vector<std::string>{"no-such-command"}}) {
      const RunResult r = run(tool.bin, args);
      EXPECT_NE(r.exit_code, 0);
      EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << tool.name << ": " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
  }
  const fs::path run_bin = binary("llama-pajamas-run");
  if (run_bin.empty()) LP_SKIP_OR_FAIL("llama-pajamas-run not built next to this test");
  const RunResult bad = run(run_bin, {"generate", "-m", "/nonexistent/model.gguf", "-n", "abc", "-p", "x"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.err.rfind("error: ", 0), 0u) << bad.err;
}

}  // namespace
}  // namespace lp::testcli
