// Skips that hide a missing peer or fixture. A developer without ../shared/fixtures (or a built tool)
// still runs the rest of the unit tests; CI sets LP_REQUIRE_PEERS=1, and there the same condition is a
// failure with the same reason, so a green CI never rests on a skipped comparison.
//
//   if (!fs::exists(model)) LP_SKIP_OR_FAIL("fixture missing: " << model);
//
// Skips for hardware the machine lacks (e.g. AVX-512 VNNI) are not this: they stay GTEST_SKIP.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace lp::test {
inline bool peers_required() {
  const char* v = std::getenv("LP_REQUIRE_PEERS");
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}
}  // namespace lp::test

#define LP_SKIP_OR_FAIL(message)                                                        \
  do {                                                                                  \
    if (::lp::test::peers_required()) {                                                 \
      GTEST_FAIL() << "LP_REQUIRE_PEERS is set, so this is a failure: " << message;     \
    } else {                                                                            \
      GTEST_SKIP() << message << " (a failure when LP_REQUIRE_PEERS=1)";                \
    }                                                                                   \
  } while (0)
