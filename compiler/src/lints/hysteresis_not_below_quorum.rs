use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0908",
    name: "hysteresis-not-below-quorum",
    severity: Severity::Warning,
    summary: "a virtual server's hysteresis is not smaller than its quorum (or is set without one)",
    explanation: r#"## What it does
Reports `hysteresis` ≥ `quorum`, and `hysteresis` without `quorum`.

## Why is this bad
Quorum is lost below quorum − hysteresis and regained at quorum +
hysteresis. With hysteresis ≥ quorum it is never lost (the sorry server
never takes over, even with no healthy real server), and without a quorum
it does nothing at all.

## Example
```toml
quorum = 2
hysteresis = 2
```

## Fix
Keep hysteresis well below the quorum (e.g. quorum 2, hysteresis 1).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let Some(h) = &vs.hysteresis else { continue };
        match &vs.quorum {
            None => out.push(
                lint.at(
                    &h.span,
                    format!("virtual server `{}` sets `hysteresis` without `quorum`: it has no effect", vs.name),
                )
                .label("no quorum to apply to")
                .help("add `quorum` or remove `hysteresis`"),
            ),
            Some(q) if h.value >= q.value => out.push(
                lint.at(
                    &h.span,
                    format!(
                        "virtual server `{}` has hysteresis {} for quorum {}: quorum is never lost, so the sorry \
                         server never takes over even with no healthy real server",
                        vs.name, h.value, q.value
                    ),
                )
                .label("not below the quorum")
                .with(q.span.clone(), "quorum")
                .help("make `hysteresis` smaller than `quorum`"),
            ),
            Some(_) => {}
        }
    }
    out
}
