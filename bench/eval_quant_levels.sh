#!/usr/bin/env bash
# The "model that knows the answers" across quantization levels (docs/EVALUATION.md, "A model that knows the answers"):
# trains it (scripts/train_eval_model.sh, cached), converts it to F32, Q8_0, Q4_K_M, Q3_K_M, Q2_K, `auto` at the
# Q4_K_M file's size and MLX 4-bit / 2-bit in one folder, runs `evaluate` on every artifact and `report`.
# Usage: bench/eval_quant_levels.sh [OUT_DIR] [--method loglik|generate] [--threads N]
# Default OUT_DIR: out/eval-levels. Writes OUT_DIR/EVALUATION_REPORT.md and its PNGs; prints the report.
# Needs: a release build (build/release), python3-torch + python3-regex (training), gnuplot (charts).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=out/eval-levels METHOD=loglik THREADS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --method) METHOD=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    -*) echo "eval_quant_levels.sh: unknown option $1" >&2; exit 1 ;;
    *) OUT=$1; shift ;;
  esac
done
QUANT=${LP_QUANT:-build/release/apps/llama-pajamas-quant}
[ -x "$QUANT" ] || { echo "eval_quant_levels.sh: $QUANT not built (cmake --build --preset release --target llama-pajamas-quant)" >&2; exit 1; }
"$QUANT" evaluate --help >/dev/null 2>&1 || { echo "eval_quant_levels.sh: this build has no 'evaluate' command" >&2; exit 1; }

MODEL=$(scripts/train_eval_model.sh | tail -1)
echo "model: $MODEL ($(/usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print("%d steps, final loss %.3f, %d s" % (t["steps"], t["final_loss"], t["seconds"]))' "$MODEL/train.json"))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# 'auto' cannot share a convert run with other GGUF precisions, and its size target is the Q4_K_M file's: convert
# the fixed levels first, then auto into a subfolder, and list its artifact in the main manifest.
start=$(date +%s)
"$QUANT" convert "$MODEL" -o "$OUT" --force --precision f32,q8_0,q4_k_m,q3_k_m,q2_k,4bit,2bit -t "$THREADS" -q >/dev/null
Q4=$(/usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(f["size_bytes"] for f in m["formats"] if f["precision"].upper()=="Q4_K_M"))' "$OUT/manifest.json")
"$QUANT" convert "$MODEL" -o "$OUT/auto-run" --force --precision auto --target-size "$Q4" --calibration builtin -t "$THREADS" -q >/dev/null
/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
main, auto = (json.load(open(os.path.join(p, "manifest.json"))) for p in (out, os.path.join(out, "auto-run")))
main["formats"] = [f for f in main["formats"] if not f["path"].startswith("auto-run/")]
for f in auto["formats"]:
    f = dict(f, path="auto-run/" + f["path"])
    f.pop("evaluation", None)
    if "metadata" in f: f["metadata"] = "auto-run/" + f["metadata"]
    main["formats"].append(f)
tmp = os.path.join(out, ".manifest.json.tmp")
json.dump(main, open(tmp, "w"), indent=2); os.replace(tmp, os.path.join(out, "manifest.json"))
PY
echo "converted in $(( $(date +%s) - start )) s"

start=$(date +%s)
"$QUANT" evaluate --model "$OUT" --suite data/eval/suite.jsonl --method "$METHOD" --threads "$THREADS" --json > "$OUT/evaluate.json"
echo "evaluated in $(( $(date +%s) - start )) s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
"$QUANT" validate --original "$MODEL" --quantized "$OUT" --metrics perplexity,kld -q >/dev/null || true  # KLD/ΔPPL columns; a failed gate is not an error here
"$QUANT" report "$OUT"
cat "$OUT/EVALUATION_REPORT.md"
