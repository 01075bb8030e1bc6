use std::net::IpAddr;

use vigil_schema::topology::Protocol;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V1002",
    name: "metrics-port-clash",
    severity: Severity::Error,
    summary: "the metrics listener's port is a TCP virtual service's port on the same host",
    explanation: r#"## What it does
Reports a `[host.NAME.metrics] listen` whose TCP port is the port of a
TCP virtual service this host directs, on the same address or where either
side covers every address of the family (`0.0.0.0`, `::`).

## Why is this bad
Two listeners on one address and port: IPVS takes the connections to the
virtual service, so scrapes of that address go to the real servers (or the
bind of the metrics listener fails). The host looks down to Prometheus, or
its metrics come from a web server.

## Example
```toml
[host.lb1.metrics]
listen = "0.0.0.0:80"

[virtual_server.web]
router = "www"
address = "10.20.0.100"
port = 80
```

## Fix
Use a port of its own for the metrics (9650 is Vigil's usual one).
"#,
    check,
};

/// Whether a listener on `a` and one on `b` can take the same connection.
fn overlaps(a: IpAddr, b: IpAddr) -> bool {
    a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
}

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for host in cluster.hosts.values() {
        let Some(listen) = &host.metrics_listen else {
            continue;
        };
        for vs in cluster.virtual_servers.values() {
            let directs = cluster
                .routers
                .get(&vs.router.value)
                .is_some_and(|r| r.members.contains_key(&host.name));
            let (Some(addr), Some(port)) = (&vs.address, &vs.port) else {
                continue;
            };
            if !directs
                || vs.protocol.value != Protocol::Tcp
                || port.value != i64::from(listen.value.port())
                || !overlaps(listen.value.ip(), addr.value)
            {
                continue;
            }
            out.push(
                lint.at(
                    &listen.span,
                    format!(
                        "`{}` serves metrics on {} and directs virtual server `{}` on {}:{} (tcp): \
                         scrapes of that address reach the real servers, or the listener cannot bind",
                        host.name, listen.value, vs.name, addr.value, port.value
                    ),
                )
                .label("metrics listener")
                .with(port.span.clone(), "the virtual service's port")
                .help("give the metrics a port of their own (9650)"),
            );
        }
    }
    out
}
