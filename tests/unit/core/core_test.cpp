#include <gtest/gtest.h>

#include <cmath>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/ggml_type.h"
#include "core/units.h"
#include "scratch_path.h"

namespace fs = std::filesystem;

TEST(Fp16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = lp::f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(lp::f32_to_f16(f), h) << h;
  }
}

TEST(Fp16, RoundsToNearestEven) {
  EXPECT_EQ(lp::f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even
  EXPECT_EQ(lp::f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
  EXPECT_EQ(lp::f32_to_f16(65520.0f), 0x7c00);           // overflow
  EXPECT_EQ(lp::f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
}

TEST(Bf16, RoundTripAndRounding) {
  EXPECT_EQ(lp::f32_to_bf16(1.0f), 0x3f80);
  EXPECT_FLOAT_EQ(lp::bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(lp::f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(lp::f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);
}

TEST(Fp8, E4M3KnownValues) {
  EXPECT_FLOAT_EQ(lp::fp8_e4m3_to_f32(0x38), 1.0f);
  EXPECT_FLOAT_EQ(lp::fp8_e4m3_to_f32(0x7e), 448.0f);
  EXPECT_FLOAT_EQ(lp::fp8_e4m3_to_f32(0xb8), -1.0f);
  EXPECT_TRUE(std::isnan(lp::fp8_e4m3_to_f32(0x7f)));
}

TEST(GgmlType, TraitsMatchGgml) {
  EXPECT_EQ(lp::ggml_traits(lp::GgmlType::Q4_K).type_size, 144u);
  EXPECT_EQ(lp::ggml_traits(lp::GgmlType::Q6_K).type_size, 210u);
  EXPECT_EQ(lp::ggml_row_bytes(lp::GgmlType::Q8_0, 64), 68u);
  EXPECT_EQ(lp::ggml_type_from_name("Q4_k"), lp::GgmlType::Q4_K);
  EXPECT_FALSE(lp::ggml_type_from_name("q4_k_m").has_value());
  EXPECT_EQ(lp::ggml_type_traits(5), nullptr);
}

TEST(Units, ParseAndFormat) {
  EXPECT_EQ(lp::parse_size("4.7GB"), 4700000000ull);
  EXPECT_EQ(lp::parse_size("512MiB"), 512ull << 20);
  EXPECT_EQ(lp::parse_size("1000"), 1000ull);
  EXPECT_THROW(lp::parse_size("lots"), lp::Error);
  EXPECT_THROW(lp::parse_size("3 parsecs"), lp::Error);
  EXPECT_EQ(lp::format_count(8190735360ull), "8.2B");
  EXPECT_EQ(lp::format_count(4200000), "4.2M");
}

TEST(AtomicFile, UncommittedLeavesNothing) {
  fs::path dir = lp::test::scratch_path("lp_atomic_test");
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    lp::AtomicFile f(dir / "out.bin");
    f.write("hello");
  }
  EXPECT_TRUE(fs::is_empty(dir));
  {
    lp::AtomicFile f(dir / "out.bin");
    f.write("hello");
    f.pad_to(32);
    EXPECT_EQ(f.offset(), 32u);
    f.commit();
  }
  EXPECT_EQ(fs::file_size(dir / "out.bin"), 32u);
  EXPECT_THROW(lp::AtomicFile(dir / "missing" / "x.bin"), lp::Error);
  fs::remove_all(dir);
}

TEST(StagingDir, CommitMovesAndAbortRemoves) {
  fs::path base = lp::test::scratch_path("lp_staging_test");
  fs::remove_all(base);
  {
    lp::StagingDir s(base / "out");
    lp::write_file_atomic(s.path() / "a.txt", "x");
  }
  EXPECT_FALSE(fs::exists(base / "out"));
  EXPECT_TRUE(fs::is_empty(base));
  {
    lp::StagingDir s(base / "out");
    lp::write_file_atomic(s.path() / "a.txt", "x");
    s.commit();
  }
  EXPECT_TRUE(fs::exists(base / "out" / "a.txt"));
  fs::remove_all(base);
}

// Committing over an existing output keeps its other files and swaps the folder in one rename: the folder's
// inode changes (a new directory took its place) instead of files moving in one by one.
TEST(StagingDir, CommitOverAnExistingOutputIsOneSwap) {
  fs::path base = lp::test::scratch_path("lp_staging_swap_test");
  fs::remove_all(base);
  fs::create_directories(base / "out" / "sub");
  lp::write_file_atomic(base / "out" / "old.txt", "old");
  lp::write_file_atomic(base / "out" / "a.txt", "old a");
  lp::write_file_atomic(base / "out" / "sub" / "keep.txt", "k");
  const auto inode = [](const fs::path& p) {
    struct stat st{};
    ::stat(p.c_str(), &st);
    return st.st_ino;
  };
  const auto before = inode(base / "out");
  {
    lp::StagingDir s(base / "out");
    lp::write_file_atomic(s.path() / "a.txt", "new a");
    fs::create_directories(s.path() / "sub");
    lp::write_file_atomic(s.path() / "sub" / "new.txt", "n");
    s.commit();
  }
  EXPECT_NE(inode(base / "out"), before);
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(base / "out" / "a.txt"), "new a");
  EXPECT_EQ(read(base / "out" / "old.txt"), "old");
  EXPECT_EQ(read(base / "out" / "sub" / "keep.txt"), "k");
  EXPECT_EQ(read(base / "out" / "sub" / "new.txt"), "n");
  {
    lp::StagingDir s(base / "out");
    lp::write_file_atomic(s.path() / "only.txt", "1");
    s.commit_replace();
  }
  EXPECT_FALSE(fs::exists(base / "out" / "old.txt"));
  EXPECT_TRUE(fs::exists(base / "out" / "only.txt"));
  for (const auto& e : fs::directory_iterator(base)) EXPECT_EQ(e.path().filename(), "out") << e.path();
  fs::remove_all(base);
}

// SIGTERM in the middle of staging (a child process standing in for `convert`): the staging folder and the
// temporary file are removed and the process exits 128 + SIGTERM.
TEST(StagingDir, SignalRemovesTemporaries) {
  fs::path base = lp::test::scratch_path("lp_staging_signal_test");
  fs::remove_all(base);
  fs::create_directories(base);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    lp::remove_temporaries_on_signals();
    lp::StagingDir s(base / "out");
    lp::AtomicFile f(s.path() / "big.bin");
    f.write("partial");
    lp::AtomicFile g(base / "side.bin");
    g.write("partial");
    kill(getpid(), SIGTERM);
    std::this_thread::sleep_for(std::chrono::seconds(20));
    _exit(0);  // the watcher should have exited first
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
  EXPECT_TRUE(fs::is_empty(base)) << "left: " << fs::directory_iterator(base)->path();
  fs::remove_all(base);
}
