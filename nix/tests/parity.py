#!/usr/bin/env python3
"""Parity between the NixOS and the Ansible delivery paths for one host.

    parity.py MODULE_EVAL_JSON ARTIFACTS_DIR HOST [--iptables]

MODULE_EVAL_JSON is the output of nix/tests/module-eval.nix for HOST;
ARTIFACTS_DIR is what `vigil build` wrote for the same topology. Compares:
  * the unit: every [Unit], [Service] and [Install] key and value of
    ARTIFACTS_DIR/HOST/vigild.service with systemd.services.vigil, modulo the
    directory of the binaries (/usr/local/sbin vs /nix/store/...);
  * the plan: /etc/vigil/plan.json's source has the same bytes as HOST/plan.json;
  * the firewall: the rules of HOST/nftables.conf's `inet vigil` input chain
    with the module's nftables table (or, with --iptables, the
    interface/family/source-address sets of its iptables lines);
  * the kernel modules: ip_vs plus one per scheduler when the plan has
    virtual servers.
Prints each check; exits 1 on the first difference.
"""

import json
import re
import shlex
import sys
from pathlib import Path

# Keys of systemd.services.<name> that NixOS adds on top of unit.json.
NIXOS_ONLY = {"reloadTriggers", "restartIfChanged", "unitConfig", "serviceConfig"}
UNIT_LISTS = {
    "documentation": "Documentation",
    "wants": "Wants",
    "after": "After",
    "before": "Before",
    "requires": "Requires",
    "bindsTo": "BindsTo",
    "partOf": "PartOf",
    "conflicts": "Conflicts",
}
INSTALL_LISTS = {"wantedBy": "WantedBy", "requiredBy": "RequiredBy"}

STORE_BIN = re.compile(r"^/nix/store/[a-z0-9]{32}-[^/]+/(?:s?bin)/(?P<name>[^/]+)$")
FHS_BIN = re.compile(r"^/(?:usr/(?:local/)?)?s?bin/(?P<name>[^/]+)$")


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def ok(message):
    print(f"  ok: {message}")


def program_name(word):
    """The binary's name for a path in either layout; other words unchanged."""
    for pattern in (STORE_BIN, FHS_BIN):
        m = pattern.match(word)
        if m:
            return m.group("name")
    return word


def normalise(key, value):
    if key.startswith("Exec"):
        return " ".join(program_name(w) for w in value.split())
    return value


def parse_unit(text):
    sections = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            fail(f"vigild.service: unexpected line {line!r}")
        key, value = line.split("=", 1)
        if key in current:
            fail(f"vigild.service: {key} appears twice")
        current[key] = value
    return sections


def nixos_unit(service):
    """The unit file NixOS would write, as sections, from systemd.services.vigil."""
    unit = {"Description": service["description"]}
    install = {}
    for option, key in UNIT_LISTS.items():
        if service.get(option):
            unit[key] = " ".join(service[option])
    for option, key in INSTALL_LISTS.items():
        if service.get(option):
            install[key] = " ".join(service[option])
    unit.update(service.get("unitConfig", {}))
    unknown = set(service) - NIXOS_ONLY - set(UNIT_LISTS) - set(INSTALL_LISTS) - {"description"}
    if unknown:
        fail(f"systemd.services.vigil sets {sorted(unknown)}, which this comparison does not know")
    return {"Unit": unit, "Service": dict(service["serviceConfig"]), "Install": install}


def compare_sections(nix, ansible):
    for section in ("Unit", "Service", "Install"):
        a = {k: normalise(k, v) for k, v in ansible.get(section, {}).items()}
        n = {k: normalise(k, str(v)) for k, v in nix.get(section, {}).items()}
        if a != n:
            for key in sorted(set(a) | set(n)):
                if a.get(key) != n.get(key):
                    print(f"    [{section}] {key}: vigild.service={a.get(key)!r} NixOS={n.get(key)!r}")
            fail(f"[{section}] differs between vigild.service and systemd.services.vigil")
        ok(f"[{section}]: {len(a)} keys identical (binary paths aside)")


RULE_SET = re.compile(r"\{([^}]*)\}")


def normalise_rule(line):
    """One nft rule, whitespace collapsed and anonymous set elements sorted."""
    line = " ".join(line.split())
    return RULE_SET.sub(lambda m: "{ " + ", ".join(sorted(e.strip() for e in m.group(1).split(","))) + " }", line)


def chain_rules(text, where):
    """The rules of the `input` chain (declaration lines excluded)."""
    m = re.search(r"chain input \{(.*?)\n\s*\}", text, re.S)
    if not m:
        fail(f"{where}: no `chain input` found")
    rules = []
    for line in m.group(1).splitlines():
        line = line.strip()
        if line and not line.startswith("type "):
            rules.append(normalise_rule(line))
    return rules


ACCEPT = re.compile(r'iifname "(?P<iface>[^"]+)" (?P<family>ip6?) saddr \{ (?P<sources>[^}]*) \} meta l4proto vrrp accept')


def accept_sets(rules):
    sets = set()
    for rule in rules:
        m = ACCEPT.match(rule)
        if m:
            sources = frozenset(s.strip() for s in m.group("sources").split(","))
            sets.add((m.group("iface"), m.group("family"), sources))
    return sets


def iptables_sets(lines):
    sets = set()
    for line in lines.splitlines():
        if not line.strip():
            continue
        words = shlex.split(line)
        family = {"iptables": "ip", "ip6tables": "ip6"}.get(words[0])
        if family is None:
            fail(f"extraCommands: unexpected command {line!r}")
        opts = {}
        i = 1
        while i < len(words):
            if words[i].startswith("-") and i + 1 < len(words):
                opts[words[i]] = words[i + 1]
                i += 2
            else:
                i += 1
        if opts.get("-p") != "112" or opts.get("-A") != "nixos-fw" or opts.get("-j") != "nixos-fw-accept":
            fail(f"extraCommands: not a VRRP accept in nixos-fw: {line!r}")
        sets.add((opts["-i"], family, frozenset(opts["-s"].split(","))))
    return sets


def show(sets):
    return ", ".join(f"{i}/{f}: {{{', '.join(sorted(s))}}}" for i, f, s in sorted(sets, key=lambda t: (t[0], t[1])))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    iptables = "--iptables" in sys.argv
    if len(args) != 3:
        print(__doc__)
        sys.exit(2)
    evaluated = json.loads(Path(args[0]).read_text())
    host_dir = Path(args[1]) / args[2]
    config = evaluated["config"]

    print(f"parity for host {args[2]} ({'iptables' if iptables else 'nftables'} firewall)")
    service = config["systemd"]["services"]["vigil"]
    compare_sections(nixos_unit(service), parse_unit((host_dir / "vigild.service").read_text()))
    if service["serviceConfig"]["ExecStart"].split()[2:3] != ["/etc/vigil/plan.json"]:
        fail(f"ExecStart does not read /etc/vigil/plan.json: {service['serviceConfig']['ExecStart']}")
    source = config["environment"]["etc"]["vigil/plan.json"]["source"]
    if service["reloadTriggers"] != [source]:
        fail(f"reloadTriggers {service['reloadTriggers']} is not the plan {source}")
    ok("ExecStart reads /etc/vigil/plan.json; reloadTriggers = [ the plan ]")

    plan_bytes = (host_dir / "plan.json").read_bytes()
    if Path(source).read_bytes() != plan_bytes:
        fail(f"{source} differs from {host_dir / 'plan.json'}")
    ok(f"plan {source} is byte-identical to vigil build's plan.json")

    ansible_rules = chain_rules((host_dir / "nftables.conf").read_text(), "nftables.conf")
    expected = accept_sets(ansible_rules)
    firewall = config.get("networking", {})
    if iptables:
        if "nftables" in firewall:
            fail("networking.nftables is set although nftables is disabled")
        got = iptables_sets(firewall["firewall"]["extraCommands"])
        if got != expected:
            fail(f"iptables rules {show(got)} != nftables.conf {show(expected)}")
        ok(f"iptables accepts: {show(got)}")
    else:
        table = firewall["nftables"]["tables"]["vigil"]
        if table["family"] != "inet":
            fail(f"table family {table['family']}")
        nix_rules = chain_rules(table["content"], "networking.nftables.tables.vigil")
        if nix_rules != ansible_rules:
            for line in ansible_rules:
                print(f"    nftables.conf: {line}")
            for line in nix_rules:
                print(f"    NixOS table:   {line}")
            fail("the inet vigil input chain differs")
        ok(f"inet vigil chain: {len(nix_rules)} rules identical; accepts {show(expected)}")
        allow = [normalise_rule(l) for l in firewall["firewall"]["extraInputRules"].splitlines() if l.strip()]
        if accept_sets(allow) != expected or len(allow) != len(expected):
            fail(f"networking.firewall.extraInputRules {allow} != the accepts of nftables.conf")
        ok("networking.firewall.extraInputRules admits the same peers")

    plan = json.loads(plan_bytes)
    schedulers = []
    for vs in plan["virtual_servers"]:
        if f"ip_vs_{vs['scheduler']}" not in schedulers:
            schedulers.append(f"ip_vs_{vs['scheduler']}")
    want = ["ip_vs"] + schedulers if plan["virtual_servers"] else []
    got = config.get("boot", {}).get("kernelModules", [])
    if got != want:
        fail(f"boot.kernelModules {got} != {want} (from the plan's virtual servers)")
    ok(f"boot.kernelModules = {got}")


if __name__ == "__main__":
    main()
