use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0302",
    name: "priority-tie",
    severity: Severity::Error,
    summary: "two members of a router have the same priority",
    explanation: r#"## What it does
Reports members of one router that share a priority.

## Why is this bad
With equal priorities the election falls back to comparing primary IP
addresses, so which host serves depends on addressing, not on intent. After
a split heals both claim master at once, and a restart of either moves the
VIPs again. keepalived's maintainers call equal priorities bad practice.

## Example
```toml
[router.www.member.web1]
priority = 100
[router.www.member.web2]
priority = 100
```

(Several members at 255 are reported by `multiple-address-owners`.)

## Fix
Give each member its own priority, with a clear gap (e.g. 150 and 100).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let mut members: Vec<_> = r.members.values().collect();
        members.sort_by_key(|m| (m.priority.span.file, m.priority.span.range.start));
        for (i, m) in members.iter().enumerate() {
            if let Some(first) = members[..i]
                .iter()
                .find(|o| o.priority.value == m.priority.value && m.priority.value != 255)
            {
                out.push(
                    lint.at(
                        &m.priority.span,
                        format!(
                            "members `{}` and `{}` of router `{}` both have priority {}: the election falls \
                             back to comparing IP addresses, and both claim master at once after a split",
                            first.host, m.host, r.name, m.priority.value
                        ),
                    )
                    .label(format!("priority of `{}`", m.host))
                    .with(first.priority.span.clone(), format!("same priority for `{}`", first.host))
                    .help("give every member a distinct priority, e.g. 150 for the preferred one and 100 for the other"),
                );
            }
        }
    }
    out
}
