#!/usr/bin/env bash
# Runs every code block of README.md and docs/*.md that is preceded by the line `<!-- runnable -->` (see
# docs/CLI.md, "Runnable examples"), so the docs cannot drift from the tools.
#   usage: tests/docs/run_runnable_blocks.sh BUILD_DIR [FILE.md ...]
# Each file's blocks run in order, with `bash -euo pipefail`, in a fresh scratch copy of the repository root
# (build/release/apps -> BUILD_DIR/apps, data/ and tests/data/ -> the repository's, ../shared/fixtures -> the
# fixtures). A block naming a missing ../shared/fixtures/<name> is skipped, or fails when LP_REQUIRE_PEERS=1.
set -uo pipefail
build="${1:?usage: $0 BUILD_DIR [FILE.md ...]}"
shift
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "$build" && pwd)"
fixtures="${LP_SHARED_FIXTURES:-$src/../shared/fixtures}"
[[ -x "$build/apps/llama-pajamas-quant" && -x "$build/apps/llama-pajamas-run" ]] || {
  echo "FAIL: tools not built in $build/apps"; exit 1; }
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then files=("$src/README.md" "$src"/docs/*.md); fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/lp-docs-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
blocks=0 failed=0 skipped=0

# Prints the runnable blocks of a markdown file as NUL-separated "LINE\nCODE" records.
extract() {
  awk '
    /^<!-- runnable -->[[:space:]]*$/ { armed = 1; next }
    armed && /^```/ { inblock = 1; armed = 0; start = NR + 1; code = ""; next }
    inblock && /^```[[:space:]]*$/ { printf "%d\n%s%c", start, code, 0; inblock = 0; next }
    inblock { code = code $0 "\n"; next }
    /^[[:space:]]*$/ { next }
    { armed = 0 }
  ' "$1"
}

for md in "${files[@]}"; do
  rel="${md#"$src"/}"
  work="$scratch/$(echo "$rel" | tr '/.' '__')"
  mkdir -p "$work/repo/build/release" "$work/shared"
  ln -s "$build/apps" "$work/repo/build/release/apps"
  ln -s "$src/data" "$work/repo/data"
  mkdir -p "$work/repo/tests" && ln -s "$src/tests/data" "$work/repo/tests/data"
  [[ -d "$fixtures" ]] && ln -s "$(cd "$fixtures" && pwd)" "$work/shared/fixtures"
  while IFS= read -r -d '' record; do
    line="${record%%$'\n'*}"
    code="${record#*$'\n'}"
    blocks=$((blocks + 1))
    missing=""
    for f in $(grep -oE '\.\./shared/fixtures/[A-Za-z0-9_.-]+' <<<"$code" | sort -u); do
      [[ -e "$work/repo/$f" ]] || missing+=" $f"
    done
    if [[ -n "$missing" ]]; then
      if [[ "${LP_REQUIRE_PEERS:-0}" == 1 ]]; then
        echo "FAIL $rel:$line: missing fixture(s):$missing (LP_REQUIRE_PEERS=1)"; failed=$((failed + 1))
      else
        echo "SKIP $rel:$line: missing fixture(s):$missing"; skipped=$((skipped + 1))
      fi
      continue
    fi
    t0=$SECONDS
    if out="$(cd "$work/repo" && bash -euo pipefail -c "$code" 2>&1)"; then
      echo "ok   $rel:$line ($((SECONDS - t0)) s)"
    else
      rc=$?
      echo "FAIL $rel:$line (exit $rc):"
      sed 's/^/    | /' <<<"$code"
      echo "    output (last 40 lines):"
      tail -n 40 <<<"$out" | sed 's/^/    > /'
      failed=$((failed + 1))
    fi
  done < <(extract "$md")
done
echo "$blocks runnable blocks: $((blocks - failed - skipped)) passed, $failed failed, $skipped skipped"
[[ $blocks -gt 0 ]] || { echo "FAIL: no runnable blocks found"; exit 1; }
[[ $failed -eq 0 ]]
