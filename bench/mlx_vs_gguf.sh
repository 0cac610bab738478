#!/usr/bin/env bash
# MLX affine folders vs the GGUF type of the same bits, same model, same run (docs/PERFORMANCE.md,
# "MLX vs GGUF, same bits"). Converts a checkpoint to MLX 2/3/4/6/8-bit (no mixed precision) and to
# GGUF Q2_K / Q3_K_S / Q4_0 / Q6_K / Q8_0 (plain llama.cpp mix), then runs `bench` on each.
#   bench/mlx_vs_gguf.sh [BUILD_DIR] [CHECKPOINT] [OUT_DIR] [PAIRS]
# BUILD_DIR defaults to build/release, CHECKPOINT to ../shared/fixtures/tiny-qwen3, PAIRS to
# "q4_0:4bit,q8_0:8bit,q2_k:2bit,q3_k_s:3bit,q6_k:6bit". Env: PP (64), TG (16), THREADS (2), REPS (5),
# REUSE=1 keeps an OUT_DIR converted before (A/B runs of two builds on the same artifacts).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/release}
ckpt=${2:-$here/../shared/fixtures/tiny-qwen3}
out=${3:-$(mktemp -d)}
pairs=${4:-q4_0:4bit,q8_0:8bit,q2_k:2bit,q3_k_s:3bit,q6_k:6bit}
pp=${PP:-64} tg=${TG:-16} threads=${THREADS:-2} reps=${REPS:-5}
quant=$build/apps/llama-pajamas-quant run=$build/apps/llama-pajamas-run
[ -x "$quant" ] && [ -x "$run" ] || { echo "mlx_vs_gguf.sh: build llama-pajamas-quant and llama-pajamas-run in $build first" >&2; exit 1; }
if [ "${REUSE:-0}" != 1 ] || [ ! -f "$out/manifest.json" ]; then
  "$quant" convert "$ckpt" -o "$out" --precision "$pairs" --no-mixed-precision --no-architecture-aware --force -q >/dev/null
fi
echo "# $(uptime); build $build"
echo "# pp$pp tg$tg, $threads threads, best of $reps; checkpoint $(basename "$ckpt")"
printf '%-10s %-10s %10s %10s %10s %10s %8s %8s\n' gguf mlx gguf_pp mlx_pp gguf_tg mlx_tg pp_ratio tg_ratio
bench() { "$run" bench -m "$1" --pp "$pp" --tg "$tg" -t "$threads" -r "$reps" --json 2>/dev/null |
  python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["prefill_tokens_per_second"], j["decode_tokens_per_second"])'; }
IFS=, read -ra list <<<"$pairs"
for p in "${list[@]}"; do
  g=${p%%:*} m=${p##*:}
  read -r gpp gtg < <(bench "$(ls "$out"/gguf/*-"$g".gguf)")
  read -r mpp mtg < <(bench "$out/mlx/$m-pure")
  python3 -c "import sys; g,m,a,b,c,d=sys.argv[1:]; a,b,c,d=map(float,(a,b,c,d)); print(f'{g:<10} {m:<10} {a:10.1f} {b:10.1f} {c:10.1f} {d:10.1f} {b/a:8.2f} {d/c:8.2f}')" \
    "$g" "$m" "$gpp" "$mpp" "$gtg" "$mtg"
done
