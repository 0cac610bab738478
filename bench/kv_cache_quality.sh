#!/usr/bin/env bash
# What a KV-cache type costs in quality: mean KL divergence of the next-token distributions from the f16 cache's, ours
# (`perplexity --cache-type T --kld-cache-type f16`) and llama.cpp's (`llama-perplexity --kl-divergence` against a
# base written with its f16 cache, `-ctk T -ctv T -fa on`) on the same GGUF, same text, same chunks, in one run.
# docs/HARDWARE.md, "KV-cache types".
# usage: [CTX=4096] [CHUNKS=4] [TYPES="q8_0 q4_0"] bench/kv_cache_quality.sh BUILD_DIR GGUF...
#   (GGUF: e.g. the trained fixtures converted: llama-pajamas-quant convert ../shared/fixtures/tiny-qwen3 --output D
#   --precision Q8_0). Needs scripts/build_llama_tools.sh BUILD_DIR llama-perplexity.
set -euo pipefail
build=${1:?usage: bench/kv_cache_quality.sh BUILD_DIR GGUF...}
shift
R=$build/apps/llama-pajamas-run
LP=$build/llama.cpp/bin/llama-perplexity
TEXT=${TEXT:-$(dirname "$0")/../../shared/fixtures/heldout.txt}
CTX=${CTX:-4096}
CHUNKS=${CHUNKS:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "ctx $CTX, $CHUNKS chunks of $TEXT; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | KV type | ours: mean KLD vs f16 cache | llama.cpp: mean KLD vs f16 cache | ours PPL | llama.cpp PPL |"
echo "|---|---|---:|---:|---:|---:|"
for model in "$@"; do
  base=$work/base.kld
  "$LP" -m "$model" -f "$TEXT" -c "$CTX" -b "$CTX" --chunks "$CHUNKS" -t 2 -ctk f16 -ctv f16 -fa on --kl-divergence-base "$base" \
    > "$work/base.log" 2>&1 || { echo "llama-perplexity base failed: $(tail -3 "$work/base.log")" >&2; exit 1; }
  for t in ${TYPES:-q8_0 q4_0}; do
    ours=$("$R" perplexity -m "$model" -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS" --cache-type "$t" --kld-cache-type f16 \
      --profile none --json -q)
    "$LP" -m "$model" -c "$CTX" -b "$CTX" --chunks "$CHUNKS" -t 2 -ctk "$t" -ctv "$t" -fa on --kl-divergence-base "$base" \
      --kl-divergence > "$work/$t.log" 2>&1 || { echo "llama-perplexity $t failed: $(tail -3 "$work/$t.log")" >&2; exit 1; }
    python3 - "$model" "$t" "$ours" "$work/$t.log" <<'PY'
import json, re, sys
model, t, ours, log = sys.argv[1:]
o = json.loads(ours)
text = open(log, errors="replace").read()
kld = re.search(r"Mean\s+KLD:\s+([-0-9.e]+)\s+±\s+([-0-9.e]+)", text)
ppl = re.search(r"Mean PPL\(Q\)\s*:\s*([0-9.]+)", text)
name = model.rstrip("/").split("/")[-3] if model.endswith(".gguf") else model
print(f"| {name} | {t} | {o['kld']['mean']:.6f} ± {o['kld']['error']:.6f} | "
      f"{(kld.group(1) + ' ± ' + kld.group(2)) if kld else 'n/a'} | {o['perplexity']:.4f} | {ppl.group(1) if ppl else 'n/a'} |")
PY
  done
done
