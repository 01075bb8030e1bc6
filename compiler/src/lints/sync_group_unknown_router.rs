use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0805",
    name: "sync-group-unknown-router",
    severity: Severity::Error,
    summary: "a sync group lists a router that is not defined",
    explanation: r#"## What it does
Reports sync-group entries that name no router.

## Why is this bad
The group exists so that routers fail over together (e.g. the front and
back VIPs of a firewall). A misspelt name leaves the real router out: it
stays on the old master while the others move, and traffic is black-holed.

## Example
```toml
[sync_group.edge]
routers = ["front", "bakc"]
```

## Fix
Correct the name or define the router.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for g in cluster.sync_groups.values() {
        for name in &g.routers {
            if !cluster.routers.contains_key(&name.value) {
                out.push(
                    lint.at(
                        &name.span,
                        format!(
                            "sync group `{}` lists router `{}`, which is not defined: the routers that exist will \
                             fail over without it",
                            g.name, name.value
                        ),
                    )
                    .label("unknown router")
                    .help("correct the name or define the router"),
                );
            }
        }
    }
    out
}
