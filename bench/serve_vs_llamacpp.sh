#!/usr/bin/env bash
# Our server vs llama-server on the same GGUF, same machine, same run: bench/serve_load.mjs at C = 1, 4, 8
# concurrent streaming clients (aggregate generated tok/s, TTFT and inter-token latency p50/p99, errors, busy
# slots after the run).
#
# usage: bench/serve_vs_llamacpp.sh [BUILD_DIR] [THREADS] [PARALLEL]
# Models: as bench/engine_vs_llamacpp.sh (a Qwen3-0.6B-shaped checkpoint converted to Q4_K_M and Q8_0), or
# $LP_BENCH_MODELS. llama-server: $LLAMA_SERVER, else BUILD_DIR/llama.cpp-native/bin/llama-server
# (scripts/build_llama_tools.sh --native BUILD_DIR llama-server). Loopback ports 18431/18432.
# LP_SERVE_CLIENTS="1 4 8", LP_SERVE_REQUESTS_PER_CLIENT=4, LP_SERVE_MAX_TOKENS=64 change the load.
set -euo pipefail
source "$(dirname "$0")/bench_models.sh"
parallel="${3:-8}"
peer="${LLAMA_SERVER:-$build/llama.cpp-native/bin/llama-server}"
clients_list="${LP_SERVE_CLIENTS:-1 4 8}"
per_client="${LP_SERVE_REQUESTS_PER_CLIENT:-4}"
max_tokens="${LP_SERVE_MAX_TOKENS:-64}"
ctx=1024
source "$src/scripts/env.sh"
[[ -x "$peer" ]] || { echo "error: $peer missing (scripts/build_llama_tools.sh --native $build llama-server)" >&2; exit 1; }
bench_models Q4_K_M Q8_0

pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap cleanup EXIT
wait_up() {
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "error: server on port $1 did not come up" >&2; return 1
}
load() {  # port clients
  node "$src/bench/serve_load.mjs" --url "http://127.0.0.1:$1" --clients "$2" --requests $(($2 * per_client)) \
    --max-tokens "$max_tokens" --duration 600 --json || true
}

echo "# threads=$threads parallel=$parallel max_tokens=$max_tokens requests/client=$per_client ($(date -u +%FT%TZ))"
for m in "${models[@]}"; do
  for side in ours llama-server; do
    if [[ $side == ours ]]; then
      "$run" serve --model "$m" --port 18431 --ctx "$ctx" --parallel "$parallel" --threads "$threads" --temperature 0 2>/dev/null &
      pid=$!; port=18431
    else
      # --ctx total across slots in llama-server: give every slot the same ctx as ours.
      "$peer" -m "$m" --port 18432 -c $((ctx * parallel)) -np "$parallel" -t "$threads" --no-webui -lv 0 >/dev/null 2>&1 &
      pid=$!; port=18432
    fi
    wait_up "$port"
    load "$port" 1 >/dev/null  # warm-up
    for c in $clients_list; do
      printf '%s\t%s\tC=%s\t%s\n' "$(basename "$m")" "$side" "$c" "$(load "$port" "$c")"
    done
    cleanup
  done
done
