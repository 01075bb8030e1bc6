use std::collections::BTreeSet;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0808",
    name: "sync-group-members-differ",
    severity: Severity::Error,
    summary: "the routers of a sync group do not have the same member hosts",
    explanation: r#"## What it does
Checks that all routers of a sync group have the same set of member hosts.

## Why is this bad
A sync group moves its routers together on each host. A host that is a
member of only some of them holds part of the group: when it becomes master
of one router it cannot take the others, and traffic that must pass both
(front and back VIPs of a firewall) is black-holed.

## Example
```toml
[sync_group.edge]
routers = ["front", "back"]
# front: members fw1, fw2; back: members fw1, fw3
```

## Fix
Give every router of the group the same members.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for g in cluster.sync_groups.values() {
        let routers: Vec<_> = g
            .routers
            .iter()
            .filter_map(|n| cluster.routers.get(&n.value).map(|r| (n, r)))
            .collect();
        let Some(((first_name, first), rest)) = routers.split_first() else {
            continue;
        };
        let expected: BTreeSet<_> = first.members.keys().collect();
        for (name, r) in rest {
            let hosts: BTreeSet<_> = r.members.keys().collect();
            if hosts != expected {
                let show = |s: &BTreeSet<&String>| {
                    s.iter()
                        .map(|h| format!("`{h}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                out.push(
                    lint.at(
                        &name.span,
                        format!(
                            "sync group `{}`: router `{}` has members {} but `{}` has {}: a host in only one of them \
                             cannot move the group as a whole",
                            g.name,
                            r.name,
                            show(&hosts),
                            first.name,
                            show(&expected)
                        ),
                    )
                    .label("different members")
                    .with(first_name.span.clone(), format!("members of `{}`", first.name))
                    .help("give every router of the group the same member hosts"),
                );
            }
        }
    }
    out
}
