#!/usr/bin/env bash
# Scan throughput and latency on this machine, at 64 connections (wrk):
#   1. Tanba's scan of a cached genuine code (Redis cache), JSON answer;
#   2. the limit: a bare actix-web handler doing one Redis GET of a value of
#      the same size (bench/bare-redis), same framework, same Redis;
#   3. Tanba's scan with the in-process cache (no Redis);
#   4. Tanba's scan of an uncached code (every request a cache miss: unknown
#      serials, answered from the database);
#   5. Tanba's scan with Redis configured but unreachable (a closed port, as
#      when Redis is stopped): the cache steps aside, the database answers.
# Everything runs on loopback; the load generator shares the two cores with
# the servers, so the figures compare, they do not promise. Scan recording
# is on (the default, as in production): every request is also written to
# the scans table behind its answer, on the same cores.
#
#   bench/scan.sh            15 s per run
#   DURATION=30 bench/scan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-15}

scripts/services
command -v wrk >/dev/null 2>&1 || {
  [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk >/dev/null
}

cargo build --release --bin tanba -q
(cd bench/bare-redis && cargo build --release -q --target-dir "$root/target/bench-bare-redis")

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
prefix="bench-$$:"

start_tanba() { # port, extra env...
  local port=$1; shift
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
    echo "port $port is already in use" >&2; exit 1
  fi
  mkdir -p "$work/$port"
  # exec: the pid we keep is tanba's own, so the cleanup stops it.
  (cd "$work/$port" && exec env "$@" TANBA_LOG_FILTER=warn "$root/target/release/tanba" serve --demo \
     --listen "127.0.0.1:$port" >demo.txt 2>log.txt) &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return; sleep 0.1; done
  echo "tanba did not start on $port" >&2; cat "$work/$port/log.txt" >&2; exit 1
}

stop_tanba() { # the last one started: its scan recorder's backlog must not
  # take CPU from the next run
  local pid=${pids[-1]}
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

genuine_url() { # the first genuine code the demo printed (it prints once seeded)
  for _ in $(seq 1 100); do
    grep -qE '^\s+genuine\s' "$work/$1/demo.txt" 2>/dev/null && break
    sleep 0.1
  done
  grep -E '^\s+genuine\s' "$work/$1/demo.txt" | head -n 1 | awk '{print $2}'
}

run() { # label, url
  echo "== $1"
  wrk -t2 -c64 -d"${duration}s" --latency -H 'Accept: application/json' "$2" |
    grep -E 'Requests/sec|^\s+(50|99)%|Non-2xx|Socket errors' | sed 's/^/   /'
}

start_tanba 18080 TANBA_REDIS_URL=redis://127.0.0.1:6379 "TANBA_REDIS_PREFIX=$prefix"
url=$(genuine_url 18080)
curl -sf -H 'Accept: application/json' "$url" >"$work/card.json"   # warms the cache
bytes=$(wc -c <"$work/card.json")
redis-cli -h 127.0.0.1 SET "${prefix}bare" "$(cat "$work/card.json")" >/dev/null
"$root/target/bench-bare-redis/release/bare-redis" 127.0.0.1:18081 redis://127.0.0.1:6379 "${prefix}bare" &
pids+=($!)
sleep 0.5

echo "answer size: $bytes bytes; ${duration}s per run; 64 connections; wrk -t2"
run "limit: bare actix-web + one Redis GET of $bytes bytes" "http://127.0.0.1:18081/x"
run "tanba scan, cached in Redis" "$url"
kill "${pids[-1]}"; unset 'pids[-1]'   # bare-redis
stop_tanba

start_tanba 18082 TANBA_SCAN_RECORD=false
run "tanba scan, in-process cache, scan recording off" "$(genuine_url 18082)"
stop_tanba

start_tanba 18084
run "tanba scan, in-process cache" "$(genuine_url 18084)"

# Unknown serials of the demo GTIN: a miss each time (the not-found cache is
# keyed per code), answered from the database after a signature check.
miss_url=$(genuine_url 18084 | sed -E 's#/21/[^?]+#/21/BENCHMISS0000#; s#\?.*##')
cat >"$work/miss.lua" <<LUA
counter = 0
request = function()
  counter = counter + 1
  local path = string.format("$(echo "$miss_url" | sed -E 's#^https?://[^/]+##; s#BENCHMISS0000#%013d#')", counter)
  return wrk.format("GET", path, {["Accept"] = "application/json"})
end
LUA
echo "== tanba scan, uncached (unknown code each request, database path)"
wrk -t2 -c64 -d"${duration}s" --latency -s "$work/miss.lua" "http://127.0.0.1:18084" |
  grep -E 'Requests/sec|^\s+(50|99)%|Non-2xx|Socket errors' | sed 's/^/   /'
stop_tanba
start_tanba 18083 TANBA_REDIS_URL=redis://127.0.0.1:1 "TANBA_REDIS_PREFIX=$prefix"
run "tanba scan, Redis unreachable" "$(genuine_url 18083)"

redis-cli -h 127.0.0.1 --scan --pattern "${prefix}*" | xargs -r redis-cli -h 127.0.0.1 DEL >/dev/null
