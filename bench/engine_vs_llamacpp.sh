#!/usr/bin/env bash
# Our CPU engine vs llama.cpp (node-llama-cpp's prebuilt CPU library) on the same GGUFs, same machine,
# same run: pp512 prefill and tg128 decode tok/s, the ratio, and our decode as a share of measured
# memory read bandwidth.
#
# usage: bench/engine_vs_llamacpp.sh [BUILD_DIR] [THREADS]
# Models: a Qwen3-0.6B-shaped checkpoint from `llama-pajamas-quant make-test-model --preset qwen3-0.6b`,
# converted to Q8_0 and Q4_K_M; when the quant tool is not built, $LP_BENCH_MODELS (space-separated
# .gguf paths) is used instead.
# Shared / oversubscribed machine: OpenMP threads spin at barriers by default, which collapses
# multi-threaded numbers when cores are busy; export OMP_WAIT_POLICY=passive there (not on a quiet machine).
# LP_KERNELS_NO_TILES=1 runs our engine without the prefill GEMM tiles (A/B).
set -euo pipefail
source "$(dirname "$0")/bench_models.sh"
bench_models Q8_0 Q4_K_M

printf '%-40s %10s %10s %7s | %10s %10s %7s | %8s\n' model "pp ours" "pp l.cpp" ratio "tg ours" "tg l.cpp" ratio "tg/bw"
for m in "${models[@]}"; do
  ours=$("$run" bench --model "$m" --threads "$threads" --bandwidth --json)
  peer=$(node "$src/bench/engine_llamacpp_bench.mjs" "$m" 512 128 "$threads")
  node -e '
    const [name, a, b] = process.argv.slice(1); const o = JSON.parse(a), p = JSON.parse(b);
    const f = (x) => x.toFixed(1);
    console.log(`${name.padEnd(40)} ${f(o.prefill_tokens_per_second).padStart(10)} ${f(p.prefill_tokens_per_second).padStart(10)} ${(o.prefill_tokens_per_second / p.prefill_tokens_per_second).toFixed(2).padStart(7)} | ` +
      `${f(o.decode_tokens_per_second).padStart(10)} ${f(p.decode_tokens_per_second).padStart(10)} ${(o.decode_tokens_per_second / p.decode_tokens_per_second).toFixed(2).padStart(7)} | ` +
      `${(100 * o.decode_bandwidth_share).toFixed(0).padStart(7)}%`);
  ' "$(basename "$m")" "$ours" "$peer"
done
echo "threads=$threads; tg/bw = our decode tok/s x model bytes / measured read bandwidth"
