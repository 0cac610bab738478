#!/usr/bin/env bash
# The test command (README, .ci/run): set-up, release build + every test (unit tests, the kernel and engine
# tests once per SIMD target, real-peer oracle tests, the Python package's pytest suite), the unit tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer, then each libFuzzer target for a bounded time. After every ctest stage it
# prints what was skipped and why (scripts/test_summary.py).
#
# LP_REQUIRE_PEERS=1 (set by .ci/run) turns every skip caused by a missing peer, fixture or tool into a
# failure; a developer without ../shared/fixtures or the npm peers can leave it unset. LP_SKIP_ASAN=1 and
# LP_SKIP_FUZZ=1 leave out those stages; LP_FUZZ_SECONDS (default 60) bounds each fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
jobs=$(nproc)
# Tests run side by side (ctest -j): OpenMP threads that spin while waiting would starve each other.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export LP_REQUIRE_PEERS=${LP_REQUIRE_PEERS:-0}
# Stage banners carry the elapsed time, so CI's log shows where its minutes go.
stage() { echo "== $* (t+$((SECONDS / 60))m$((SECONDS % 60))s)"; }

stage "LP_REQUIRE_PEERS=$LP_REQUIRE_PEERS; CPU SIMD: $(grep -m1 -o -w -E 'avx512_vnni|avx512vnni' /proc/cpuinfo || true) $(grep -m1 -o -w 'avx512f' /proc/cpuinfo || true) $(grep -m1 -o -w 'avx2' /proc/cpuinfo || true)"

# ctest for one preset, then the skip summary; fails if either fails.
run_ctest() {
  local preset=$1
  shift
  local rc=0
  rm -f "build/$preset/ctest-junit.xml"
  "$@" ctest --preset "$preset" -j "$jobs" --output-junit ctest-junit.xml || rc=$?
  python3 scripts/test_summary.py "build/$preset" || rc=1
  return $rc
}

stage "release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
stage "llama.cpp tools (bundled sources, node-llama-cpp's prebuilt libllama; peers for validate's KLD and the imatrix format)"
scripts/build_llama_tools.sh build/release llama-perplexity llama-quantize llama-imatrix
stage "release tests (unit, per-SIMD-target kernel and engine runs, oracle)"
run_ctest release
stage "Python package (pip install of python/ reusing the release tree, pytest tests/python)"
scripts/test_python.sh

if [ "${LP_SKIP_ASAN:-0}" != 1 ]; then
  stage "asan-ubsan build"
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan -j "$jobs"
  stage "asan-ubsan unit tests"
  # LP_TEST_SEEDS: the randomized tool-call / structured-output tests run 25 seeds here (100 in release).
  run_ctest asan-ubsan env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 LP_TEST_SEEDS=25
fi

if [ "${LP_SKIP_FUZZ:-0}" != 1 ]; then
  stage "fuzz targets (clang, libFuzzer + ASan + UBSan), ${LP_FUZZ_SECONDS:-60} s each"
  scripts/fuzz_smoke.sh
fi
stage "all stages passed"
