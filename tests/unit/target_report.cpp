// Linked into the kernel and engine test binaries: says which SIMD target the run exercises, and turns
// a run pinned (LP_KERNELS_TARGET) to a target this CPU lacks into ctest's "skipped" (exit 77), so the
// per-target runs (tests/CMakeLists.txt, `targets.*`) report what ran and what could not.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/dispatch.h"
#include "kernels/matmul.h"

namespace {

class TargetReport : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* want = std::getenv("LP_KERNELS_TARGET");
    if (want != nullptr && want[0] != '\0' && lp::kernels::detail::env_forced_target() == 0) {
      std::printf("SIMD target %s: not available on this CPU and build: skipped\n", want);
      std::fflush(stdout);
      std::_Exit(77);
    }
    std::string all;
    for (const auto& t : lp::kernels::available_targets()) all += (all.empty() ? "" : " ") + t;
    std::printf("SIMD target exercised: %s%s (available: %s)\n", lp::kernels::active_target().c_str(),
                want != nullptr && want[0] != '\0' ? " (pinned by LP_KERNELS_TARGET)" : "", all.c_str());
  }
};

[[maybe_unused]] ::testing::Environment* const kTargetReport = ::testing::AddGlobalTestEnvironment(new TargetReport);

}  // namespace
