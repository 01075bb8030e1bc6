#!/usr/bin/env bash
# Offline tests of flake.nix and the NixOS module (nix/module.nix).
#
#   nix/tests/run.sh
#
# Needs Debian's nix-bin (Nix 2.8), python3 and cargo. No network: the
# flake's nixpkgs input is replaced by nix/stub-nixpkgs, whose
# buildRustPackage installs the binaries cargo built here (copied to
# nix/stub-nixpkgs/prebuilt/). What this covers and what it cannot is
# described in docs/nixos.md.
#
# Environment:
#   VIGIL_BIN_DIR  directory holding `vigil` and `vigild` (default: cargo
#                  builds them into target/debug).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

# Everything nix needs is set here, nothing is read from the machine's own
# nix.conf: run as root on a machine without the `nixbld` group, nix would
# refuse to build (`build-users-group`), and the stub's builders run the
# host's bash, which a sandbox does not have.
export NIX_CONFIG=$'experimental-features = nix-command flakes\nsubstituters =\nbuild-users-group =\nsandbox = false'

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# No other nix configuration is read: not /etc/nix/nix.conf (NIX_CONF_DIR)
# and not ~/.config/nix/nix.conf or $XDG_CONFIG_HOME's (NIX_USER_CONF_FILES).
mkdir -p "$WORK/nix-conf"
: >"$WORK/nix-conf/nix.conf"
export NIX_CONF_DIR=$WORK/nix-conf
export NIX_USER_CONF_FILES=$WORK/nix-conf/nix.conf

step() { printf '\n== %s\n' "$*"; }
ok() { printf '  ok: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

for tool in nix nix-instantiate python3; do
    command -v "$tool" >/dev/null || fail "$tool not found (Debian: apt-get install nix-bin python3)"
done

# A user configuration that would stop every build is not read.
mkdir -p "$WORK/hostile/nix"
printf 'max-jobs = 0\nbuild-users-group = nixbld\nsandbox = true\n' >"$WORK/hostile/nix/nix.conf"
max_jobs=$(XDG_CONFIG_HOME=$WORK/hostile nix show-config 2>/dev/null | sed -n 's/^max-jobs = //p')
[ -n "$max_jobs" ] && [ "$max_jobs" != 0 ] || fail "nix read \$XDG_CONFIG_HOME/nix/nix.conf (max-jobs = ${max_jobs:-?})"

# --- The binaries ------------------------------------------------------------
step "binaries"
if [ -n "${VIGIL_BIN_DIR:-}" ]; then
    BIN=$VIGIL_BIN_DIR
else
    cargo build --quiet -p vigil -p vigild
    BIN=$ROOT/target/debug
fi
for bin in vigil vigild; do
    [ -x "$BIN/$bin" ] || fail "$BIN/$bin is missing"
done
VIGIL=$BIN/vigil

# The package's source must hold every workspace member: the stub builder
# never runs cargo, so a member left out would only fail on real Nix.
members=$(python3 -c 'import tomllib; print(" ".join(tomllib.load(open("Cargo.toml","rb"))["workspace"]["members"]))')
for m in $members; do
    grep -qE "^\s*\.\./$m\s*$" nix/package.nix \
        || fail "nix/package.nix: workspace member \`$m\` is not in the package's source fileset (cargo would refuse the workspace)"
done
ok "package source holds every workspace member ($members)"

# The module compiles topologies with `vigil build TOPOLOGY --out DIR`.
if ! "$VIGIL" build examples/web-pair.toml --out "$WORK/web-pair" >"$WORK/build.log" 2>&1 \
    || [ ! -f "$WORK/web-pair/web1/plan.json" ]; then
    cat "$WORK/build.log" >&2
    fail "$VIGIL does not implement \`vigil build TOPOLOGY --out DIR\` (or it failed on examples/web-pair.toml); the NixOS module needs it"
fi
ok "vigil build examples/web-pair.toml wrote $(cd "$WORK/web-pair" && echo */ | tr -d /)"

PREBUILT=nix/stub-nixpkgs/prebuilt
rm -rf "$PREBUILT"
mkdir -p "$PREBUILT"
for bin in vigil vigild; do
    # Stripped: the stub copies them into the Nix store on every change.
    strip -o "$PREBUILT/$bin" "$BIN/$bin" 2>/dev/null || cp "$BIN/$bin" "$PREBUILT/$bin"
done
ok "copied to $PREBUILT/ for the stub's buildRustPackage"
# From here on the copies, so a concurrent cargo build cannot make the
# reference artifacts and the Nix-built plans come from different binaries.
VIGIL=$ROOT/$PREBUILT/vigil

# Files of the checkout a clean clone would have (tracked and new, not ignored).
list_sources() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
            [ -e "$f" ] && printf '%s\0' "$f"
        done
    else
        find . -path ./target -prune -o -path ./.git -prune -o -type f -print0
    fi
}

# --- (1) Syntax ----------------------------------------------------------------
step "(1) nix-instantiate --parse on every .nix file"
count=0
while IFS= read -r -d '' f; do
    case "$f" in *.nix) ;; *) continue ;; esac
    nix-instantiate --parse "$f" >/dev/null || fail "syntax error in $f"
    count=$((count + 1))
done < <(list_sources)
[ "$count" -gt 0 ] || fail "no .nix files found"
ok "$count files parse"

# --- (2) nix flake check against the stub nixpkgs ---------------------------
step "(2) nix flake check, nixpkgs overridden by nix/stub-nixpkgs"
# A copy of the sources (not target/, which path: would copy into the store),
# plus the prebuilt binaries the stub needs (ignored by git).
SRC=$WORK/src
mkdir -p "$SRC"
list_sources | tar -c --null -T - -f - | tar -x -C "$SRC" -f -
cp -r "$PREBUILT" "$SRC/$PREBUILT"
flake_args=(--no-write-lock-file --override-input nixpkgs "path:$SRC/nix/stub-nixpkgs")
nix flake check "path:$SRC" "${flake_args[@]}" 2>"$WORK/flake-check.log" \
    || { cat "$WORK/flake-check.log" >&2; fail "nix flake check"; }
ok "flake check: outputs evaluate, nixosModules.default is a module, checks build"

system=$(nix-instantiate --eval --expr builtins.currentSystem --json | tr -d '"')
nix build --no-link "path:$SRC#checks.$system.lint-examples" "path:$SRC#packages.$system.default" \
    "${flake_args[@]}" 2>"$WORK/flake-build.log" || { cat "$WORK/flake-build.log" >&2; fail "nix build"; }
lint_out=$(nix eval --raw "path:$SRC#checks.$system.lint-examples.outPath" "${flake_args[@]}" 2>/dev/null)
pkg_out=$(nix eval --raw "path:$SRC#packages.$system.default.outPath" "${flake_args[@]}" 2>/dev/null)
ok "checks.$system.lint-examples: $(cat "$lint_out")"
for bin in vigil vigild; do
    [ -x "$pkg_out/bin/$bin" ] || fail "packages.$system.default has no bin/$bin"
done
ok "packages.$system.default has bin/vigil and bin/vigild"

# The package's own cargo build, on exactly its source (the fileset of
# nix/package.nix as Nix copied it) against its Cargo.lock, offline and
# --frozen as in the Nix sandbox: a workspace member or a file left out of
# the fileset fails here instead of on every NixOS host. Debug profile and
# this checkout's target directory, so dependencies are not rebuilt.
pkg_src=$(nix eval --raw "path:$SRC#packages.$system.default.src" "${flake_args[@]}" 2>/dev/null)
build_flags=$(nix eval --json "path:$SRC#packages.$system.default.cargoBuildFlags" "${flake_args[@]}" 2>/dev/null \
    | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))')
[ -n "$build_flags" ] || fail "packages.$system.default has no cargoBuildFlags"
cp -r "$pkg_src" "$WORK/package-src"
chmod -R u+w "$WORK/package-src"
# shellcheck disable=SC2086 # the flags are words
(cd "$WORK/package-src" && CARGO_TARGET_DIR=$ROOT/target \
    cargo build --offline --frozen $build_flags --message-format json-render-diagnostics) \
    >"$WORK/package-build.json" 2>"$WORK/package-build.log" \
    || { cat "$WORK/package-build.log" >&2; fail "cargo build --offline --frozen $build_flags on the package's source"; }
built=$(python3 -c '
import json, os, sys
names = set()
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        names.add(os.path.basename(m["executable"]))
print(" ".join(sorted(names)))' "$WORK/package-build.json")
[ "$built" = "vigil vigild" ] || fail "the package's cargo build ($build_flags) produces [$built], not exactly vigil and vigild"
ok "cargo build --offline --frozen $build_flags on the package's source ($(find "$WORK/package-src" -type f | wc -l) files): builds $built"

# --- (3) Module harness and parity with `vigil build` -------------------------
step "(3) module harness (nix/tests/module-eval.nix) and parity with vigil build"
harness() { # harness OUT_JSON [NIX ARGS...]: evaluate with `import module-eval.nix { ARGS }`
    local out=$1
    shift
    nix-instantiate --read-write-mode --eval --strict --json \
        --expr "import $ROOT/nix/tests/module-eval.nix { $* }" >"$out" 2>"$out.log"
}

# expect_failure NAME TEXT ARGS...: the evaluation must fail with TEXT in its error.
expect_failure() { # NAME EXPECTED_TEXT NIX_ARGS...
    local name=$1 expected=$2
    shift 2
    if harness "$WORK/neg.json" "$@"; then
        fail "$name: the harness accepted it"
    fi
    grep -qF -- "$expected" "$WORK/neg.json.log" || { cat "$WORK/neg.json.log" >&2; fail "$name: no \"$expected\" in the error"; }
    ok "$name fails: $(grep -F -m1 -- "$expected" "$WORK/neg.json.log" | sed 's/^ *//')"
}

# nft_check JSON: `nft -c` (in a scratch network namespace) on the ruleset
# NixOS would load: the module's `inet vigil` table and its accepts in the
# firewall's input-allow chain.
if command -v nft >/dev/null && [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    NFT_CHECK=1
else
    NFT_CHECK=0
    echo "  note: nft -c of the generated tables is skipped (needs root, unshare and nftables)"
fi
nft_check() {
    [ "$NFT_CHECK" -eq 1 ] || return 0
    python3 - "$1" >"$1.nft" <<'PY'
import json, sys
net = json.load(open(sys.argv[1]))["config"]["networking"]
print("table inet vigil {\n" + net["nftables"]["tables"]["vigil"]["content"] + "}")
print("table inet nixos-fw {\n  chain input-allow {\n" + net["firewall"].get("extraInputRules", "") + "  }\n}")
PY
    unshare -n nft -c -f "$1.nft" || { cat "$1.nft" >&2; fail "nft -c rejects the module's rules ($1.nft)"; }
}

harness "$WORK/nft.json" || { cat "$WORK/nft.json.log" >&2; fail "harness, web1 with nftables"; }
python3 nix/tests/parity.py "$WORK/nft.json" "$WORK/web-pair" web1 || fail "parity, nftables"
nft_check "$WORK/nft.json"

iptables_net='networking = { hostName = "web1"; nftables.enable = false; };'
harness "$WORK/ipt.json" "$iptables_net" || { cat "$WORK/ipt.json.log" >&2; fail "harness, web1 with iptables"; }
python3 nix/tests/parity.py "$WORK/ipt.json" "$WORK/web-pair" web1 --iptables || fail "parity, iptables"

# Every host of every example, nftables, against that example's build.
for topology in examples/*.toml; do
    name=$(basename "$topology" .toml)
    "$VIGIL" build "$topology" --out "$WORK/ex-$name" >"$WORK/ex-$name.log" 2>&1 \
        || { cat "$WORK/ex-$name.log" >&2; fail "vigil build $topology"; }
    for dir in "$WORK/ex-$name"/*/; do
        host=$(basename "$dir")
        settings="settings = { enable = true; topology = $ROOT/$topology; openFirewall = true; };"
        harness "$WORK/ex-$name-$host.json" "$settings" "networking = { hostName = \"$host\"; nftables.enable = true; };" \
            || { cat "$WORK/ex-$name-$host.json.log" >&2; fail "harness, $topology host $host"; }
        python3 nix/tests/parity.py "$WORK/ex-$name-$host.json" "$WORK/ex-$name" "$host" >"$WORK/parity.out" \
            || { cat "$WORK/parity.out"; fail "parity, $topology host $host"; }
        nft_check "$WORK/ex-$name-$host.json"
        ok "$topology host $host: unit, plan, firewall and kernel modules match vigil build${NFT_CHECK:+ (nft -c: $([ "$NFT_CHECK" -eq 1 ] && echo ok || echo skipped))}"
    done
done

# extraArgs reach ExecStart, shell-quoted.
harness "$WORK/args.json" "settings = { enable = true; topology = $ROOT/examples/web-pair.toml; extraArgs = [ \"--flag\" \"two words\" ]; };" "$iptables_net" \
    || { cat "$WORK/args.json.log" >&2; fail "harness with extraArgs"; }
exec_start=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["systemd"]["services"]["vigil"]["serviceConfig"]["ExecStart"])' "$WORK/args.json")
case "$exec_start" in
    *"/bin/vigild --plan /etc/vigil/plan.json --flag 'two words'") ok "extraArgs: ExecStart = $exec_start" ;;
    *) fail "extraArgs not appended to ExecStart: $exec_start" ;;
esac

# A prebuilt plan (as Ansible ships it) is installed as is, without compiling.
cp "$WORK/web-pair/web1/plan.json" "$WORK/web1-plan.json"
harness "$WORK/plan.json" "settings = { enable = true; plan = $WORK/web1-plan.json; openFirewall = true; };" "$iptables_net" \
    || { cat "$WORK/plan.json.log" >&2; fail "harness with a prebuilt plan"; }
grep -q 'vigil-plan-' "$WORK/plan.json.log" && fail "a prebuilt plan was compiled again"
grep -q "vigil-prebuilt-plan-web1" "$WORK/plan.json.log" || fail "the prebuilt plan was not checked by vigild --check-plan"
python3 nix/tests/parity.py "$WORK/plan.json" "$WORK/web-pair" web1 --iptables >/dev/null || fail "parity with a prebuilt plan"
ok "plan = <prebuilt web1 plan>: checked by vigild --check-plan, installed unchanged, nothing compiled"

# hostName differing from networking.hostName: vigild is told which host it is.
harness "$WORK/host.json" "settings = { enable = true; topology = $ROOT/examples/web-pair.toml; hostName = \"web2\"; };" "$iptables_net" \
    || { cat "$WORK/host.json.log" >&2; fail "harness with hostName = web2 on a machine named web1"; }
exec_start=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["systemd"]["services"]["vigil"]["serviceConfig"]["ExecStart"])' "$WORK/host.json")
case "$exec_start" in
    *"/bin/vigild --plan /etc/vigil/plan.json --host web2") ok "hostName = web2 on a machine named web1: ExecStart = $exec_start" ;;
    *) fail "hostName differing from networking.hostName is not passed to vigild: $exec_start" ;;
esac

# A directory of topology files (its *.toml, as `vigil build DIR` reads it).
mkdir -p "$WORK/topology-dir"
cp examples/web-pair.toml "$WORK/topology-dir/"
harness "$WORK/dir.json" "settings = { enable = true; topology = $WORK/topology-dir; openFirewall = true; };" "$iptables_net" \
    || { cat "$WORK/dir.json.log" >&2; fail "harness with a topology directory"; }
python3 nix/tests/parity.py "$WORK/dir.json" "$WORK/web-pair" web1 --iptables >"$WORK/parity.out" \
    || { cat "$WORK/parity.out"; fail "parity with a topology directory"; }
ok "topology = <directory holding web-pair.toml>: same unit, plan and firewall as the file"

# A corrupt prebuilt plan fails the build with the runtime's complaint.
echo '{"format_version": 1}' >"$WORK/corrupt-plan.json"
expect_failure "a corrupt prebuilt plan" "is not a valid plan" \
    "settings = { enable = true; plan = $WORK/corrupt-plan.json; };" "$iptables_net"

expect_failure "misspelt option services.vigil.topolgy" "The option \`services.vigil.topolgy' does not exist" \
    "settings = { enable = true; topolgy = $ROOT/examples/web-pair.toml; };" "$iptables_net"
expect_failure "openFirewall = \"yes\" (not a bool)" "is not of type \`boolean'" \
    "settings = { enable = true; topology = $ROOT/examples/web-pair.toml; openFirewall = \"yes\"; };" "$iptables_net"
expect_failure "a host that is not in the topology" "host 'db9' is not in the topology" \
    "settings = { enable = true; topology = $ROOT/examples/web-pair.toml; hostName = \"db9\"; };"
expect_failure "web2's prebuilt plan on web1" "is for host 'web2', not 'web1'" \
    "settings = { enable = true; plan = $WORK/web-pair/web2/plan.json; };" "$iptables_net"
# The module itself setting a NixOS option that does not exist (a copy of
# module.nix next to it, with reloadTriggers misspelt).
sed 's/reloadTriggers = \[ planFile \];/reloadTrigger = [ planFile ];/' nix/module.nix >"$SRC/nix/module-misspelt.nix"
grep -q 'reloadTrigger = ' "$SRC/nix/module-misspelt.nix" || fail "could not misspell reloadTriggers in a copy of module.nix"
expect_failure "module.nix setting systemd.services.vigil.reloadTrigger" \
    "The option \`systemd.services.vigil.reloadTrigger' does not exist" \
    "modulePath = $SRC/nix/module-misspelt.nix;" "$iptables_net"
# The unit follows compiler/templates/unit.json: a setting added there
# appears in systemd.services.vigil; a Debian-only path there fails loudly.
cp -r "$SRC" "$WORK/drift"
python3 - "$ROOT/compiler/templates/unit.json" "$WORK/drift/compiler/templates/unit.json" <<'PY'
import json, sys
unit = json.load(open(sys.argv[1]))
unit["Service"]["ProtectProc"] = "invisible"
json.dump(unit, open(sys.argv[2], "w"), indent=2)
PY
harness "$WORK/drift.json" "modulePath = $WORK/drift/nix/module.nix;" "$iptables_net" \
    || { cat "$WORK/drift.json.log" >&2; fail "harness with a setting added to unit.json"; }
grep -q '"ProtectProc":"invisible"' "$WORK/drift.json" || fail "a setting added to unit.json did not reach systemd.services.vigil"
ok "a setting added to unit.json (ProtectProc=invisible) reaches systemd.services.vigil.serviceConfig"
python3 - "$ROOT/compiler/templates/unit.json" "$WORK/drift/compiler/templates/unit.json" <<'PY'
import json, sys
unit = json.load(open(sys.argv[1]))
unit["Service"]["ExecStartPre"] = "/usr/sbin/modprobe ip_vs"
json.dump(unit, open(sys.argv[2], "w"), indent=2)
PY
expect_failure "unit.json with ExecStartPre=/usr/sbin/modprobe" "ExecStartPre uses /usr/sbin/modprobe, which does not exist on NixOS" \
    "modulePath = $WORK/drift/nix/module.nix;" "$iptables_net"
# NixOS's own types for what unit.json feeds the unit: a unit name that is
# not one, an unknown Type= or Restart=, a two-line Description fail here as
# they would on NixOS.
for edit in 'Unit Wants network online' 'Service Type daemon' 'Service Restart sometimes' $'Unit Description two\nlines'; do
    section=${edit%% *}; rest=${edit#* }; key=${rest%% *}; value=${rest#* }
    python3 - "$ROOT/compiler/templates/unit.json" "$WORK/drift/compiler/templates/unit.json" "$section" "$key" "$value" <<'PY'
import json, sys
unit = json.load(open(sys.argv[1]))
unit[sys.argv[3]][sys.argv[4]] = sys.argv[5]
json.dump(unit, open(sys.argv[2], "w"), indent=2)
PY
    expect_failure "unit.json with $section.$key = $(printf %q "$value")" "is not of type" \
        "modulePath = $WORK/drift/nix/module.nix;" "$iptables_net"
done
cp "$ROOT/compiler/templates/unit.json" "$WORK/drift/compiler/templates/unit.json"

# restartIfChanged is the host's choice (HA pairs often set false, so a
# deploy does not fail over): the module leaves it to NixOS's default.
harness "$WORK/restart.json" "hostConfig = { systemd.services.vigil.restartIfChanged = false; };" "$iptables_net" \
    || { cat "$WORK/restart.json.log" >&2; fail "the host setting systemd.services.vigil.restartIfChanged = false"; }
restart=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["systemd"]["services"]["vigil"]["restartIfChanged"])' "$WORK/restart.json")
[ "$restart" = False ] || fail "restartIfChanged = false from the host became $restart"
ok "the host's systemd.services.vigil.restartIfChanged = false is kept (no conflicting definition)"
# The harness does report conflicting definitions, so the check above can fail.
expect_failure "a conflicting definition of description" "conflicting definition values" \
    "hostConfig = { systemd.services.vigil.description = \"something else\"; };" "$iptables_net"

# firewalld: the module cannot place rules there, and says so.
harness "$WORK/firewalld.json" "networking = { hostName = \"web1\"; nftables.enable = true; firewall.backend = \"firewalld\"; };" \
    || { cat "$WORK/firewalld.json.log" >&2; fail "harness with networking.firewall.backend = firewalld"; }
python3 - "$WORK/firewalld.json" <<'PY' || fail "no openFirewall warning with firewalld, or rules placed in a firewall that is not used"
import json, sys
out = json.load(open(sys.argv[1]))
warnings = [w for w in out["warnings"] if "firewalld" in w and "10.20.0.12" in w]
assert warnings, out["warnings"]
fw = out["config"]["networking"].get("firewall", {})
assert not fw.get("extraInputRules") and not fw.get("extraCommands"), fw
print("  ok: firewalld: " + warnings[0][:110] + "...")
PY

expect_failure "neither topology nor plan" "set \`topology\` (the cluster TOML) or \`plan\`" \
    'settings = { enable = true; };' "$iptables_net"

# --- (4) A broken topology fails the plan derivation with the lint in the log --
step "(4) a topology with errors fails the build, with the compiler's diagnostics"
broken=examples/broken/vrid-collision.toml
[ -f "$broken" ] || fail "$broken is missing"
if "$VIGIL" check "$broken" >"$WORK/check.out" 2>"$WORK/check.err"; then
    fail "vigil check accepted $broken"
fi
codes=$(grep -oE '\bV[0-9]{4}\b' "$WORK/check.err" | sort -u || true)
[ -n "$codes" ] || { cat "$WORK/check.err" >&2; fail "vigil check $broken printed no lint code"; }
host=$(grep -oE '^\[host\.[A-Za-z0-9_-]+' "$broken" | head -n1 | sed 's/^\[host\.//')
[ -n "$host" ] || fail "no [host.*] table in $broken"
if harness "$WORK/broken.json" "settings = { enable = true; topology = $ROOT/$broken; hostName = \"$host\"; };" "$iptables_net"; then
    fail "the harness accepted $broken"
fi
grep -q "vigil-plan-$host.drv' failed" "$WORK/broken.json.log" \
    || { cat "$WORK/broken.json.log" >&2; fail "the plan derivation did not fail"; }
for code in $codes; do
    grep -q "$code" "$WORK/broken.json.log" || { cat "$WORK/broken.json.log" >&2; fail "lint $code is not in the build log"; }
    ok "$broken: the plan derivation failed and the build log shows $code: $(grep -m1 "$code" "$WORK/broken.json.log" | sed 's/^ *//')"
done
grep -q "has errors (diagnostics above)" "$WORK/broken.json.log" || fail "the derivation's own message is missing"
# `nix build` and `nixos-rebuild` print only the last 10 lines of a failed
# build's log (nix-instantiate here prints all of it): those must name every
# error with its file and line.
last=$(sed -n "/^building '.*vigil-plan-$host.drv'/,/^error: builder for/p" "$WORK/broken.json.log" \
    | sed '1d;$d' | tail -n 10)
[ -n "$last" ] || { cat "$WORK/broken.json.log" >&2; fail "no build log of the plan derivation in the output"; }
for code in $codes; do
    line=$(grep -m1 -E "$(basename "$broken"):[0-9]+:[0-9]+: error $code " <<<"$last") \
        || { echo "$last" >&2; fail "$code with file:line is not in the last 10 log lines"; }
    ok "last 10 log lines name it: $(sed 's/^[ >|]*//' <<<"$line")"
done
first=$(echo "$codes" | head -n1)
echo "  build log (excerpt):"
grep -A 12 -m1 "$first" "$WORK/broken.json.log" | sed 's/^/    | /'

printf '\nall Nix tests passed\n'
