# Sourced by the bench/*_vs_llamacpp.sh scripts: sets src, build, threads, run, quant, work from
# [BUILD_DIR] [THREADS], and bench_models PRECISION... fills `models` with a Qwen3-0.6B-shaped checkpoint
# converted to each precision (made once under $work), or with $LP_BENCH_MODELS (space-separated .gguf paths).
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$src/build/release}"
threads="${2:-$(lscpu -p=core,socket 2>/dev/null | grep -v '^#' | sort -u | wc -l)}"
run="$build/apps/llama-pajamas-run"
quant="$build/apps/llama-pajamas-quant"
work="${LP_BENCH_WORK:-$build/bench-engine}"
mkdir -p "$work"

bench_models() {
  models=()
  if [[ -n "${LP_BENCH_MODELS:-}" ]]; then
    read -r -a models <<<"$LP_BENCH_MODELS"
  elif [[ -x "$quant" ]]; then
    [[ -d "$work/qwen3-0.6b" ]] || "$quant" make-test-model --family qwen3 --preset qwen3-0.6b --output "$work/qwen3-0.6b" --seed 1
    for p in "$@"; do
      [[ -d "$work/out-$p" ]] || "$quant" convert "$work/qwen3-0.6b" --output "$work/out-$p" --formats gguf --precision "$p" --quiet
      models+=("$(find "$work/out-$p" -name '*.gguf' | head -1)")
    done
  else
    echo "error: $quant not built and LP_BENCH_MODELS not set" >&2
    exit 1
  fi
}
