use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0308",
    name: "owner-without-address",
    severity: Severity::Warning,
    summary: "a priority-255 member does not own any of the router's VIPs",
    explanation: r#"## What it does
Priority 255 is reserved for the address owner: the host whose real
address is the VIP. This lint warns when such a member's host has none of
the router's VIPs among its addresses.

## Why is this bad
An owner skips the election, ignores trackers and always preempts. Used as
"very high priority" on an ordinary host, it makes that host grab the VIPs
back at once after every restart, even when it is unhealthy.

## Example
```toml
[router.www.member.web1]
priority = 255       # web1's address is 10.20.0.11, the VIP is 10.20.0.100
```

## Fix
Use 254 or lower for a preferred member that does not own the address.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for m in r.members.values().filter(|m| m.priority.value == 255) {
            let Some(host) = cluster.hosts.get(&m.host) else {
                continue;
            };
            let owns = host
                .interfaces
                .values()
                .flat_map(|i| &i.addresses)
                .any(|a| r.vips.iter().any(|v| v.addr == a.addr));
            if !owns {
                out.push(
                    lint.at(
                        &m.priority.span,
                        format!(
                            "`{}` has priority 255 in router `{}` but owns none of its VIPs: it skips the election, \
                             ignores trackers and takes the VIPs back at every restart",
                            m.host, r.name
                        ),
                    )
                    .label("address-owner priority")
                    .help("use a priority of 254 or lower"),
                );
            }
        }
    }
    out
}
