use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, lease_endpoint};

pub static LINT: Lint = Lint {
    code: "V0507",
    name: "lease-store",
    severity: Severity::Error,
    summary: "a router uses a lease but the [lease] store is missing, has no endpoints, or an endpoint is not http://ADDRESS:PORT",
    explanation: r#"## What it does
Checks the cluster's `[lease]` table when a router uses lease arbitration:
it must exist, list at least one endpoint, and every endpoint must be
`http://ADDRESS:PORT` with an IP address (the port defaults to 2379).

## Why is this bad
A member may be master only while it holds the router's key in the store.
Without a reachable store no member ever holds it, so no member ever
becomes master: the VIPs are down everywhere. `vigild` resolves no host
names (name lookups would block the loop that also sends adverts), and it
speaks plain HTTP only.

## Example
```toml
[lease]
endpoints = ["etcd1.example.net:2379"]

[router.www.arbitration]
lease = { ttl = "3s" }
```

## Fix
List every member of the etcd cluster by address:
`endpoints = ["http://10.0.9.1:2379", "http://10.0.9.2:2379", "http://10.0.9.3:2379"]`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let users: Vec<_> = cluster
        .routers
        .values()
        .filter_map(|r| Some((r, r.arbitration.as_ref()?.lease.as_ref()?)))
        .collect();
    let Some((first, first_lease)) = users.first() else {
        return out;
    };
    let Some(store) = &cluster.lease_store else {
        out.push(
            lint.at(
                &first_lease.span,
                format!(
                    "router `{}` uses a lease but the topology has no [lease] store: no member could ever \
                     hold the key, so none would ever become master",
                    first.name
                ),
            )
            .label("lease without a store")
            .help("add `[lease]` with `endpoints = [\"http://ADDRESS:2379\", ...]`"),
        );
        return out;
    };
    if store.endpoints.is_empty() {
        out.push(
            lint.at(
                &store.span,
                "the [lease] store has no endpoints: no member could ever hold a key, so none would ever \
                 become master",
            )
            .label("no endpoints")
            .help("list the etcd members: `endpoints = [\"http://ADDRESS:2379\", ...]`"),
        );
    }
    for e in &store.endpoints {
        if let Err(why) = lease_endpoint(&e.value) {
            out.push(
                lint.at(
                    &e.span,
                    format!("lease endpoint `{}` cannot be used: {why}", e.value),
                )
                .label("not http://ADDRESS:PORT")
                .help("write the etcd member's client URL with its IP address, e.g. \"http://10.0.9.1:2379\""),
            );
        }
    }
    out
}
