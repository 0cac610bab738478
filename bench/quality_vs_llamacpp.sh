#!/usr/bin/env bash
# Quality at equal size: our sensitivity allocation (--precision auto) against llama.cpp's mixes.
# Protocol (fixtures README): `validate` on heldout.txt, ctx 256, KLD against the F32 original, all chunks.
#
#   bench/quality_vs_llamacpp.sh [BUILD_DIR] [MODEL_DIR]
#   env: WORK (scratch, default /tmp/lp-quality-bench), MAX_TOKENS (0 = all 138 chunks), PRESETS (default
#        "q3_k_m q4_k_m q5_k_m"; the i-quant mixes work too: "iq2_xs iq3_xxs iq3_m"), LLAMA_QUANTIZE (cross-check one point with llama.cpp's own quantizer),
#        THREADS, SENS_CHUNKS (sensitivity chunks, default 4), UNIFORM=0 skips the uniform Q4_K row, CALIB (calibration
#        text instead of the build-calibration set),
#        MLX (MLX precisions to add as rows, e.g. "2bit 3bit"), LLAMA_PERPLEXITY (llama-perplexity: every GGUF row
#        also gets llama.cpp's own KLD, against llama.cpp's logits of our F32 GGUF: the fixtures README's protocol)
#
# Measured on (docs/QUALITY.md): tiny-qwen3 (default MODEL), tiny-gemma3 (PRESETS=q4_k_m), and Qwen 3.5's hybrid
#   PRESETS="q4_k_m q3_k_m" UNIFORM=0 bench/quality_vs_llamacpp.sh build/release ../shared/fixtures/tiny-qwen35
# (issue #20's goal: auto <= 0.90x the KLD of llama.cpp's Q4_K_M + imatrix at equal or smaller file size; the llama.cpp
# mix rows below are that mix, 3,095,520 bytes for tiny-qwen35, at or below llama.cpp's own 3,095,776).
#
# For each preset P (the budget anchor): (2) P without imatrix, (3) P with the imatrix, (4) auto at exactly
# P's tensor bytes with the same imatrix plus measured sensitivity; (1) uniform Q4_K once. The imatrix and
# the sensitivity text are our build-calibration set (data/calib: prose/chat/code/...), never heldout.txt.
# Prints a markdown table (docs/QUALITY.md holds the measured one).
set -euo pipefail
BUILD=${1:-build/release}
MODEL=${2:-$(cd "$(dirname "$0")/.." && pwd)/../shared/fixtures/tiny-qwen3}
Q=$BUILD/apps/llama-pajamas-quant
FIX=$(dirname "$MODEL")
HELDOUT=$FIX/heldout.txt
WORK=${WORK:-/tmp/lp-quality-bench}/$(basename "$MODEL")
MAX_TOKENS=${MAX_TOKENS:-0}
PRESETS=${PRESETS-"q3_k_m q4_k_m q5_k_m"}
THREADS=${THREADS:-0}
SENS_CHUNKS=${SENS_CHUNKS:-4}
LLAMA_QUANTIZE=${LLAMA_QUANTIZE-$BUILD/llama.cpp/bin/llama-quantize}  # scripts/build_llama_tools.sh BUILD; empty: no cross-check
LLAMA_PERPLEXITY=${LLAMA_PERPLEXITY:-}
[ -x "$Q" ] || { echo "error: $Q not built" >&2; exit 1; }
[ -d "$MODEL" ] || { echo "skip: $MODEL missing" >&2; exit 0; }
mkdir -p "$WORK"
T=(); [ "$THREADS" != 0 ] && T=(--threads "$THREADS")

# Calibration set and imatrix (ctx 256, as the README's llama.cpp imatrix). CALIB: other calibration text (a file or
# folder) for the imatrix and the sensitivity, e.g. Genesis as the fixtures README's llama.cpp imatrix (give it its own
# WORK: the imatrix is cached there).
CAL=${CALIB:-$WORK/calib}
if [ -z "${CALIB:-}" ]; then [ -d "$CAL" ] || "$Q" build-calibration --output "$CAL" >/dev/null
else [ -e "$CAL" ] || { echo "error: CALIB=$CAL not found" >&2; exit 1; }; fi
[ -f "$WORK/imatrix.gguf" ] || "$Q" calibrate "$MODEL" --calibration "$CAL" --ctx 256 -o "$WORK/imatrix.gguf" -q "${T[@]}" >/dev/null

ROWS=$WORK/rows.tsv
: > "$ROWS"
validate() {  # name gguf
  local out="$WORK/json/$(echo "$1" | tr -c 'A-Za-z0-9_\n' '-').json"
  mkdir -p "$WORK/json"
  "$Q" validate --original "$MODEL" --quantized "$2" --corpus "$HELDOUT" --ctx 256 --chunks "$((MAX_TOKENS / 256))" \
    --metrics perplexity,kld --json "${T[@]}" > "$out" 2>/dev/null || [ $? = 2 ]  # 2: validate's quality gate failed (a row all the same)
  local bytes
  if [ -d "$2" ]; then bytes=$(find "$2" -name '*.safetensors' -exec cat {} + | wc -c); else bytes=$(stat -c %s "$2"); fi  # MLX: its weights
  local llkld=-
  if [ -n "$LLAMA_PERPLEXITY" ] && [ -f "$2" ]; then llkld=$(llama_kld "$2"); fi
  jq -r --arg n "$1" --arg s "$bytes" --arg l "$llkld" \
    '.formats[0] as $f | [$n, $s, $f.bpw, $f.perplexity, $f.kld_mean, $f.same_top1, .corpus.chunks, $l] | map(tostring) | @tsv' "$out" >> "$ROWS"
  tail -1 "$ROWS"
}
# llama.cpp's mean KLD of a GGUF against llama.cpp's own logits of our F32 GGUF (computed once), all chunks, -c 256.
llama_kld() {  # gguf
  local base=$WORK/llama-kld-base.bin
  if [ ! -f "$base" ]; then
    local f32; f32=$(convert "$WORK/f32-kld" --precision f32 --no-architecture-aware)
    local ch=(); [ "$MAX_TOKENS" != 0 ] && ch=(--chunks "$((MAX_TOKENS / 256))")
    "$LLAMA_PERPLEXITY" -m "$f32" -f "$HELDOUT" -c 256 -b 256 "${ch[@]}" --kl-divergence-base "$base" >/dev/null 2>&1
  fi
  # One retry: a run of the prebuilt llama-perplexity once ended without its summary here (not reproduced).
  local k
  for _ in 1 2; do
    k=$("$LLAMA_PERPLEXITY" -m "$1" -c 256 -b 256 --kl-divergence-base "$base" --kl-divergence 2>&1 | awk '/^Mean +KLD:/ {print $3}' || true)
    [ -n "$k" ] && break
  done
  echo "${k:-failed}"
}
convert() {  # out-dir args...
  local out=$1; shift
  rm -rf "$out"
  "$Q" convert "$MODEL" --output "$out" -q "${T[@]}" "$@" >/dev/null
  ls "$out"/gguf/*.gguf
}

[ "${UNIFORM:-1}" = 0 ] || validate "uniform Q4_K" "$(convert "$WORK/uniform-q4k" --precision q4_k_m --no-architecture-aware --tensor-type '.=q4_k')"
for P in $PRESETS; do
  # The IQ1/IQ2/IQ3_XXS/IQ3_XS mixes cannot be made without an imatrix (llama.cpp refuses too).
  case $P in iq1_*|iq2_*|iq3_xxs|iq3_xs) ;; *)
    validate "$P llama.cpp mix" "$(convert "$WORK/$P-mix" --precision "$P" --no-architecture-aware)" ;;
  esac
  validate "$P llama.cpp mix + imatrix" "$(convert "$WORK/$P-mix-im" --precision "$P" --no-architecture-aware --imatrix "$WORK/imatrix.gguf")"
  # --target-size bounds the whole file: the budget is the llama.cpp mix's file size (with or without the
  # imatrix the mix has the same size).
  BYTES=$(stat -c %s "$WORK/$P-mix-im"/gguf/*.gguf)
  validate "auto @ $P size + imatrix + sensitivity" "$(convert "$WORK/$P-auto" --precision auto --target-size "$BYTES" \
    --imatrix "$WORK/imatrix.gguf" --calibration "$CAL" --sensitivity-chunks "$SENS_CHUNKS")"
done

# MLX affine artifacts (mlx-lm's layout; no imatrix, as mlx-lm's own quantization) in the same table: MLX="2bit 3bit".
# Their size is the weights' safetensors bytes.
for P in ${MLX:-}; do
  rm -rf "$WORK/mlx-$P"
  "$Q" convert "$MODEL" --output "$WORK/mlx-$P" -q "${T[@]}" --formats mlx --precision "$P" >/dev/null
  validate "MLX $P ($(basename "$(ls -d "$WORK/mlx-$P"/mlx/*/ | head -1)")), group 64" "$WORK/mlx-$P"
done

# Cross-check: llama.cpp's own quantizer on an F32 GGUF we write (size and KLD should match our Q4_K_M mix).
if [ -n "$LLAMA_QUANTIZE" ] && [ -x "$LLAMA_QUANTIZE" ]; then
  F32=$(convert "$WORK/f32" --precision f32 --no-architecture-aware)
  "$LLAMA_QUANTIZE" "$F32" "$WORK/llama-quantize-q4_k_m.gguf" Q4_K_M >/dev/null 2>&1
  validate "Q4_K_M by llama-quantize" "$WORK/llama-quantize-q4_k_m.gguf"
fi

echo
if [ -n "$LLAMA_PERPLEXITY" ]; then
  echo "| variant | file bytes | bpw | PPL | mean KLD | same top-1 | chunks | mean KLD by llama.cpp |"
  echo "|---|---|---|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %d | %.3f | %.3f | %.6f | %.2f%% | %s | %s |\n", $1, $2, $3, $4, $5, 100*$6, $7, $8}' "$ROWS"
else
  echo "| variant | file bytes | bpw | PPL | mean KLD | same top-1 | chunks |"
  echo "|---|---|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %d | %.3f | %.3f | %.6f | %.2f%% | %s |\n", $1, $2, $3, $4, $5, 100*$6, $7}' "$ROWS"
fi
