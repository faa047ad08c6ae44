#!/usr/bin/env bash
# Does a flood of violation reports slow scans? Scan throughput and latency of
# a cached genuine code (in-process cache, SQLite, scan recording on), at 64
# connections, measured twice in one run:
#   1. alone;
#   2. while 8 more connections post reports as fast as the service takes
#      them, each with one 2000×1500 photo (about 7 MB) (decoded, downscaled, re-encoded)
#      and a different place, so none is a duplicate; the rate limits are
#      raised to their maximum, so every report is processed (the worst case:
#      in service most of a flood from one address gets 429 at once).
# Photos are decoded on one thread under SCHED_IDLE (api/src/reports/photos.rs),
# so the scan workers get the cores first. The flood's wrk runs at niceness 19,
# standing in for clients on other machines (it builds each 7 MB body in Lua).
#
#   bench/scan-under-reports.sh            15 s per run
#   DURATION=30 bench/scan-under-reports.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-15}
port=18090

command -v wrk >/dev/null 2>&1 || {
  [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk >/dev/null
}
cargo build --release --bin tanba -q

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

(cd "$work" && exec env TANBA_LOG_FILTER=warn \
   TANBA_REPORT_LIMIT_PER_IP_PER_HOUR=100000 TANBA_REPORT_LIMIT_PER_DEVICE_PER_HOUR=100000 \
   "$root/target/release/tanba" serve --demo --listen "127.0.0.1:$port" >demo.txt 2>log.txt) &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
for _ in $(seq 1 100); do grep -qE '^\s+genuine\s' "$work/demo.txt" 2>/dev/null && break; sleep 0.1; done
url=$(grep -E '^\s+genuine\s' "$work/demo.txt" | head -n 1 | awk '{print $2}')
curl -sf -H 'Accept: application/json' "$url" >/dev/null

# A photo-like PNG (gradient and noise, about 7 MB), made with Python's
# standard library only.
python3 - "$work/photo.png" <<'PY'
import random, struct, sys, zlib
w, h = 2000, 1500
rnd = random.Random(7)
rows = []
for y in range(h):
    row = bytearray(b"\x00")
    for x in range(w):
        n = rnd.randrange(24)
        row += bytes(((x // 10 + n) & 255, (y // 8 + n) & 255, ((x + y) // 16 + n) & 255))
    rows.append(bytes(row))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY

cat >"$work/report.lua" <<LUA
local f = assert(io.open("$work/photo.png", "rb"))
local photo = f:read("*a")
f:close()
local boundary = "tanba-bench-boundary"
counter = 0
request = function()
  counter = counter + 1
  local report = string.format(
    '{"kind":"NO_MARKING","place":{"lat":%.4f,"lon":76.8897},"comment":"bench %d"}',
    43.0 + (counter % 9000) / 10000 + math.random(0, 999) / 10000000, counter)
  local body = "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="report"\r\nContent-Type: application/json\r\n\r\n' ..
    report .. "\r\n--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="photo"; filename="p.png"\r\nContent-Type: image/png\r\n\r\n' ..
    photo .. "\r\n--" .. boundary .. "--\r\n"
  return wrk.format("POST", "/v1/reports", {
    ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
    ["X-Device-Id"] = "bench-" .. counter,
  }, body)
end
LUA

scan() {
  wrk -t1 -c64 -d"${duration}s" --latency -H 'Accept: application/json' "$url" |
    grep -E 'Requests/sec|^\s+(50|99)%|Non-2xx|Socket errors' | sed 's/^/   /'
}

echo "photo: $(wc -c <"$work/photo.png") bytes; ${duration}s per run"
echo "== scan alone (64 connections)"
scan
echo "== scan while reports flood in (64 + 8 connections)"
nice -n 19 wrk -t1 -c8 -d"$((duration + 2))s" --timeout 30s -s "$work/report.lua" "http://127.0.0.1:$port" >"$work/flood.txt" 2>&1 &
flood=$!
sleep 1
scan
wait "$flood" || true
echo "== the flood itself"
grep -E 'Requests/sec|^\s+(50|99)%|Non-2xx|Socket errors|requests in' "$work/flood.txt" | sed 's/^/   /'
echo "   reports stored: $(sqlite3 "$work"/*.db 'SELECT count(*) FROM reports' 2>/dev/null || echo '(sqlite3 not installed)')"
