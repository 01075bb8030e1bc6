use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0310",
    name: "tracker-timeout-too-long",
    severity: Severity::Warning,
    summary: "a command tracker's timeout is not shorter than its interval",
    explanation: r#"## What it does
Checks that a command tracker's `timeout` is shorter than its `interval`.

## Why is this bad
A run that may last as long as the interval overlaps the next one, or
delays it: a hanging check then holds the tracker's state for longer than
`fall` × `interval`, so a failed service is noticed late and the VIPs move
late. keepalived behaves the same way with `vrrp_script`.

## Example
```toml
[router.www.track.nginx]
command = ["/usr/local/bin/check-nginx"]
interval = "2s"
timeout = "5s"
on_fail = { demote = 60 }
```

## Fix
Make `timeout` shorter than `interval` (the defaults are 1s and 2s).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for t in r.trackers.values().filter(|t| t.command.is_some()) {
            // Zero values are `tracker-timing`'s.
            if t.interval.as_millis() == 0 || t.timeout.as_millis() == 0 {
                continue;
            }
            if t.timeout.value >= t.interval.value {
                out.push(
                    lint.at(
                        &t.timeout.span_or(&t.span),
                        format!(
                            "command tracker `{}` of router `{}` may run for {} but runs every {}: a \
                             hanging check delays the next one, so a failure is noticed late",
                            t.name, r.name, t.timeout.value, t.interval.value
                        ),
                    )
                    .label("not below the interval")
                    .with(t.interval.span_or(&t.span), "interval")
                    .help("make `timeout` shorter than `interval`"),
                );
            }
        }
    }
    out
}
