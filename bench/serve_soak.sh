#!/usr/bin/env bash
# Soak: a running server under mixed load for SECONDS: bench/serve_load.mjs rounds (streaming and not, a share
# of clients hanging up mid-stream) beside a loop of hostile requests (malformed JSON, oversize bodies, wrong
# Content-Type, unknown routes), each of which must be answered 4xx. Reports crashes (the process gone), busy
# slots and KV cells after the run, RSS at start and end, and any malformed request not answered 4xx.
# usage: bench/serve_soak.sh PORT PID [SECONDS=600] [CLIENTS=4]       (loopback; the server must be running)
set -uo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
port="${1:?usage: bench/serve_soak.sh PORT PID [SECONDS] [CLIENTS]}"
pid="${2:?server pid}"
seconds="${3:-600}"
clients="${4:-4}"
source "$src/scripts/env.sh"
url="http://127.0.0.1:$port"
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null; }
rss0=$(rss)
end=$(( $(date +%s) + seconds ))
bad=0 hostile=0 rounds=0 load_errors=0
big=$(mktemp)
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$big"
while (( $(date +%s) < end )); do
  node "$src/bench/serve_load.mjs" --url "$url" --clients "$clients" --requests $((clients * 2)) --max-tokens 48 \
    --disconnect-share 0.3 --non-stream-share 0.3 --seed $((rounds + 1)) --duration 120 >/dev/null 2>&1 || load_errors=$((load_errors + 1))
  rounds=$((rounds + 1))
  for req in "json:{nope" "json:[]" "json:{\"messages\": 5}" "text:{\"prompt\": \"x\"}" "route:" "big:"; do
    kind=${req%%:*} body=${req#*:}
    case $kind in
      json) code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "$url/v1/chat/completions") ;;
      text) code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -d "$body" "$url/v1/completions") ;;
      route) code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/nothing-here") ;;
      big) code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$big" "$url/v1/completions") ;;
    esac
    hostile=$((hostile + 1))
    [[ $code == 4* ]] || { bad=$((bad + 1)); echo "not 4xx: $kind -> $code" >&2; }
  done
done
rm -f "$big"
alive=1; kill -0 "$pid" 2>/dev/null || alive=0
health=$(curl -s "$url/health")
echo "{\"seconds\": $seconds, \"load_rounds\": $rounds, \"load_rounds_with_errors\": $load_errors, \"hostile_requests\": $hostile, \"hostile_not_4xx\": $bad, \"server_alive\": $alive, \"rss_kb_start\": ${rss0:-0}, \"rss_kb_end\": $(rss || echo 0), \"health\": ${health:-null}, \"kv_cells_busy\": $(curl -s "$url/metrics" | awk '/^lp_kv_cells_busy/ {print $2}')}"
