#!/usr/bin/env bash
# Our engine vs llama.cpp on the same i-quant GGUFs (issue #15; docs/PERFORMANCE.md, "The i-quants"): pp512 and
# tg128 tok/s, best of two runs each, one line per engine, in the order run, with the load average.
#
# usage: bench/iquants_vs_llamacpp.sh BUILD_DIR THREADS MODEL.gguf...
# llama.cpp rows: BUILD_DIR/llama.cpp/bin/llama-bench (node-llama-cpp's prebuilt libraries:
# scripts/build_llama_tools.sh BUILD_DIR llama-bench) and BUILD_DIR/llama.cpp-native/bin/llama-bench
# (scripts/build_llama_tools.sh --native BUILD_DIR), each where present.
# Making the models: docs/PERFORMANCE.md (llama-imatrix + llama-quantize on one F32 GGUF).
set -euo pipefail
build="${1:?usage: bench/iquants_vs_llamacpp.sh BUILD_DIR THREADS MODEL.gguf...}"
threads="${2:?threads}"
shift 2
export OMP_WAIT_POLICY=passive  # shared machines: spinning OpenMP barriers collapse multi-threaded numbers
for m in "$@"; do
  echo "== $(basename "$m") threads=$threads $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$build/apps/llama-pajamas-run" bench -m "$m" -t "$threads" --pp 512 -n 128 -r 2 --json 2>/dev/null |
    python3 -c "import json,sys; o=json.load(sys.stdin); print('%-18s pp %7.1f  tg %6.2f' % ('ours', o['prefill_tokens_per_second'], o['decode_tokens_per_second']))"
  for l in "$build/llama.cpp/bin/llama-bench" "$build/llama.cpp-native/bin/llama-bench"; do
    [ -x "$l" ] || continue
    "$l" -m "$m" -p 512 -n 128 -t "$threads" -r 2 -o json 2>/dev/null | python3 -c "
import json, sys
best = {('pp' if r['n_prompt'] else 'tg'): max(r['samples_ts']) for r in json.load(sys.stdin)}
print('%-18s pp %7.1f  tg %6.2f' % (sys.argv[1], best['pp'], best['tg']))" "$(basename "$(dirname "$(dirname "$l")")")"
  done
done
echo "end $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"
