use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0905",
    name: "virtual-service-identity",
    severity: Severity::Error,
    summary: "a virtual server has neither or both of `address` and `fwmark`, or an address without a port",
    explanation: r#"## What it does
An IPVS service is identified either by protocol + address + port, or by a
firewall mark. This lint reports virtual servers with neither, with both,
or with an address but no port.

## Why is this bad
Without an identity there is nothing to program; with both, it is unclear
which one the kernel entry should use and traffic may bypass the real
servers you configured.

## Example
```toml
[virtual_server.http]
router = "www"
port = 80            # no address, no fwmark
```

## Fix
Set `address` and `port` (a VIP of the router), or only `fwmark`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        match (&vs.address, &vs.fwmark) {
            (None, None) => out.push(
                lint.at(
                    &vs.span,
                    format!(
                        "virtual server `{}` has neither `address` nor `fwmark`: there is no service to program",
                        vs.name
                    ),
                )
                .label("no service identity")
                .help("add `address` and `port`, or `fwmark`"),
            ),
            (Some(addr), Some(mark)) => out.push(
                lint.at(
                    &mark.span,
                    format!(
                        "virtual server `{}` has both `address` and `fwmark`: a service is one or the other",
                        vs.name
                    ),
                )
                .label("fwmark")
                .with(addr.span.clone(), "address")
                .help("keep `address` + `port`, or only `fwmark` (and mark the traffic in the firewall)"),
            ),
            (Some(addr), None) if vs.port.is_none() => out.push(
                lint.at(
                    &addr.span,
                    format!(
                        "virtual server `{}` has an address but no `port`: IPVS would serve port 0, which only \
                         means \"all ports\" together with persistence",
                        vs.name
                    ),
                )
                .label("no port")
                .help("add `port = 80` (or the service's port)"),
            ),
            _ => {}
        }
    }
    out
}
