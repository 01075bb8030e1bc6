#!/usr/bin/env bash
# Health-check load: vigild's health checking of N real servers (HTTP GET,
# 1 s interval) on one core; prints CPU, RSS and check rate as a table.
#
#   bench/health/run.sh [N=5000] [SECONDS=60]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-5000}"
SECONDS_RUN="${2:-60}"
PORT=20000
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p vigil-bench --bin health-load
BIN=target/release/health-load
"$BIN" serve "$N" "$PORT" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
sleep 1
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
taskset -c 0 "$BIN" check "$N" "$PORT" "$SECONDS_RUN"
