use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0909",
    name: "health-timeout-too-long",
    severity: Severity::Warning,
    summary: "a health check's timeout is not shorter than its interval",
    explanation: r#"## What it does
Reports health checks whose `timeout` is at least their `interval`.

## Why is this bad
A hanging real server keeps a check running into the next one: checks pile
up or are skipped, and a dead server is taken out only after fall ×
timeout instead of fall × interval, while it keeps receiving connections.

## Example
```toml
[virtual_server.http.health]
interval = "2s"
timeout = "5s"
```

## Fix
Keep `timeout` below `interval` (defaults: 3s and 5s).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let Some(h) = &vs.health else { continue };
        // Zero values are `health-timing`'s.
        if h.interval.as_millis() == 0 || h.timeout.as_millis() == 0 {
            continue;
        }
        if h.timeout.value >= h.interval.value {
            out.push(
                lint.at(
                    &h.timeout.span_or(&h.span),
                    format!(
                        "health checks of `{}` may take {} but run every {}: slow checks overlap and a dead real \
                         server is removed late",
                        vs.name, h.timeout.value, h.interval.value
                    ),
                )
                .label("not below the interval")
                .with(h.interval.span_or(&h.span), "interval")
                .help("make `timeout` shorter than `interval`"),
            );
        }
    }
    out
}
