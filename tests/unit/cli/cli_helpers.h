// Helpers for tests that run the built executables: locating them next to the test binary, running a
// command line with stdout/stderr captured, scratch directories, and safetensors header surgery.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lp::testcli {

namespace fs = std::filesystem;

// <build>/apps/<name>, found from /proc/self/exe (<build>/tests/test_cli); empty path when absent.
fs::path binary(const std::string& name);

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `bin args...` (arguments are shell-quoted), capturing stdout and stderr; stdin is `input` (empty: /dev/null).
RunResult run(const fs::path& bin, const std::vector<std::string>& args, const std::string& input = {});

// A fresh directory under the system temp dir, removed (recursively) by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "lp-cli-test-");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p);
void write_file(const fs::path& p, const std::string& bytes);

// A safetensors file split into its JSON header and data buffer, so tests can edit and rewrite it.
struct SafetensorsParts {
  nlohmann::json header;
  std::string data;
  static SafetensorsParts load(const fs::path& p);
  void save(const fs::path& p) const;  // header re-serialised; offsets are written as they are in `header`
};

// Names of every entry in a directory (non-recursive), sorted: to check that nothing stray was left.
std::vector<std::string> list_dir(const fs::path& dir);

// Runs `convert MODEL -o WORK/out --formats gguf --precision q4_k_m -q` and checks the bad-input contract: exit 1, one
// line starting "error: ", no output folder, nothing next to MODEL in WORK (gtest EXPECTs). Returns stderr.
std::string expect_clean_convert_failure(const fs::path& quant, const fs::path& model, const fs::path& work);

}  // namespace lp::testcli
