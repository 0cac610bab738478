#!/usr/bin/env bash
# The test command (README, .ci/run): set-up, release build + every test (unit and real-peer oracle
# tests), then the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
jobs=$(nproc)
# Tests run side by side (ctest -j): OpenMP threads that spin while waiting would starve each other.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

echo "== release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
echo "== llama.cpp's llama-perplexity from node-llama-cpp's bundled sources (peer for validate's KLD)"
scripts/build_llama_tools.sh build/release llama-perplexity
echo "== release tests (unit + oracle)"
ctest --preset release -j "$jobs"

if [ "${LP_SKIP_ASAN:-0}" != 1 ]; then
  echo "== asan-ubsan build"
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan -j "$jobs"
  echo "== asan-ubsan unit tests"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan-ubsan -j "$jobs"
fi
