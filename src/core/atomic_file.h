// Crash-safe output: everything is written under a temporary name in the destination directory and
// renamed into place on commit(). Destroying an uncommitted writer removes the temporary, so a failed
// run never leaves a half-written file behind.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace lp {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path final_path);  // throws lp::Error if not writable
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void pad_to(uint64_t alignment);  // zero-pad the stream to a multiple of alignment
  uint64_t offset() const { return offset_; }
  void commit();  // flush, fsync, rename into place

  const std::filesystem::path& path() const { return final_; }

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  std::FILE* file_ = nullptr;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

// Convenience: write a whole text file atomically.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// A directory that is built under a temporary sibling name and put in place by one rename on commit(): into an
// absent destination directly; over an existing one, the entries of the old folder that the new one lacks are
// hard-linked (copied where links fail) into the staging dir first, then the two are exchanged atomically
// (renameat2 RENAME_EXCHANGE) and the old one removed. Removed on destruction unless committed.
class StagingDir {
 public:
  explicit StagingDir(std::filesystem::path final_dir);
  ~StagingDir();
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

  const std::filesystem::path& path() const { return temp_; }  // write here
  const std::filesystem::path& final_path() const { return final_; }
  // final_dir becomes the staging dir's entries plus the old final_dir's other entries (same-named ones replaced).
  void commit();
  // Replaces final_dir as a whole: one atomic exchange, then the old folder is removed. Nothing of the old
  // content survives. (Without RENAME_EXCHANGE: the old folder is renamed aside first and put back on failure.)
  void commit_replace();

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

// Ctrl-C and SIGTERM: from now on they remove every live staging folder and uncommitted temporary file
// (StagingDir, AtomicFile) and exit with 128 + the signal. Blocks both signals in the calling thread (call it
// before other threads start, so they inherit the mask) and takes them in a watcher thread. Idempotent.
void remove_temporaries_on_signals();

// True when `dir` exists and holds anything (a regular file at `dir` also counts: it is not an empty folder).
bool is_non_empty_output(const std::filesystem::path& dir);

}  // namespace lp
