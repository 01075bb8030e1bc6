use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0303",
    name: "multiple-address-owners",
    severity: Severity::Error,
    summary: "more than one member of a router has priority 255 (address owner)",
    explanation: r#"## What it does
Reports routers with several members at priority 255.

## Why is this bad
Priority 255 means "I own the VIP address": the owner takes over at once,
ignores trackers and always preempts. Two owners both take the VIPs
immediately whenever they disagree; there is no election between them.

## Example
```toml
[router.www.member.web1]
priority = 255
[router.www.member.web2]
priority = 255
```

## Fix
Keep 255 for at most one member (the host whose real address is the VIP),
use 1..=254 for the others.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let mut owners: Vec<_> = r
            .members
            .values()
            .filter(|m| m.priority.value == 255)
            .collect();
        owners.sort_by_key(|m| (m.priority.span.file, m.priority.span.range.start));
        if let Some((first, rest)) = owners.split_first() {
            for m in rest {
                out.push(
                    lint.at(
                        &m.priority.span,
                        format!(
                            "`{}` and `{}` both claim to own the addresses of router `{}` (priority 255): \
                             owners take the VIPs without election, so both will hold them",
                            first.host, m.host, r.name
                        ),
                    )
                    .label("second owner")
                    .with(first.priority.span.clone(), "first owner")
                    .help("keep priority 255 for one member at most; give the others 1..=254"),
                );
            }
        }
    }
    out
}
