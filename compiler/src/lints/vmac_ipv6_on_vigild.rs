use vigil_schema::topology::RuntimeKind;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0609",
    name: "vmac-ipv6-on-vigild",
    severity: Severity::Error,
    summary: "a virtual MAC on an IPv6 router with a member running vigild",
    explanation: r#"## What it does
Reports `vmac = true` on an IPv6 router when a member host runs `vigild`.

## Why is this bad
`vigild` supports virtual MACs for IPv4 routers only. An IPv6 router's
adverts must leave from a link-local address of the interface that sends
them; the macvlan has none of its own (every member's would be the same),
so the adverts could not be sent and the backups would take over.
keepalived hosts are not concerned.

## Example
```toml
[router.v6]
vips = ["fe80::100/64", "2001:db8::100/64"]
vmac = true
```

## Fix
Leave `vmac` off for IPv6 routers (unsolicited neighbour advertisements
move the VIPs), or run keepalived on those hosts.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values().filter(|r| r.vmac.value) {
        if !r.vips.first().is_some_and(|v| v.addr.is_ipv6()) {
            continue;
        }
        let vigild: Vec<&str> = r
            .members
            .keys()
            .filter(|h| {
                cluster
                    .hosts
                    .get(*h)
                    .is_some_and(|h| h.runtime.value == RuntimeKind::Vigild)
            })
            .map(String::as_str)
            .collect();
        if vigild.is_empty() {
            continue;
        }
        let span = r.vmac.span.clone().unwrap_or_else(|| r.span.clone());
        out.push(
            lint.at(
                &span,
                format!(
                    "router `{}` is IPv6 and vigild runs on `{}`: vigild has no virtual MAC for IPv6, \
                     the router's adverts could not be sent from the macvlan",
                    r.name,
                    vigild.join("`, `")
                ),
            )
            .label("virtual MAC on an IPv6 router")
            .help("leave `vmac` off for this router"),
        );
    }
    out
}
