use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, TrackAction};

pub static LINT: Lint = Lint {
    code: "V0306",
    name: "tracker-weight-out-of-range",
    severity: Severity::Error,
    summary: "a demote weight is outside 1..=253",
    explanation: r#"## What it does
Checks that `on_fail = { demote = N }` has 1 <= N <= 253.

## Why is this bad
A weight of 0 or less never lowers the priority (keepalived even reads 0
as "fault"), and weights beyond 253 only clamp: the intent is unclear and
failover will not behave as written.

## Example
```toml
on_fail = { demote = 0 }
```

## Fix
Use a weight between 1 and 253, larger than the priority gap to the next
member, or `on_fail = "fault"`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for t in r.trackers.values() {
            if let TrackAction::Demote(w) = &t.on_fail
                && !(1..=253).contains(&w.value)
            {
                out.push(
                    lint.at(
                        &w.span,
                        format!(
                            "tracker `{}` of router `{}` demotes by {}: weights are 1..=253, so a failure \
                             would not move the VIPs as written",
                            t.name, r.name, w.value
                        ),
                    )
                    .label("out of range")
                    .help("use a weight between 1 and 253, or `on_fail = \"fault\"`"),
                );
            }
        }
    }
    out
}
