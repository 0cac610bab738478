#include "core/atomic_file.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/error.h"

namespace fs = std::filesystem;

namespace lp {

namespace {

// Paths to remove if the process is interrupted: live staging dirs and uncommitted temporary files.
std::mutex& temporaries_mu() {
  static std::mutex mu;
  return mu;
}
std::set<fs::path>& temporaries() {
  static std::set<fs::path> paths;
  return paths;
}
void track(const fs::path& p) {
  std::lock_guard lk(temporaries_mu());
  temporaries().insert(p);
}
void untrack(const fs::path& p) {
  std::lock_guard lk(temporaries_mu());
  temporaries().erase(p);
}

}  // namespace

void remove_temporaries_on_signals() {
  static std::once_flag once;
  std::call_once(once, [] {
    static sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread([] {
      int sig = 0;
      sigwait(&signals, &sig);
      {
        std::lock_guard lk(temporaries_mu());  // held until exit: nothing new gets staged meanwhile
        std::error_code ec;
        for (const auto& p : temporaries()) fs::remove_all(p, ec);
        std::fprintf(stderr, "\ninterrupted: removed %zu temporary output(s)\n", temporaries().size());
        std::fflush(stderr);
        _exit(128 + sig);
      }
    }).detach();
  });
}

static std::string random_suffix() {
  std::random_device rd;
  return fmt::format("{}.{:08x}", ::getpid(), rd());
}

AtomicFile::AtomicFile(fs::path final_path) : final_(std::move(final_path)) {
  temp_ = final_;
  temp_ += ".tmp." + random_suffix();
  track(temp_);
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) {
    untrack(temp_);
    fail("{}: cannot write: {}", final_.string(), std::strerror(errno));
  }
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
  untrack(temp_);
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
  untrack(temp_);
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
  track(temp_);
  fs::create_directories(temp_, ec);
  if (ec) {
    untrack(temp_);
    fail("{}: output directory is not writable: {}", parent.string(), ec.message());
  }
}

StagingDir::~StagingDir() {
  std::error_code ec;
  if (!committed_) fs::remove_all(temp_, ec);
  untrack(temp_);
}

// Fills `to` (the new output) with the entries of `from` (the old output) it lacks: hard links, copies where a
// link fails. Same-named entries stay the new ones; folders present in both are filled recursively.
static void fill_from_old(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(from)) {
    const fs::path target = to / entry.path().filename();
    if (entry.is_directory() && !entry.is_symlink()) {
      if (fs::is_directory(target)) {
        fill_from_old(entry.path(), target);
      } else if (!fs::exists(fs::symlink_status(target))) {
        fs::copy(entry.path(), target, fs::copy_options::recursive | fs::copy_options::create_hard_links, ec);
        if (ec) fs::copy(entry.path(), target, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
        if (ec) fail("{}: cannot carry over into the new output: {}", entry.path().string(), ec.message());
      }
      continue;
    }
    if (fs::exists(fs::symlink_status(target))) continue;
    if (entry.is_symlink()) {
      fs::copy_symlink(entry.path(), target, ec);
    } else {
      fs::create_hard_link(entry.path(), target, ec);
      if (ec) fs::copy_file(entry.path(), target, ec);
    }
    if (ec) fail("{}: cannot carry over into the new output: {}", entry.path().string(), ec.message());
  }
}

// Swaps two paths in one step (Linux renameat2 RENAME_EXCHANGE). False where the file system lacks it.
static bool exchange(const fs::path& a, const fs::path& b) {
#ifdef RENAME_EXCHANGE
  return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
#else
  (void)a;
  (void)b;
  errno = ENOSYS;
  return false;
#endif
}

void StagingDir::commit() {
  std::error_code ec;
  if (!fs::exists(final_)) {
    fs::rename(temp_, final_, ec);
    if (ec) fail("{}: cannot move the new output into place: {}", final_.string(), ec.message());
    committed_ = true;
    untrack(temp_);
    return;
  }
  if (!fs::is_directory(final_)) fail("{}: exists and is not a folder", final_.string());
  fill_from_old(final_, temp_);
  commit_replace();
}

void StagingDir::commit_replace() {
  std::error_code ec;
  if (!fs::exists(final_)) {
    commit();
    return;
  }
  if (exchange(temp_, final_)) {  // temp_ now holds the old output
    committed_ = true;
    fs::remove_all(temp_, ec);
    untrack(temp_);
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
  untrack(temp_);
  fs::remove_all(old, ec);
}

bool is_non_empty_output(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return false;
  if (!fs::is_directory(dir, ec)) return true;
  return fs::directory_iterator(dir, ec) != fs::directory_iterator();
}

}  // namespace lp
