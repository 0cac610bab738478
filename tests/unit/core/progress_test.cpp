// Progress: the ETA arithmetic, and plain lines (not a redrawn bar) when stderr is not a terminal, as in ctest.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "core/progress.h"
#include "core/threads.h"

namespace lp {
namespace {

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(3.3), "3.3s");
  EXPECT_EQ(Progress::format_duration(42), "42s");
  EXPECT_EQ(Progress::format_duration(185), "3m05s");
  EXPECT_EQ(Progress::format_duration(3720), "1h02m");
  EXPECT_EQ(Progress::format_duration(-1), "?");
}

TEST(Progress, EtaFromTheRateSoFar) {
  EXPECT_EQ(Progress::eta(10.0, 0, 100), "ETA ?");
  EXPECT_EQ(Progress::eta(10.0, 25, 100), "ETA 30s");  // 25 % in 10 s -> 30 s to go
  EXPECT_EQ(Progress::eta(60.0, 50, 100), "ETA 1m00s");
  EXPECT_EQ(Progress::eta(10.0, 100, 100), "ETA 0s");
}

TEST(Progress, PlainLinesWhenNotATerminal) {
  if (::isatty(STDERR_FILENO)) GTEST_SKIP() << "stderr is a terminal";
  testing::internal::CaptureStderr();
  {
    Progress p("work", 4, true, std::chrono::milliseconds(0));
    p.advance();
    p.advance(1, "half");
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.find('\r'), std::string::npos) << "no bar redraws in a log";
  EXPECT_EQ(err.find("\033["), std::string::npos);
  EXPECT_NE(err.find("work: 25% (1/4)"), std::string::npos) << err;
  EXPECT_NE(err.find("work: 50% (2/4)"), std::string::npos) << err;
  EXPECT_NE(err.find("ETA"), std::string::npos) << err;
  EXPECT_NE(err.find("half"), std::string::npos) << err;
  EXPECT_NE(err.find("work: done (2/4)"), std::string::npos) << err;
}

TEST(Progress, QuietAndQuickJobsPrintNothing) {
  testing::internal::CaptureStderr();
  {
    Progress off("off", 4, false, std::chrono::milliseconds(0));
    off.advance(4);
    Progress quick("quick", 4);  // default 5 s between lines: a quick job stays silent in logs
    quick.advance(4);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  if (!::isatty(STDERR_FILENO)) {
    EXPECT_EQ(err, "");
  }
}

TEST(Threads, OneDefault) {
  EXPECT_GE(physical_cores(), 1);
  EXPECT_EQ(thread_count(0), physical_cores());
  EXPECT_EQ(thread_count(-3), physical_cores());
  EXPECT_EQ(thread_count(7), 7);
}

}  // namespace
}  // namespace lp
