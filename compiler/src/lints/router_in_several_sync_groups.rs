use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0807",
    name: "router-in-several-sync-groups",
    severity: Severity::Error,
    summary: "a router is listed in more than one sync group (or twice in one)",
    explanation: r#"## What it does
Reports routers that appear in several sync groups.

## Why is this bad
A sync group makes its routers change state together. A router in two
groups ties both groups together in a way neither definition shows, and
keepalived refuses it: one failure moves everything, or the second
membership is ignored.

## Example
```toml
[sync_group.a]
routers = ["www", "api"]
[sync_group.b]
routers = ["www", "db"]
```

## Fix
Merge the groups, or take the router out of one of them.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<&str, (&str, &crate::source::Span)> = BTreeMap::new();
    for g in cluster.sync_groups.values() {
        for name in &g.routers {
            match seen.get(name.value.as_str()) {
                Some((group, span)) => out.push(
                    lint.at(
                        &name.span,
                        format!(
                            "router `{}` is in sync group `{group}` and again in `{}`: the groups would silently \
                             fail over as one",
                            name.value, g.name
                        ),
                    )
                    .label("listed again")
                    .with((*span).clone(), format!("first listed in `{group}`"))
                    .help("merge the groups or list the router once"),
                ),
                None => {
                    seen.insert(&name.value, (&g.name, &name.span));
                }
            }
        }
    }
    out
}
