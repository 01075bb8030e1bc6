use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{At, Cluster};

pub static LINT: Lint = Lint {
    code: "V0906",
    name: "port-out-of-range",
    severity: Severity::Error,
    summary: "a port is outside 0..=65535 (1..=65535 for real servers and checks) or a fwmark is not positive",
    explanation: r#"## What it does
Checks the ports of virtual servers (0..=65535; 0 means all ports, with
persistence), real servers and TCP/HTTP checks (1..=65535), and that
firewall marks are 1..=4294967295.

## Why is this bad
Ports are 16 bits and marks 32: other values are truncated or refused by
the kernel, so the service listens elsewhere than intended or is not
programmed at all.

## Example
```toml
port = 80800
```

## Fix
Use a valid port (or mark).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut report = |value: &At<i64>, what: String, range: std::ops::RangeInclusive<i64>| {
        if !range.contains(&value.value) {
            out.push(
                lint.at(
                    &value.span,
                    format!(
                        "{what} is {}, outside {}..={}: the kernel would truncate or refuse it",
                        value.value,
                        range.start(),
                        range.end()
                    ),
                )
                .label("out of range")
                .help(format!(
                    "use a value between {} and {}",
                    range.start(),
                    range.end()
                )),
            );
        }
    };
    for vs in cluster.virtual_servers.values() {
        if let Some(p) = &vs.port {
            report(
                p,
                format!("the port of virtual server `{}`", vs.name),
                0..=65535,
            );
        }
        if let Some(m) = &vs.fwmark {
            report(
                m,
                format!("the fwmark of virtual server `{}`", vs.name),
                1..=i64::from(u32::MAX),
            );
        }
        for rs in &vs.real_servers {
            if let Some(span) = &rs.port.span {
                let port = At::new(rs.port.value, span.clone());
                report(
                    &port,
                    format!(
                        "the port of real server {} of `{}`",
                        rs.address.value, vs.name
                    ),
                    1..=65535,
                );
            }
        }
        if let Some(h) = &vs.health {
            let ports = [
                h.tcp.as_ref().and_then(|c| c.port.as_ref()),
                h.http.as_ref().and_then(|c| c.port.as_ref()),
            ];
            for p in ports.into_iter().flatten() {
                report(
                    p,
                    format!("the health-check port of `{}`", vs.name),
                    1..=65535,
                );
            }
        }
    }
    out
}
