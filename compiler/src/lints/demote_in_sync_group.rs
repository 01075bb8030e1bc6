use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, TrackAction};

pub static LINT: Lint = Lint {
    code: "V0806",
    name: "demote-in-sync-group",
    severity: Severity::Error,
    summary: "a router in a sync group has a demote tracker",
    explanation: r#"## What it does
Reports `on_fail = { demote = N }` trackers on routers that belong to a
sync group.

## Why is this bad
A sync group moves its routers together by state (one faults, all fail
over); a priority change in one router does not move the others. keepalived
ignores weighted trackers of grouped instances. The result is one router
failing over alone, or not at all.

## Example
```toml
[sync_group.edge]
routers = ["www"]
[router.www.track.nginx]
on_fail = { demote = 60 }
```

## Fix
Use `on_fail = "fault"` for trackers of grouped routers.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for g in cluster.sync_groups.values() {
        for name in &g.routers {
            let Some(r) = cluster.routers.get(&name.value) else {
                continue;
            };
            for t in r.trackers.values() {
                if let TrackAction::Demote(w) = &t.on_fail {
                    out.push(
                        lint.at(
                            &w.span,
                            format!(
                                "tracker `{}` of router `{}` demotes, but `{}` is in sync group `{}`, which moves \
                                 together only on faults: a failing check would not move the group",
                                t.name, r.name, r.name, g.name
                            ),
                        )
                        .label("demote in a sync group")
                        .with(name.span.clone(), format!("`{}` is grouped here", r.name))
                        .help("use `on_fail = \"fault\"`"),
                    );
                }
            }
        }
    }
    out
}
