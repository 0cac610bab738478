#include "cli_helpers.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace lp::testcli {

fs::path binary(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const fs::path& candidate : {self.parent_path().parent_path() / "apps" / name, self.parent_path() / "apps" / name})
    if (fs::exists(candidate, ec)) return candidate;
  return {};
}

namespace {
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
}  // namespace

RunResult run(const fs::path& bin, const std::vector<std::string>& args, const std::string& input) {
  ScratchDir io("lp-cli-io-");
  std::string cmd = shell_quote(bin.string());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  std::string in = "/dev/null";
  if (!input.empty()) {
    write_file(io / "in", input);
    in = (io / "in").string();
  }
  cmd += " >" + shell_quote((io / "out").string()) + " 2>" + shell_quote((io / "err").string()) + " <" + shell_quote(in);
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = read_file(io / "out");
  r.err = read_file(io / "err");
  return r;
}

ScratchDir::ScratchDir(const std::string& prefix) {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = fs::temp_directory_path() / (prefix + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a scratch directory");
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

SafetensorsParts SafetensorsParts::load(const fs::path& p) {
  const std::string all = read_file(p);
  if (all.size() < 8) throw std::runtime_error(p.string() + ": too short");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(all[static_cast<size_t>(i)]);
  SafetensorsParts parts;
  parts.header = nlohmann::json::parse(all.substr(8, n));
  parts.data = all.substr(8 + n);
  return parts;
}

void SafetensorsParts::save(const fs::path& p) const {
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h += ' ';  // keep the data buffer 8-byte aligned like the reference writer
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  write_file(p, out + h + data);
}

std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string expect_clean_convert_failure(const fs::path& quant, const fs::path& model, const fs::path& work) {
  const fs::path out = work / "out";
  const RunResult r = run(quant, {"convert", model.string(), "-o", out.string(), "--formats", "gguf", "--precision", "q4_k_m", "-q"});
  EXPECT_EQ(r.exit_code, 1) << "stdout: " << r.out << "\nstderr: " << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not a single line: " << r.err;
  EXPECT_FALSE(fs::exists(out)) << out;
  EXPECT_EQ(list_dir(work), std::vector<std::string>{model.filename().string()}) << "stray files next to the output";
  return r.err;
}

}  // namespace lp::testcli
