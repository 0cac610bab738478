#!/usr/bin/env bash
# The main job on a built-in default: generate a tiny Qwen3 checkpoint, detect its architecture, show the
# plan, convert it to GGUF (Q4_K_M) and MLX (4-bit mixed), and run the GGUF with our runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target llama-pajamas-quant llama-pajamas-run
Q=build/release/apps/llama-pajamas-quant
R=build/release/apps/llama-pajamas-run
OUT=${1:-out/demo}
MODEL=${LP_DEMO_MODEL:-}
if [ -z "$MODEL" ]; then
  if [ -d ../shared/fixtures/tiny-qwen3 ]; then MODEL=../shared/fixtures/tiny-qwen3   # a trained tiny model
  else MODEL=out/tiny-qwen3-random; $Q make-test-model --family qwen3 --output "$MODEL" --seed 1; fi
fi
$Q detect "$MODEL"
$Q plan "$MODEL" --precision q4_k_m
$Q convert "$MODEL" --output "$OUT" --precision q4_k_m:4bit --force   # --force: a rerun replaces the previous demo output
GGUF=$(ls "$OUT"/gguf/*.gguf | head -n 1)
$R generate --model "$GGUF" --prompt "And the LORD said unto Moses," -n 40 --seed 1
