#!/usr/bin/env bash
# Time `vigil check` on a large synthetic topology (default: 1000 hosts,
# 2000 virtual routers) and print wall time and peak RSS.
#
#   bench/check-large.sh [HOSTS] [ROUTERS]
#
# Builds the release `vigil` and `gen-topology`, writes the topology and the
# compiler's output under target/bench/, and measures with GNU time.
set -euo pipefail

HOSTS="${1:-1000}"
ROUTERS="${2:-2000}"

cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y time >&2
    else
        echo "check-large: GNU time (/usr/bin/time) is missing; install the 'time' package" >&2
        exit 1
    fi
fi

echo "check-large: building release binaries" >&2
cargo build --release --quiet -p vigil --bin vigil -p vigil-bench --bin gen-topology

TOPOLOGY="$OUT/large-${HOSTS}h-${ROUTERS}r.toml"
"$ROOT/target/release/gen-topology" "$HOSTS" "$ROUTERS" > "$TOPOLOGY"

TIMES="$OUT/check-large.time"
LOG="$OUT/check-large.log"
set +e
/usr/bin/time -v -o "$TIMES" "$ROOT/target/release/vigil" check "$TOPOLOGY" > "$LOG" 2>&1
STATUS=$?
set -e

# GNU time prints "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23".
WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f s", s }' "$TIMES")
RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }' "$TIMES")
SIZE=$(du -k "$TOPOLOGY" | awk '{ printf "%.1f MiB", $1 / 1024 }')
LINES=$(wc -l < "$TOPOLOGY")

printf '\n| %-22s | %s |\n' "vigil check" "result"
printf '| %-22s | %s |\n' "----------------------" "------"
printf '| %-22s | %s |\n' "hosts" "$HOSTS"
printf '| %-22s | %s |\n' "virtual routers" "$ROUTERS"
printf '| %-22s | %s (%s lines) |\n' "topology size" "$SIZE" "$LINES"
printf '| %-22s | %s |\n' "exit status" "$STATUS"
printf '| %-22s | %s |\n' "wall time" "$WALL"
printf '| %-22s | %s |\n' "peak RSS" "$RSS"
echo
echo "topology: $TOPOLOGY"
echo "output:   $LOG ($(wc -l < "$LOG") lines)"
if [ "$STATUS" -ne 0 ]; then
    echo "check-large: vigil check exited with $STATUS on a topology meant to be clean; see $LOG" >&2
    tail -n 20 "$LOG" >&2
    exit "$STATUS"
fi
