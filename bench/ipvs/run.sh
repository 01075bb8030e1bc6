#!/usr/bin/env bash
# IPVS programming speed against a real kernel, in one VM boot
# (tests/vm/kvm-run.sh): 100 services x 100 destinations from a plan through
# vigild's netlink client vs `ipvsadm -R` restoring the same rules, and one
# reconciliation changing 1% of the weights. Prints a Markdown table.
#
#   bench/ipvs/run.sh                      # debug build of the test binary
#   BENCH_PROFILE=release bench/ipvs/run.sh
#
# The guest is emulated (TCG, 1 vCPU), so absolute figures are several
# times slower than on hardware; compare the rows with each other.
set -euo pipefail
cd "$(dirname "$0")/../.."

args=()
if [ "${BENCH_PROFILE:-debug}" = release ]; then args=(--release); fi
bin=$(cargo test -p vigild --test ipvs_bench "${args[@]}" --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*ipvs_bench[^"]*"' | tail -n1 | cut -d'"' -f4)
[ -x "$bin" ] || { echo "bench/ipvs: could not build the ipvs_bench test binary" >&2; exit 1; }

export KVM_RUN_CACHE=${KVM_RUN_CACHE:-$PWD/target/kvm-run-cache}
tests/vm/kvm-run.sh "$bin" --ignored --exact bench_program_10000_destinations --nocapture --test-threads=1 \
    | grep -E '^\|'
