#!/usr/bin/env bash
# Time `vigil lsp` from an edit to the published diagnostics on a large
# synthetic topology (default: 1000 hosts, 2000 virtual routers).
#
#   bench/lsp-edit.sh [HOSTS] [ROUTERS] [EDITS]
#
# Builds the release `vigil`, `gen-topology` and `lsp-edit`, writes the
# topology under target/bench/ and runs `lsp-edit` (bench/src/bin/lsp-edit.rs).
# DEBOUNCE_MS=N overrides the server's debounce delay (default 10 ms).
set -euo pipefail

HOSTS="${1:-1000}"
ROUTERS="${2:-2000}"
EDITS="${3:-40}"

cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

echo "lsp-edit: building release binaries" >&2
cargo build --release --quiet -p vigil --bin vigil -p vigil-bench --bin gen-topology --bin lsp-edit

TOPOLOGY="$OUT/large-${HOSTS}h-${ROUTERS}r.toml"
"$ROOT/target/release/gen-topology" "$HOSTS" "$ROUTERS" > "$TOPOLOGY"
"$ROOT/target/release/lsp-edit" "$ROOT/target/release/vigil" "$TOPOLOGY" "$EDITS"
