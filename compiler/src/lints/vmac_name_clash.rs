use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, family_of};

pub static LINT: Lint = Lint {
    code: "V0608",
    name: "vmac-name-clash",
    severity: Severity::Error,
    summary: "two virtual-MAC routers of one host would share a macvlan name and MAC",
    explanation: r#"## What it does
Reports two routers with `vmac = true`, the same VRID and the same address
family that have a member in common (on two segments, which the VRID rules
allow).

## Why is this bad
A router's virtual MAC interface is named after its VRID (`vrrp.VRID`,
`vrrp6.VRID`, as keepalived names it) and its MAC is `00:00:5e:00:01:VRID`:
on the shared host both routers would want the same interface, and the
second one would never get its VIPs.

## Example
```toml
[router.front]
segment = "front"
vrid = 51
vmac = true

[router.back]
segment = "back"
vrid = 51
vmac = true
```

## Fix
Give one of them another VRID, or leave `vmac` off on one.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // (host, family, vrid) -> the first router that claims it.
    let mut seen: BTreeMap<(String, bool, i64), &str> = BTreeMap::new();
    for r in cluster.routers.values().filter(|r| r.vmac.value) {
        let Some(family) = r.vips.first().map(|v| family_of(v.addr)) else {
            continue;
        };
        let v4 = matches!(family, vigil_schema::plan::Family::Ipv4);
        for host in r.members.keys() {
            let key = (host.clone(), v4, r.vrid.value);
            match seen.get(&key) {
                Some(first) => {
                    let span = r.vmac.span.clone().unwrap_or_else(|| r.span.clone());
                    out.push(
                        lint.at(
                            &span,
                            format!(
                                "routers `{first}` and `{}` both use a virtual MAC with VRID {} on `{host}`: \
                                 they would share the macvlan `vrrp{}.{}` and its MAC, and one never gets its VIPs",
                                r.name,
                                r.vrid.value,
                                if v4 { "" } else { "6" },
                                r.vrid.value
                            ),
                        )
                        .label("virtual MAC")
                        .help("give one of them another VRID, or set `vmac = false` on one"),
                    );
                    break; // one report per router
                }
                None => {
                    seen.insert(key, &r.name);
                }
            }
        }
    }
    out
}
