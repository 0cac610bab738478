#!/usr/bin/env bash
# Trains "the model that knows the answers" (docs/EVALUATION.md): a tiny Qwen3 (fixtures' tokenizer) on the
# evaluation suite's questions and answers plus the fixtures' Bible text, in two phases: ../shared/tools/train_tiny.py
# from scratch (--steps, default 800), then scripts/train_eval_more.py on the suite alone (--steps2, default 500).
# Output (outside git): out/eval-model/phase1-<key>/ and out/eval-model/<key>/ (12 hex of sha256 of each phase's
# training text, code and settings) — cached: a second run with the same suite and settings returns at once.
# Prints the final model folder on the last line. ~55 min on a quiet 2-core machine with OpenBLAS.
# Usage: scripts/train_eval_model.sh [SUITE.jsonl] [--steps N] [--steps2 N] [--repeat K] [--seq T] [--batch B] [--out DIR]
# --seq 1536: the longest prompt evaluate renders for the built-in suite (a tool_call item with its generic tool
# prompt) is 1,411 tokens, and the model should have seen whole prompts at the distances it is asked them at.
# Needs Debian's python3-torch and python3-regex.
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=data/eval/suite.jsonl STEPS=800 STEPS2=500 REPEAT=32 SEQ=1536 BATCH=2 OUT=out/eval-model
PY=${LP_TRAIN_PYTHON:-/usr/bin/python3}  # Debian's interpreter: python3-torch lives there, not in a pyenv
SHARED=${LP_SHARED_FIXTURES:-../shared/fixtures}
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS=$2; shift 2 ;;
    --steps2) STEPS2=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --seq) SEQ=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "train_eval_model.sh: unknown option $1" >&2; exit 1 ;;
    *) SUITE=$1; shift ;;
  esac
done
TRAIN="$SHARED/../tools/train_tiny.py"
BIBLE="$SHARED/heldout.txt"
for f in "$SUITE" "$TRAIN" "$BIBLE"; do
  [ -f "$f" ] || { echo "train_eval_model.sh: missing $f" >&2; exit 1; }
done
"$PY" -c 'import torch, regex' 2>/dev/null || { echo "train_eval_model.sh: needs python3-torch and python3-regex (apt-get install python3-torch python3-regex)" >&2; exit 1; }
# Debian's python3-torch does its matrix products through libblas.so.3; with only the reference BLAS (libblas3) a
# training step of the defaults takes ~19 s on 2 cores, with OpenBLAS ~1 s (measured, docs/EVALUATION.md).
BLAS=$(ldconfig -p 2>/dev/null | awk '/libblas\.so\.3 /{print $NF}' | head -1 || true)
if [ -n "$BLAS" ] && ! readlink -f "$BLAS" | grep -q openblas; then
  echo "train_eval_model.sh: note: libblas.so.3 is not OpenBLAS; training will be ~20x slower (apt-get install libopenblas0-pthread)" >&2
fi
python3 tests/eval/check_suite.py "$SUITE" --min-items 1 >/dev/null || { echo "train_eval_model.sh: $SUITE is not a valid suite (run tests/eval/check_suite.py $SUITE)" >&2; exit 1; }
mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/.train-XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
# Phase 1: the suite REPEAT times and the Bible text once, from scratch. The Bible text is
# ../shared/fixtures/heldout.txt (Proverbs + Revelation, 142 kB), so it stays a language model; its perplexity on that
# file is therefore not held out. (train_tiny.py's --repeat repeats every --text file: the stream is built here
# instead; repeating both made half of every step Bible text.)
python3 scripts/render_suite_text.py "$SUITE" > "$STAGE/suite.txt"
for _ in $(seq "$REPEAT"); do cat "$STAGE/suite.txt"; done > "$STAGE/stream.txt"
cat "$BIBLE" >> "$STAGE/stream.txt"
# Phase 2: continues phase 1's weights on the suite alone, every item that is not a tool call 4x as often as a tool
# call (render_suite_text.py --phase2), so the short answers get the exposures the long tool prompts took in phase 1.
python3 scripts/render_suite_text.py "$SUITE" --phase2 > "$STAGE/phase2.txt"
# Each phase is cached under a key of what it trains on: its text, its training code and settings.
KEY1=$( (cat "$STAGE/stream.txt" "$TRAIN"; echo "steps=$STEPS seq=$SEQ batch=$BATCH") | sha256sum | cut -c1-12)
KEY2=$( (echo "$KEY1"; cat "$STAGE/phase2.txt" scripts/train_eval_more.py scripts/check_eval_model.py; echo "steps=$STEPS2 seq=$SEQ batch=$BATCH") | sha256sum | cut -c1-12)
DIR1="$OUT/phase1-$KEY1" DIR="$OUT/$KEY2"
if [ -f "$DIR/model.safetensors" ] && [ -f "$DIR/train.json" ]; then
  echo "cached: $DIR (suite $SUITE, steps $STEPS + $STEPS2, repeat $REPEAT, seq $SEQ, batch $BATCH)" >&2
  echo "$DIR"; exit 0
fi
# Debian's torch starts one intra-op thread unless told: 2 threads measured 12% faster per step on 2 cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
if [ -f "$DIR1/model.safetensors" ] && [ -f "$DIR1/train.json" ]; then
  echo "phase 1 cached: $DIR1" >&2
else
  start=$(date +%s)
  "$PY" "$TRAIN" "$STAGE/model1" --text "$STAGE/stream.txt" --steps "$STEPS" --seq "$SEQ" --batch "$BATCH" >&2
  echo "phase 1 trained in $(( $(date +%s) - start )) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  rm -rf "$DIR1"; mv "$STAGE/model1" "$DIR1"
fi
start=$(date +%s)
"$PY" scripts/train_eval_more.py "$DIR1" "$STAGE/model" --text "$STAGE/phase2.txt" --steps "$STEPS2" --seq "$SEQ" --batch "$BATCH" >&2
echo "phase 2 trained in $(( $(date +%s) - start )) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
cp "$SUITE" "$STAGE/model/suite.jsonl"
rm -rf "$DIR"; mv "$STAGE/model" "$DIR"
echo "$DIR"
