use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0301",
    name: "priority-out-of-range",
    severity: Severity::Error,
    summary: "a member's priority is outside 1..=255",
    explanation: r#"## What it does
Checks that every member priority is between 1 and 255 (255 meaning the
address owner).

## Why is this bad
The priority is one byte in the advert. 0 is reserved: a master sends it to
resign. Larger values wrap or are rejected, so the member that was meant to
win the election may lose it, or never start.

## Example
```toml
[router.www.member.web1]
priority = 300
```

## Fix
Use 1..=254 for ordinary members (leave gaps, e.g. 150 and 100), 255 only
for the host that really owns the VIP address.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for m in r.members.values() {
            if !(1..=255).contains(&m.priority.value) {
                out.push(
                    lint.at(
                        &m.priority.span,
                        format!(
                            "member `{}` of router `{}` has priority {}: priorities are one byte, 1..=255 \
                             (0 means \"master resigns\"), so the election would not go as written",
                            m.host, r.name, m.priority.value
                        ),
                    )
                    .label("out of range")
                    .help("use a priority between 1 and 254 (255 only for the VIP's address owner)"),
                );
            }
        }
    }
    out
}
