#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and runs each for a bounded time on
# its seed corpus (CI: scripts/test.sh). Any crash, sanitizer report or leak fails the run; new inputs go
# to a scratch directory, never into the repository. Usage: scripts/fuzz_smoke.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${LP_FUZZ_SECONDS:-60}}
jobs=$(nproc)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs" --target fuzz_gguf fuzz_safetensors fuzz_tokenizer fuzz_jinja fuzz_openai

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Seeds: the corpus folders, the chat templates, and lines of the tokenizer corpus (first byte = mode).
mkdir -p "$scratch/seeds/tokenizer" "$scratch/seeds/jinja"
cp tests/data/templates/*.jinja "$scratch/seeds/jinja/"
n=0
while IFS= read -r line && [ $n -lt 64 ]; do
  { printf "\\x$(printf %02x $((n % 3)))"; printf '%s' "$line"; } > "$scratch/seeds/tokenizer/line$n"
  n=$((n + 1))
done < tests/data/tokenizer/corpus.txt
root=$PWD
declare -A seeds=(
  [fuzz_gguf]="$root/fuzz/corpus/gguf" [fuzz_safetensors]="$root/fuzz/corpus/safetensors" [fuzz_openai]="$root/fuzz/corpus/openai"
  [fuzz_jinja]="$scratch/seeds/jinja" [fuzz_tokenizer]="$scratch/seeds/tokenizer")

run_one() {
  local t=$1 dir="$scratch/$1"
  mkdir -p "$dir/new"
  # cwd = scratch: crash-* / leak-* reproducers land there, not in the repository
  if (cd "$dir" && "$root/build/fuzz/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$dir/new" "${seeds[$t]}" >"$dir/log" 2>&1); then
    echo "fuzz $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$') runs in ${seconds} s, no finding"
  else
    echo "fuzz $t: FAILED (crash, sanitizer report or leak); last lines of its log:"
    tail -n 40 "$dir/log"
    return 1
  fi
}

status=0
pids=()
names=()
for t in "${!seeds[@]}"; do
  run_one "$t" > "$scratch/$t.out" 2>&1 &
  pids+=($!)
  names+=("$t")
  # at most $jobs targets at once
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
  cat "$scratch/${names[$i]}.out"
done
exit $status
