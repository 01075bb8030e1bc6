use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0501",
    name: "missing-arbitration",
    severity: Severity::Error,
    summary: "a router with several members has no split-brain arbitration and no stated reason",
    explanation: r#"## What it does
Every router with two or more members needs `[router.X.arbitration]` with
reference IPs (its own `reference_ips`, or the segment's) or a lease
(`lease = { ttl = "3s" }`), unless `accept_split_brain` states why not.

## Why is this bad
VRRP alone cannot tell "the peer died" from "I cannot hear the peer". When
the link between members breaks (switch fault, multicast filtering), both
become master and both answer for the VIPs. Arbitration by reference IPs
(typically the gateway) lets an isolated member release the VIPs instead.

## Example
```toml
[router.www.member.web1]
priority = 150
[router.www.member.web2]
priority = 100
# no [router.www.arbitration]
```

## Fix
Add `[router.www.arbitration]` and give the segment (or the arbitration)
`reference_ips = ["<gateway>"]`; or write
`accept_split_brain = "<why this is acceptable>"`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        if r.members.len() < 2 || r.accept_split_brain.is_some() {
            continue;
        }
        match &r.arbitration {
            None => out.push(
                lint.at(
                    &r.span,
                    format!(
                        "router `{}` has {} members and no arbitration: if they stop hearing each other, \
                         all of them become master and answer for the VIPs (split brain)",
                        r.name,
                        r.members.len()
                    ),
                )
                .label("no [arbitration]")
                .help(format!(
                    "add `[router.{}.arbitration]` with reference IPs (e.g. the gateway), or \
                     `accept_split_brain = \"<reason>\"`",
                    r.name
                )),
            ),
            // With an unknown segment `unknown-segment` speaks first.
            Some(arb)
                if arb.lease.is_none()
                    && cluster.reference_ips(r).is_empty()
                    && cluster.segments.contains_key(&r.segment.value) =>
            {
                out.push(
                lint.at(
                    &arb.span,
                    format!(
                        "router `{}` has arbitration but no reference IPs (neither its own nor segment `{}`'s): \
                         there is nothing to probe, so split brain is not prevented",
                        r.name, r.segment.value
                    ),
                )
                .label("no reference IPs")
                .help(format!(
                    "add `reference_ips = [\"<gateway>\"]` here or to `[segment.{}]`",
                    r.segment.value
                )),
                )
            }
            Some(_) => {}
        }
    }
    out
}
