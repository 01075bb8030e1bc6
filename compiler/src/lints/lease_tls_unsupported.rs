use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0508",
    name: "lease-tls-unsupported",
    severity: Severity::Error,
    summary: "the [lease] store has TLS settings, which vigild does not support yet",
    explanation: r#"## What it does
Rejects `[lease.tls]` (and `https://` endpoints, which `lease-store`
reports).

## Why is this bad
`vigild` talks to etcd over plain HTTP only. Accepting TLS files and then
connecting in clear would send the lease traffic unprotected while the
topology says otherwise; refusing to connect would leave every router
without a master.

## Example
```toml
[lease]
endpoints = ["http://10.0.9.1:2379"]
tls = { ca_file = "/etc/vigil/etcd-ca.pem" }
```

## Fix
Remove `tls` and reach etcd over a network you trust (a management VLAN,
or etcd listening on a dedicated address), or do not use lease
arbitration until TLS is supported.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let Some(span) = cluster.lease_store.as_ref().and_then(|s| s.tls.as_ref()) else {
        return Vec::new();
    };
    vec![
        lint.at(
            span,
            "TLS to the lease store is not supported yet: vigild speaks plain HTTP to etcd",
        )
        .label("not supported")
        .help("remove `tls` and reach etcd over a trusted network, or do not use lease arbitration yet"),
    ]
}
