#!/usr/bin/env bash
# Does scan latency grow with the number of codes stored? For each size
# (default 1,000,000 and 50,000,000) this makes a fresh PostgreSQL database,
# fills the codes table with that many codes (filler rows written by SQL,
# spread over 1,000 GTINs and all 16 partitions, unsigned: they exist to make
# the table and its indexes large), starts `tanba serve --demo` on it with the
# in-process cache, and runs wrk twice at 64 connections: a cached genuine
# code, and an unknown code each request (a primary-key lookup in the large
# table every time).
#
#   bench/scan-scale.sh                    1M and 50M codes, 15 s per run
#   SIZES="1000000 10000000" DURATION=10 bench/scan-scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-15}
sizes=${SIZES:-"1000000 50000000"}
admin=${TANBA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
base=${admin%/*}

scripts/services
command -v wrk >/dev/null 2>&1 || apt-get install -y -qq wrk >/dev/null
cargo build --release --bin tanba -q

work=$(mktemp -d)
pid=""
db=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$db" ] && psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

for size in $sizes; do
  db="tanba_scale_$$_$size"
  psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
  url="$base/$db"
  # Start once to create the schema and the demo data, then fill.
  mkdir -p "$work/$size"
  (cd "$work/$size" && exec env TANBA_DATABASE_URL="$url" TANBA_LOG_FILTER=warn \
     "$root/target/release/tanba" serve --demo --listen 127.0.0.1:18180 >demo.txt 2>log.txt) &
  pid=$!
  for _ in $(seq 1 300); do grep -qE '^\s+genuine\s' "$work/$size/demo.txt" 2>/dev/null && break; sleep 0.1; done
  started=$(date +%s)
  step=5000000
  done_rows=0
  while [ "$done_rows" -lt "$size" ]; do
    n=$(( size - done_rows < step ? size - done_rows : step ))
    psql "$url" -qc "INSERT INTO codes (gtin, serial, key_id, signature, status, reason, blocked, owner, order_id, emitted_at)
      SELECT 4650000000000 + (i % 1000), 'f' || lpad(to_hex(i), 12, '0'), 'FILL', '\\x00'::bytea, 2, NULL, FALSE,
             '00000000-0000-0000-0000-000000000001'::uuid, '00000000-0000-0000-0000-000000000002'::uuid, 0
      FROM generate_series($done_rows + 1, $done_rows + $n) AS i" >/dev/null
    done_rows=$(( done_rows + n ))
  done
  psql "$url" -qc "VACUUM ANALYZE codes" >/dev/null
  stored=$(psql "$url" -Atc "SELECT COUNT(*) FROM codes")
  echo "== $stored codes stored (filled in $(( $(date +%s) - started )) s)"

  genuine=$(grep -E '^\s+genuine\s' "$work/$size/demo.txt" | head -n 1 | awk '{print $2}')
  echo "   cached genuine code:"
  wrk -t2 -c64 -d"${duration}s" --latency -H 'Accept: application/json' "$genuine" |
    grep -E 'Requests/sec|^\s+(50|99)%|Non-2xx' | sed 's/^/   /'
  path=$(echo "$genuine" | sed -E 's#^https?://[^/]+##; s#/21/[^?]+#/21/%013d#; s#\?.*##')
  cat >"$work/miss.lua" <<LUA
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("$path", counter), {["Accept"] = "application/json"})
end
LUA
  echo "   unknown code each request (database lookup):"
  wrk -t2 -c64 -d"${duration}s" --latency -s "$work/miss.lua" "http://127.0.0.1:18180" |
    grep -E 'Requests/sec|^\s+(50|99)%|Non-2xx' | sed 's/^/   /'

  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; db=""
done
