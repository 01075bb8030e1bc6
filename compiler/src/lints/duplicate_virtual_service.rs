use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, VirtualServer};
use crate::source::Span;

pub static LINT: Lint = Lint {
    code: "V0902",
    name: "duplicate-virtual-service",
    severity: Severity::Error,
    summary: "two virtual servers define the same service (protocol, address, port) or fwmark",
    explanation: r#"## What it does
Reports virtual servers with the same protocol, address and port, or the
same firewall mark, in any file.

## Why is this bad
IPVS has one entry per service: the second definition would replace or
fail against the first, and which real servers get the traffic depends on
programming order.

## Example
```toml
[virtual_server.http]
address = "10.20.0.100"
port = 80
[virtual_server.web]
address = "10.20.0.100"
port = 80
```

## Fix
Merge the two into one virtual server, or change the port/protocol.
"#,
    check,
};

fn key(vs: &VirtualServer) -> Option<(String, Span)> {
    if let Some(mark) = &vs.fwmark {
        return Some((format!("fwmark {}", mark.value), mark.span.clone()));
    }
    let addr = vs.address.as_ref()?;
    let port = vs.port.as_ref().map_or(0, |p| p.value);
    let span = vs
        .port
        .as_ref()
        .map_or(addr.span.clone(), |p| p.span.clone());
    let proto = format!("{:?}", vs.protocol.value).to_lowercase();
    Some((
        format!(
            "{proto} {}",
            std::net::SocketAddr::new(addr.value, port.clamp(0, 65535) as u16)
        ),
        span,
    ))
}

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut services: Vec<_> = cluster
        .virtual_servers
        .values()
        .filter_map(|vs| key(vs).map(|(k, span)| (vs, k, span)))
        .collect();
    services.sort_by_key(|(_, _, s)| (s.file, s.range.start));
    for (i, (vs, k, span)) in services.iter().enumerate() {
        if let Some((first, _, first_span)) = services[..i].iter().find(|(_, fk, _)| fk == k) {
            out.push(
                lint.at(
                    span,
                    format!(
                        "virtual servers `{}` and `{}` both define {k}: IPVS keeps one entry per service, so one \
                         of them silently replaces the other",
                        first.name, vs.name
                    ),
                )
                .label(format!("{k} again"))
                .with(first_span.clone(), format!("{k} of `{}`", first.name))
                .help("merge them into one virtual server, or change the port or protocol"),
            );
        }
    }
    out
}
