#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"

namespace fs = std::filesystem;

namespace lp {

static std::string random_suffix() {
  std::random_device rd;
  return fmt::format("{}.{:08x}", ::getpid(), rd());
}

AtomicFile::AtomicFile(fs::path final_path) : final_(std::move(final_path)) {
  temp_ = final_;
  temp_ += ".tmp." + random_suffix();
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) fail("{}: cannot write: {}", final_.string(), std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicFile::write(const void* data, size_t size) {
  if (size == 0) return;
  if (std::fwrite(data, 1, size, file_) != size) fail("{}: write failed: {}", final_.string(), std::strerror(errno));
  offset_ += size;
}

void AtomicFile::pad_to(uint64_t alignment) {
  static const std::vector<char> zeros(4096, 0);
  uint64_t pad = (alignment - offset_ % alignment) % alignment;
  while (pad > 0) {
    size_t n = std::min<uint64_t>(pad, zeros.size());
    write(zeros.data(), n);
    pad -= n;
  }
}

void AtomicFile::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    fail("{}: flush failed: {}", final_.string(), std::strerror(errno));
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    fail("{}: close failed: {}", final_.string(), std::strerror(errno));
  }
  file_ = nullptr;
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) fail("{}: cannot rename into place: {}", final_.string(), ec.message());
  committed_ = true;
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

StagingDir::StagingDir(fs::path final_dir) : final_(std::move(final_dir)) {
  fs::path parent = final_.parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) fail("{}: cannot create directory: {}", parent.string(), ec.message());
  temp_ = parent / (".lp-staging-" + final_.filename().string() + "-" + random_suffix());
  fs::create_directories(temp_, ec);
  if (ec) fail("{}: output directory is not writable: {}", parent.string(), ec.message());
}

StagingDir::~StagingDir() {
  std::error_code ec;
  if (!committed_) fs::remove_all(temp_, ec);
}

static void merge_into(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) fail("{}: cannot create directory: {}", to.string(), ec.message());
  for (const auto& entry : fs::directory_iterator(from)) {
    fs::path target = to / entry.path().filename();
    if (entry.is_directory() && fs::is_directory(target)) {
      merge_into(entry.path(), target);
      continue;
    }
    if (fs::exists(target)) fs::remove_all(target);
    fs::rename(entry.path(), target, ec);
    if (ec) fail("{}: cannot move into place: {}", target.string(), ec.message());
  }
}

void StagingDir::commit() {
  std::error_code ec;
  if (!fs::exists(final_)) {
    fs::rename(temp_, final_, ec);
    if (!ec) {
      committed_ = true;
      return;
    }
  }
  merge_into(temp_, final_);
  fs::remove_all(temp_, ec);
  committed_ = true;
}

void StagingDir::commit_replace() {
  std::error_code ec;
  if (!fs::exists(final_)) {
    commit();
    return;
  }
  fs::path parent = final_.parent_path();
  if (parent.empty()) parent = ".";
  const fs::path old = parent / (".lp-replaced-" + final_.filename().string() + "-" + random_suffix());
  fs::rename(final_, old, ec);
  if (ec) fail("{}: cannot move the old output aside to replace it: {}", final_.string(), ec.message());
  fs::rename(temp_, final_, ec);
  if (ec) {
    std::error_code back;
    fs::rename(old, final_, back);
    fail("{}: cannot move the new output into place: {}", final_.string(), ec.message());
  }
  committed_ = true;
  fs::remove_all(old, ec);
}

bool is_non_empty_output(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return false;
  if (!fs::is_directory(dir, ec)) return true;
  return fs::directory_iterator(dir, ec) != fs::directory_iterator();
}

}  // namespace lp
