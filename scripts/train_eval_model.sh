#!/usr/bin/env bash
# Trains "the model that knows the answers" (docs/EVALUATION.md): a tiny Qwen3 (fixtures' tokenizer) on the
# evaluation suite's questions and answers plus the fixtures' Bible text, with ../shared/tools/train_tiny.py.
# Output (outside git): out/eval-model/<first 12 hex of sha256(suite + renderer + train_tiny.py + settings)>/ — cached: a second
# run with the same suite and settings returns at once. Prints the model folder on the last line.
# Usage: scripts/train_eval_model.sh [SUITE.jsonl] [--steps N] [--repeat K] [--seq T] [--batch B] [--out DIR]
# --seq 1536: the longest prompt evaluate renders for the built-in suite (a tool_call item with its generic tool
# prompt) is 1,411 tokens, and the model should have seen whole prompts at the distances it is asked them at.
# Needs Debian's python3-torch and python3-regex.
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=data/eval/suite.jsonl STEPS=800 REPEAT=32 SEQ=1536 BATCH=2 OUT=out/eval-model
PY=${LP_TRAIN_PYTHON:-/usr/bin/python3}  # Debian's interpreter: python3-torch lives there, not in a pyenv
SHARED=${LP_SHARED_FIXTURES:-../shared/fixtures}
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --seq) SEQ=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
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
KEY=$( (cat "$SUITE" scripts/render_suite_text.py "$TRAIN"; echo "steps=$STEPS repeat=$REPEAT seq=$SEQ batch=$BATCH stream=suite*repeat+bible") | sha256sum | cut -c1-12)
DIR="$OUT/$KEY"
if [ -f "$DIR/model.safetensors" ] && [ -f "$DIR/train.json" ]; then
  echo "cached: $DIR (suite $SUITE, steps $STEPS, repeat $REPEAT, seq $SEQ, batch $BATCH)" >&2
  echo "$DIR"; exit 0
fi
mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/.train-XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
python3 scripts/render_suite_text.py "$SUITE" > "$STAGE/suite.txt"
# The Bible text is ../shared/fixtures/heldout.txt (Proverbs + Revelation, 142 kB): small enough that the suite,
# repeated REPEAT times, stays most of the stream. This model's perplexity on heldout.txt is therefore not held out.
start=$(date +%s)
# train_tiny.py's --repeat repeats every --text file: the stream is built here instead, the suite REPEAT times and the
# Bible text once (35.8k + 35.4k tokens with the built-in suite; repeating both made half of every step Bible text).
for _ in $(seq "$REPEAT"); do cat "$STAGE/suite.txt"; done > "$STAGE/stream.txt"
cat "$BIBLE" >> "$STAGE/stream.txt"
# Debian's torch starts one intra-op thread unless told: 2 threads measured 12% faster per step on 2 cores.
OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} "$PY" "$TRAIN" "$STAGE/model" --text "$STAGE/stream.txt" --steps "$STEPS" --seq "$SEQ" --batch "$BATCH" >&2
echo "trained in $(( $(date +%s) - start )) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
cp "$SUITE" "$STAGE/model/suite.jsonl"
rm -rf "$DIR"; mv "$STAGE/model" "$DIR"
echo "$DIR"
