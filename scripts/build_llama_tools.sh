#!/usr/bin/env bash
# Builds llama.cpp's own command-line tools from the sources node-llama-cpp ships as a git bundle
# (tests/oracles/node_modules/node-llama-cpp/llama/gitRelease.bundle, llama.cpp release v0.4.0 as node-llama-cpp tags
# it). Offline: the bundle and the prebuilt libraries are part of the npm packages.
#
# usage: scripts/build_llama_tools.sh [--native] BUILD_DIR [TARGET ...]
#
# Default (what the oracle tests use; no TARGET = llama-perplexity llama-quantize llama-imatrix): the tools whose
# sources are a file or two on top of libllama-common (llama-perplexity, llama-quantize, llama-imatrix,
# llama-tokenize, llama-bench) are compiled from the bundle's tools/ folder and linked against node-llama-cpp's
# prebuilt libllama, libllama-common and libggml (@node-llama-cpp/linux-x64) — the same release and the very
# libraries the node oracle tests load, with ggml's CPU backend variants picked at run time for the CPU. This takes
# seconds where compiling ggml + llama takes ~8 minutes on 2 cores. Binaries land in BUILD_DIR/llama.cpp/bin, next to
# links to those libraries. Any other TARGET (llama-server, ...) is built from the bundled sources there as a
# generic x86-64 build (no -march=native, portable across CI runners).
#
# --native: the whole of llama.cpp from the bundled sources with -DGGML_NATIVE=ON (AVX-512/VNNI where the CPU
# has them), in BUILD_DIR/llama.cpp-native/bin: the CPU speed baseline of docs/PERFORMANCE.md (llama-bench,
# llama-server). Default targets there: llama-bench llama-server.
#   LP_LLAMA_NATIVE=1 in the environment means the same as --native.
#   AMX is left out of the native build (-mno-amx-*) unless LP_LLAMA_AMX=1: on the Sapphire Rapids VM of this
#   project ggml's AMX matmul (ggml_backend_amx_mul_mat) crashed llama-bench and llama-server with SIGSEGV on the
#   first Q4_K_M/Q8_0 matmul, and where it runs it rounds activations with FP16 block scales (docs/TESTING.md,
#   "AMX"). The AVX-512 VNNI path is what the baseline then measures.
#   llama-server among the targets turns on llama.cpp's LLAMA_BUILD_SERVER.
set -euo pipefail
cd "$(dirname "$0")/.."
native=0
[ "${LP_LLAMA_NATIVE:-0}" = 1 ] && native=1
if [ "${1:-}" = --native ]; then native=1; shift; fi
build="${1:?usage: scripts/build_llama_tools.sh [--native] BUILD_DIR [TARGET ...]}"
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  if [ $native = 1 ]; then targets=(llama-bench llama-server); else targets=(llama-perplexity llama-quantize llama-imatrix); fi
fi
modules=tests/oracles/node_modules
bundle=$modules/node-llama-cpp/llama/gitRelease.bundle
prebuilt=$modules/@node-llama-cpp/linux-x64/bins/linux-x64
[ -f "$bundle" ] || { echo "error: $bundle missing (run scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$build"
src="$build/llama.cpp-src"
if [ ! -d "$src/.git" ]; then
  rm -rf "$src"
  git -c advice.detachedHead=false clone -q "$bundle" "$src"
fi

# cmake_build OUT NATIVE TARGET...: a source build of llama.cpp (static libraries) for the given targets.
cmake_build() {
  local out=$1 native_flag=$2 server=OFF t
  shift 2
  for t in "$@"; do [ "$t" = llama-server ] && server=ON; done
  local cflags=""
  if [ "$native_flag" = ON ] && [ "${LP_LLAMA_AMX:-0}" != 1 ]; then cflags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"; fi
  cmake -S "$src" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE="$native_flag" -DLLAMA_CURL=OFF \
    -DCMAKE_C_FLAGS="$cflags" -DCMAKE_CXX_FLAGS="$cflags" \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=$server -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$out" -j "$(nproc)" --target "$@"
}

if [ $native = 1 ]; then
  out="$build/llama.cpp-native"
  cmake_build "$out" ON "${targets[@]}"
  echo "native llama.cpp tools in $out/bin: ${targets[*]}"
  exit 0
fi

out="$build/llama.cpp"
bin="$out/bin"
mkdir -p "$bin"
declare -A sources=(
  [llama-perplexity]="tools/perplexity/main.cpp tools/perplexity/perplexity.cpp"
  [llama-quantize]="tools/quantize/main.cpp tools/quantize/quantize.cpp"
  [llama-imatrix]="tools/imatrix/imatrix.cpp"
  [llama-tokenize]="tools/tokenize/tokenize.cpp"
  [llama-bench]="tools/llama-bench/main.cpp tools/llama-bench/llama-bench.cpp")
from_source=()
linked=0
for t in "${targets[@]}"; do
  if [ -z "${sources[$t]:-}" ]; then from_source+=("$t"); continue; fi
  [ -x "$bin/$t" ] && [ "$bin/$t" -nt "$src/.git/HEAD" ] && continue
  [ -d "$prebuilt" ] || { echo "error: $prebuilt missing (run scripts/setup.sh)" >&2; exit 1; }
  if [ $linked = 0 ]; then
    # The binaries find the libraries (and ggml finds its CPU backend variants) next to themselves.
    for lib in "$prebuilt"/*.so; do ln -sf "$(realpath "$lib")" "$bin/$(basename "$lib")"; done
    linked=1
  fi
  files=()
  for f in ${sources[$t]}; do files+=("$src/$f"); done
  echo "build_llama_tools: $t (linked against node-llama-cpp's prebuilt libllama)"
  # shellcheck disable=SC2046
  c++ -std=c++17 -O2 -w -I"$src/include" -I"$src/ggml/include" -I"$src/common" -I"$src/vendor" \
    -I"$(dirname "${files[0]}")" "${files[@]}" -o "$bin/$t.tmp" -L"$bin" \
    -l:libllama-common.so -l:"$(basename "$prebuilt"/libllama.v*.so)" -l:"$(basename "$prebuilt"/libggml.v*.so)" -l:libggml-base.so \
    -Wl,-rpath,'$ORIGIN' -pthread
  mv "$bin/$t.tmp" "$bin/$t"
done
if [ ${#from_source[@]} -gt 0 ]; then
  cmake_build "$out" OFF "${from_source[@]}"
fi
echo "llama.cpp tools in $bin: ${targets[*]}"
