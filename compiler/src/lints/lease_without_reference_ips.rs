use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0509",
    name: "lease-without-reference-ips",
    severity: Severity::Warning,
    summary: "a router arbitrates by lease only: a master that lost its gateway but still reaches the store keeps the VIPs",
    explanation: r#"## What it does
Warns when a router's arbitration has a lease but no reference IPs
(neither its own nor its segment's).

## Why is this bad
The lease answers "who may be master", not "can this member serve". A
master whose uplink to the gateway broke but whose path to the store
still works keeps its lease, so it keeps the VIPs and the backup, which
could serve, cannot take over. Reference IPs put such a master in FAULT;
it then gives the lease back and the backup takes over. The two defences
combine: a member must reach a reference IP and hold the lease.

## Example
```toml
[router.www.arbitration]
lease = { ttl = "3s" }     # and no reference_ips anywhere
```

## Fix
Add `reference_ips = ["<gateway>"]` to the arbitration or to the segment,
or a tracker on the uplink.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(lease) = r.arbitration.as_ref().and_then(|a| a.lease.as_ref()) else {
            continue;
        };
        if cluster.reference_ips(r).is_empty() && cluster.segments.contains_key(&r.segment.value) {
            out.push(
                lint.at(
                    &lease.span,
                    format!(
                        "router `{}` arbitrates by lease only: a master that cannot reach the gateway but \
                         still reaches the store keeps its VIPs",
                        r.name
                    ),
                )
                .label("lease without reference IPs")
                .help(format!(
                    "add `reference_ips = [\"<gateway>\"]` here or to `[segment.{}]`",
                    r.segment.value
                )),
            );
        }
    }
    out
}
