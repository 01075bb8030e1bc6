use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V1001",
    name: "metrics-listen-not-local",
    severity: Severity::Error,
    summary: "the metrics listener's address is not one of the host's own",
    explanation: r#"## What it does
Checks that `[host.NAME.metrics] listen` names an address `vigild` can
always bind on that host: one of the host's interface addresses, a
loopback address (`127.0.0.1`, `::1`) or the unspecified address
(`0.0.0.0`, `::`).

## Why is this bad
`vigild` binds the listener once, at start. Another host's address, or a
VIP (present only while the host is master), makes the bind fail: the host
is not scraped, and an alert on a missing target is the first sign.

## Example
```toml
[host.web1.metrics]
listen = "10.20.0.100:9650"   # the VIP, not web1's address
```

## Fix
Use the host's own address (`10.20.0.11:9650`), loopback, or `0.0.0.0`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for host in cluster.hosts.values() {
        let Some(listen) = &host.metrics_listen else {
            continue;
        };
        let ip = listen.value.ip();
        if ip.is_loopback() || ip.is_unspecified() {
            continue;
        }
        let own = host
            .interfaces
            .values()
            .flat_map(|i| &i.addresses)
            .any(|a| a.value.addr == ip);
        if own {
            continue;
        }
        let vip_of = cluster
            .routers
            .values()
            .find(|r| r.vips.iter().any(|v| v.addr == ip))
            .map(|r| r.name.clone());
        let what = match vip_of {
            Some(r) => format!("a VIP of router `{r}`, present only while the host is master"),
            None => "not an address of this host".to_string(),
        };
        out.push(
            lint.at(
                &listen.span,
                format!(
                    "`{}` serves metrics on {ip}, {what}: vigild cannot bind it and the host is not scraped",
                    host.name
                ),
            )
            .label("metrics listener")
            .help("listen on one of the host's interface addresses, on loopback, or on 0.0.0.0 / ::"),
        );
    }
    out
}
