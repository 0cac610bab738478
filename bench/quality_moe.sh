#!/usr/bin/env bash
# MoE quality at equal size (issue #7): expert-balanced per-expert allocation vs llama.cpp's Q4_K_M + imatrix.
# Protocol (fixtures README): `validate` on heldout.txt, ctx 256, all 138 chunks, KLD vs the original HF folder;
# validate also reports router top-k agreement and expert-usage correlation for MoE models.
#
#   bench/quality_moe.sh [BUILD_DIR] [MODEL_DIR...]
#   env: WORK (scratch, default /tmp/lp-quality-moe), MAX_TOKENS (0 = all chunks), THREADS, SENS (sensitivity:
#        auto|measured|proxy, default auto), LLAMA_QUANTIZE (cross-check one point with llama.cpp's quantizer)
#
# Variants, all at the tensor bytes of (b) (the budget anchor):
#   (a) convert --precision auto --target-size S --calibration C --expert-balanced   (ours)
#   (b) llama.cpp's Q4_K_M mix (--no-architecture-aware) with the imatrix of plain calibration on C
#   (c) convert --precision auto --target-size S --calibration C, experts forced to one type (Q4_K):
#       plain calibration and uniform expert precision
#   gpt-oss also: (d) = (b) with the MXFP4 experts re-quantized to Q4_K instead of kept native,
#                 (e) = (b) with the MXFP4 experts kept native (bit-exact copy).
# C is our build-calibration set (data/calib), never heldout.txt. Prints a markdown table (docs/QUALITY_MOE.md).
set -euo pipefail
BUILD=${1:-build/release}
shift || true
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=("$(cd "$(dirname "$0")/.." && pwd)/../shared/fixtures/tiny-qwen3moe" "$(cd "$(dirname "$0")/.." && pwd)/../shared/fixtures/tiny-gptoss")
Q=$BUILD/apps/llama-pajamas-quant
MAX_TOKENS=${MAX_TOKENS:-0}
THREADS=${THREADS:-0}
SENS=${SENS:-auto}
LLAMA_QUANTIZE=${LLAMA_QUANTIZE:-/tmp/llcpp/build/bin/llama-quantize}
[ -x "$Q" ] || { echo "error: $Q not built" >&2; exit 1; }
command -v jq >/dev/null || { echo "error: jq needed" >&2; exit 1; }
T=(); [ "$THREADS" != 0 ] && T=(--threads "$THREADS")
ROOT=${WORK:-/tmp/lp-quality-moe}
mkdir -p "$ROOT"
[ -d "$ROOT/calib" ] || "$Q" build-calibration --output "$ROOT/calib" >/dev/null
CALIB=$ROOT/calib
EXPERTS='_exps\.weight$'

for MODEL in "${MODELS[@]}"; do
  [ -d "$MODEL" ] || { echo "skip: $MODEL missing" >&2; continue; }
  NAME=$(basename "$MODEL")
  WORK=$ROOT/$NAME
  HELDOUT=$(dirname "$MODEL")/heldout.txt
  mkdir -p "$WORK/json"
  ROWS=$WORK/rows.tsv
  : > "$ROWS"
  validate() {  # label gguf
    local out="$WORK/json/$(echo "$1" | tr -c 'A-Za-z0-9_\n' '-').json"
    "$Q" validate --original "$MODEL" --quantized "$2" --corpus "$HELDOUT" --ctx 256 --chunks "$((MAX_TOKENS / 256))" \
      --metrics perplexity,kld --no-write --json "${T[@]}" > "$out" 2>"$out.err" || true
    jq -r --arg n "$1" --arg s "$(stat -c %s "$2")" \
      '.formats[0] as $f | [$n, $s, $f.bpw, $f.perplexity, $f.kld_mean, $f.same_top1, $f.moe.router_topk_agreement,
        $f.moe.expert_activation_correlation, .corpus.chunks] | map(tostring) | @tsv' "$out" >> "$ROWS"
    tail -1 "$ROWS"
  }
  convert() {  # out-dir args...
    local out=$1; shift
    rm -rf "$out"
    "$Q" convert "$MODEL" --output "$out" -q "${T[@]}" "$@" > "$out.log" 2>&1 || { cat "$out.log" >&2; return 1; }
    ls "$out"/gguf/*.gguf
  }

  [ -f "$WORK/imatrix.gguf" ] || "$Q" calibrate "$MODEL" --calibration "$CALIB" --ctx 256 -o "$WORK/imatrix.gguf" -q "${T[@]}" >/dev/null
  # --target-size bounds the whole file: the budget is the llama.cpp Q4_K_M mix's file size.
  B_GGUF=$(convert "$WORK/b-q4km-im" --precision q4_k_m --no-architecture-aware --imatrix "$WORK/imatrix.gguf")
  BYTES=$(stat -c %s "$B_GGUF")
  echo "$NAME: budget $BYTES file bytes (llama.cpp Q4_K_M mix)"

  validate "(b) llama.cpp Q4_K_M mix + imatrix" "$B_GGUF"
  validate "(a) auto, expert-balanced calibration, per-expert allocation" \
    "$(convert "$WORK/a-auto-balanced" --precision auto --target-size "$BYTES" --calibration "$CALIB" --calibration-ctx 256 \
       --expert-balanced --sensitivity "$SENS")"
  validate "(c) auto, plain calibration, experts uniform Q4_K" \
    "$(convert "$WORK/c-auto-uniform" --precision auto --target-size "$BYTES" --calibration "$CALIB" --calibration-ctx 256 \
       --sensitivity "$SENS" --tensor-type "$EXPERTS=q4_k")"
  if [ "$NAME" = tiny-gptoss ]; then
    validate "(d) llama.cpp Q4_K_M mix + imatrix, MXFP4 experts re-quantized to Q4_K" \
      "$(convert "$WORK/d-q4km-requant" --precision q4_k_m --no-architecture-aware --imatrix "$WORK/imatrix.gguf" \
         --tensor-type "$EXPERTS=q4_k")"
    validate "(e) llama.cpp Q4_K_M mix + imatrix, MXFP4 experts kept native" \
      "$(convert "$WORK/e-q4km-native" --precision q4_k_m --no-architecture-aware --imatrix "$WORK/imatrix.gguf" \
         --tensor-type "$EXPERTS=mxfp4")"
  fi
  # Cross-check (b)'s rules with llama.cpp's own quantizer on an F32 GGUF we write, same imatrix.
  if [ -x "$LLAMA_QUANTIZE" ] && [ "$NAME" = tiny-qwen3moe ]; then
    F32=$(convert "$WORK/f32" --precision f32 --no-architecture-aware)
    "$LLAMA_QUANTIZE" --imatrix "$WORK/imatrix.gguf" "$F32" "$WORK/llama-quantize-q4_k_m.gguf" Q4_K_M >"$WORK/llama-quantize.log" 2>&1 &&
      validate "(b') Q4_K_M by llama-quantize + same imatrix" "$WORK/llama-quantize-q4_k_m.gguf"
  fi

  echo
  echo "### $NAME (budget $BYTES tensor bytes)"
  echo
  echo "| variant | file bytes | bpw | PPL | mean KLD | same top-1 | router top-k agreement | expert-usage correlation | chunks |"
  echo "|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %d | %.3f | %.4f | %.6f | %.2f%% | %.2f%% | %.4f | %s |\n", $1, $2, $3, $4, $5, 100*$6, 100*$7, $8, $9}' "$ROWS"
done
