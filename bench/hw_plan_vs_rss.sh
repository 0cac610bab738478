#!/usr/bin/env bash
# The memory plan (`config`) against the peak RSS `bench` measures, and the expected decode speed against the measured
# one, for each MODEL x context x KV-cache type (docs/HARDWARE.md, "How good is the plan"). Prints a Markdown table.
# usage: [PP=512 TG=128] [CTXS="1024 4096 16384"] [KVS="f16 q8_0 q4_0"] bench/hw_plan_vs_rss.sh BUILD_DIR MODEL...
# (GGUF files or converted folders; KVS: KV cache types, K and V alike; "K/V" for a pair, e.g. q8_0/q4_0)
# PP/TG: bench's prefill/decode tokens. Memory does not depend on them (the batch buffers are sized for 512 tokens
# either way); the decode columns are only meaningful with the defaults on a quiet machine.
set -euo pipefail
build=${1:?usage: bench/hw_plan_vs_rss.sh BUILD_DIR MODEL...}
shift
R=$build/apps/llama-pajamas-run
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | ctx | KV | plan KV | plan total | peak RSS | plan/RSS | expected decode | measured decode | expected/measured |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
for model in "$@"; do
  for ctx in ${CTXS:-1024 4096 16384}; do
    for kv in ${KVS:-f16 q8_0 q4_0}; do
      kvflags=(--cache-type-k "${kv%/*}" --cache-type-v "${kv#*/}")
      # The decode estimate at the context bench decodes in (prompt + half the generated tokens), with the probes.
      depth=$(( ${PP:-512} + ${TG:-128} / 2 ))
      plan=$("$R" config -m "$model" --ctx "$ctx" "${kvflags[@]}" --batch 512 --probe --depth "$depth" --json || true)
      meas=$("$R" bench -m "$model" --ctx "$ctx" "${kvflags[@]}" --pp "${PP:-512}" -n "${TG:-128}" -r 1 --profile none --json)
      python3 - "$model" "$ctx" "$kv" "$plan" "$meas" <<'PY'
import json, os, sys
model, ctx, kv, plan, meas = sys.argv[1:]
p = json.loads(plan); m = json.loads(meas)
if "artifacts" in m: m = m["artifacts"][0]
total = p["memory"]["total_bytes"]; rss = m["peak_rss_bytes"]
exp = p["expected_decode_tokens_per_second"]  # config's own estimate (its speed model, probed here)
dec = m["decode_tokens_per_second"]
print(f"| {os.path.basename(model.rstrip('/'))} | {ctx} | {kv} | {p['memory']['kv_cache_bytes']/1e6:.1f} MB | {total/1e6:.1f} MB | {rss/1e6:.1f} MB | {total/rss:.3f} | "
      f"{exp:.0f} | {dec:.0f} | {exp/dec:.2f} |")
PY
    done
  done
done
