use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

/// The shortest TTL etcd grants with its default election timeout (1s):
/// `ceil(1.5 × election timeout)`; a shorter request is silently raised.
const MIN_TTL_MS: u64 = 2_000;
/// One day: far beyond any sensible failover time, and what a plan carries.
const MAX_TTL_MS: u64 = 86_400_000;

pub static LINT: Lint = Lint {
    code: "V0506",
    name: "lease-ttl",
    severity: Severity::Error,
    summary: "a lease TTL is not a whole number of seconds, or is below 2s or above one day",
    explanation: r#"## What it does
Checks `[router.X.arbitration] lease = { ttl = ... }`: the TTL must be a
whole number of seconds, at least 2s and at most one day.

## Why is this bad
etcd grants leases in whole seconds and raises any TTL below
`1.5 × election timeout` (2s with its default 1s election timeout) without
saying so. A fractional or too short TTL would make the failover time the
plan promises a lie, and a TTL shorter than the store's own leader
election lets a routine election of the store expire the master's lease:
the VIPs move for nothing. The TTL need not be related to the advert
interval: the lease only gates who may be master, VRRP still elects. After
a master dies, a backup takes over after the longer of the master-down
interval and the TTL; a master cut off from the store releases its VIPs a
sixth of the TTL before the store can expire its lease, so the backup
never sees the key free while the old master still holds the VIPs.

## Example
```toml
[router.www.arbitration]
lease = { ttl = "1500ms" }
```

## Fix
Use whole seconds, at least the store's election timeout plus a margin:
`ttl = "3s"` (the default) suits etcd's defaults.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(lease) = r.arbitration.as_ref().and_then(|a| a.lease.as_ref()) else {
            continue;
        };
        let ttl = lease.ttl.value.as_millis();
        let span = lease.ttl.span_or(&lease.span);
        if ttl % 1000 != 0 {
            out.push(
                lint.at(
                    &span,
                    format!(
                        "the lease of router `{}` has ttl {}: etcd grants whole seconds, so the \
                         store would keep the lease for another time than the plan says",
                        r.name, lease.ttl.value
                    ),
                )
                .label("not whole seconds")
                .help("round to whole seconds, e.g. \"3s\""),
            );
        } else if ttl < MIN_TTL_MS {
            out.push(
                lint.at(
                    &span,
                    format!(
                        "the lease of router `{}` has ttl {}: etcd raises TTLs below 2s (with its default \
                         election timeout), and a store leader election could expire the master's lease",
                        r.name, lease.ttl.value
                    ),
                )
                .label("below 2s")
                .help("use at least \"2s\"; \"3s\" (the default) survives an etcd leader election"),
            );
        } else if ttl > MAX_TTL_MS {
            out.push(
                lint.at(
                    &span,
                    format!(
                        "the lease of router `{}` has ttl {}: after a crash of the master, no backup could \
                         take over for that long",
                        r.name, lease.ttl.value
                    ),
                )
                .label("above one day")
                .help("use a TTL of a few seconds, e.g. \"3s\""),
            );
        }
    }
    out
}
