#!/usr/bin/env bash
# Builds llama.cpp's own command-line tools (by default the ones the oracle tests use: llama-perplexity for
# validate.test.mjs, llama-quantize and llama-imatrix for imatrix_llamacpp.test.mjs) from the sources node-llama-cpp
# ships as a git bundle (tests/oracles/node_modules/node-llama-cpp/llama/gitRelease.bundle), so the
# peer tests compare with llama.cpp's own tools on the exact llama.cpp release whose library the other
# oracle tests load. libllama, ggml and libcommon are shared by all tools, so each extra tool adds one or two
# translation units to the build. Offline: the bundle is part of the npm package.
#
# usage: scripts/build_llama_tools.sh BUILD_DIR [TARGET ...]    (binaries land in BUILD_DIR/llama.cpp/bin)
#   llama-server among the targets turns on llama.cpp's LLAMA_BUILD_SERVER.
#   LP_LLAMA_NATIVE=1: -march=native (GGML_NATIVE=ON) into BUILD_DIR/llama.cpp-native/bin, for speed comparisons
#   (bench/serve_load.sh); the default generic build is for the peer tests, which compare numbers, not speed.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:?usage: scripts/build_llama_tools.sh BUILD_DIR [TARGET ...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(llama-perplexity llama-quantize llama-imatrix)
bundle=tests/oracles/node_modules/node-llama-cpp/llama/gitRelease.bundle
[ -f "$bundle" ] || { echo "error: $bundle missing (run scripts/setup.sh)" >&2; exit 1; }
src="$build/llama.cpp-src"
native="${LP_LLAMA_NATIVE:-0}"
out="$build/llama.cpp"
[ "$native" = 1 ] && out="$build/llama.cpp-native"
server=OFF
for t in "${targets[@]}"; do [ "$t" = llama-server ] && server=ON; done
if [ ! -d "$src/.git" ]; then
  rm -rf "$src"
  git clone -q "$bundle" "$src"
fi
have_all=1
for t in "${targets[@]}"; do [ -x "$out/bin/$t" ] || have_all=0; done
if [ $have_all = 1 ]; then echo "llama.cpp tools up to date in $out/bin"; exit 0; fi
# Generic x86-64 build (no -march=native) keeps the binary portable across CI runners; the tests
# compare numbers, not speed.
ggml_native=OFF
[ "$native" = 1 ] && ggml_native=ON
cmake -S "$src" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=$ggml_native -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=$server -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build "$out" -j "$(nproc)" --target "${targets[@]}"
