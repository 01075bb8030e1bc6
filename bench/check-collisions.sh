#!/usr/bin/env bash
# Time `vigil check` on a topology whose only mistakes are VRID collisions:
# ROUTERS virtual routers (default 20000) on one segment, VRIDs 1..255 in
# turn, so ROUTERS - 255 of them collide with an earlier router (19,745 for
# 20,000). Measures how the cost of reporting grows with the number of
# diagnostics, for each output format.
#
#   bench/check-collisions.sh [ROUTERS] [FORMAT...]     (formats: human json github sarif)
#
# Uses target/release/vigil (built here unless VIGIL is set to a binary),
# writes the topology and the output under target/bench/, measures with GNU
# time, and checks that exactly ROUTERS - 255 V0101 diagnostics came out.
set -euo pipefail

ROUTERS="${1:-20000}"
shift || true
FORMATS=("$@")
[ "${#FORMATS[@]}" -gt 0 ] || FORMATS=(human)

cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="${CARGO_TARGET_DIR:-$ROOT/target}/bench"
mkdir -p "$OUT"

if [ ! -x /usr/bin/time ]; then
    echo "check-collisions: GNU time (/usr/bin/time) is missing; install the 'time' package" >&2
    exit 1
fi

if [ -z "${VIGIL:-}" ]; then
    echo "check-collisions: building the release vigil" >&2
    cargo build --release --quiet -p vigil --bin vigil
    VIGIL="${CARGO_TARGET_DIR:-$ROOT/target}/release/vigil"
fi

TOPOLOGY="$OUT/collisions-${ROUTERS}r.toml"
# One /16 segment, two hosts, ROUTERS routers with distinct VIPs, two members
# of distinct priorities and arbitration: clean but for the VRIDs.
awk -v n="$ROUTERS" 'BEGIN {
    print "[cluster]\nname = \"collisions\"\n"
    print "[segment.flat]\nsubnets = [\"10.0.0.0/16\"]\nreference_ips = [\"10.0.0.1\"]\n"
    print "[host.a.interface.eth0]\nsegment = \"flat\"\naddresses = [\"10.0.0.11/16\"]\n"
    print "[host.b.interface.eth0]\nsegment = \"flat\"\naddresses = [\"10.0.0.12/16\"]\n"
    for (i = 0; i < n; i++) {
        v = 256 + i
        printf "[router.r%05d]\nsegment = \"flat\"\nvrid = %d\n", i, i % 255 + 1
        printf "vips = [\"10.0.%d.%d/16\"]\narbitration = {}\n", int(v / 256), v % 256
        printf "member.a = { priority = 200 }\nmember.b = { priority = 100 }\n\n"
    }
}' > "$TOPOLOGY"

EXPECTED=$(( ROUTERS > 255 ? ROUTERS - 255 : 0 ))
SIZE=$(du -k "$TOPOLOGY" | awk '{ printf "%.1f MiB", $1 / 1024 }')

printf '\n%s routers on one segment, %s expected collisions, topology %s\n\n' \
    "$ROUTERS" "$EXPECTED" "$SIZE"
printf '| %-7s | %-11s | %-9s | %-9s | %-12s |\n' format diagnostics "wall" "peak RSS" "output"
printf '| %-7s | %-11s | %-9s | %-9s | %-12s |\n' ------- ----------- --------- --------- ------------
STATUS=0
for FORMAT in "${FORMATS[@]}"; do
    TIMES="$OUT/collisions-$FORMAT.time"
    LOG="$OUT/collisions-$FORMAT.out"
    set +e
    /usr/bin/time -v -o "$TIMES" "$VIGIL" check --format "$FORMAT" "$TOPOLOGY" > "$LOG" 2>&1
    CODE=$?
    set -e
    WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
            for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f s", s }' "$TIMES")
    RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }' "$TIMES")
    # Every format names the code once per diagnostic.
    FOUND=$(grep -o 'V0101' "$LOG" | wc -l)
    if [ "$FORMAT" = sarif ]; then
        FOUND=$(grep -o '"ruleId": *"V0101"' "$LOG" | wc -l)
    fi
    BYTES=$(du -k "$LOG" | awk '{ printf "%.1f MiB", $1 / 1024 }')
    printf '| %-7s | %-11s | %-9s | %-9s | %-12s |\n' "$FORMAT" "$FOUND" "$WALL" "$RSS" "$BYTES"
    if [ "$EXPECTED" -gt 0 ] && [ "$CODE" -ne 1 ]; then
        echo "check-collisions: $FORMAT: exit status $CODE, expected 1; see $LOG" >&2
        STATUS=1
    fi
    if [ "$FOUND" -lt "$EXPECTED" ]; then
        echo "check-collisions: $FORMAT: $FOUND V0101 diagnostics, expected $EXPECTED; see $LOG" >&2
        STATUS=1
    fi
done
exit "$STATUS"
