use vigil_schema::topology::RuntimeKind;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0510",
    name: "lease-on-keepalived-host",
    severity: Severity::Error,
    summary: "a router with lease arbitration has a member whose host runs keepalived, which cannot hold the lease",
    explanation: r#"## What it does
Rejects lease arbitration on a router that has a member on a host with
`runtime = "keepalived"`.

## Why is this bad
Only `vigild` takes the lease; keepalived knows nothing of it and becomes
master whenever it stops hearing adverts. While a `vigild` member holds the
key and the two cannot hear each other, both claim the VIPs: exactly the
split brain the lease is meant to prevent.

## Example
```toml
[host.legacy]
runtime = "keepalived"

[router.www.arbitration]
lease = { ttl = "3s" }

[router.www.member.legacy]
priority = 100
```

## Fix
Run `vigild` on every member of the router, or use reference-IP
arbitration for it instead of the lease.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(lease) = r.arbitration.as_ref().and_then(|a| a.lease.as_ref()) else {
            continue;
        };
        for m in r.members.values() {
            let Some(host) = cluster.hosts.get(&m.host) else {
                continue;
            };
            if host.runtime.value == RuntimeKind::Keepalived {
                out.push(
                    lint.at(
                        &m.span,
                        format!(
                            "router `{}` arbitrates by lease but member `{}` runs keepalived, which cannot hold \
                             it: cut off from the others, it would claim the VIPs while a vigild member holds the key",
                            r.name, m.host
                        ),
                    )
                    .label("keepalived member")
                    .with(lease.span.clone(), "lease arbitration")
                    .help("run vigild on this host, or use reference-IP arbitration for this router"),
                );
            }
        }
    }
    out
}
