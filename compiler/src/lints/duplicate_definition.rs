use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0104",
    name: "duplicate-definition",
    severity: Severity::Error,
    summary: "a host, sync group, virtual server or [cluster] is defined in more than one file",
    explanation: r#"## What it does
Segments and routers may be spread over several files; hosts, sync groups,
virtual servers and the `[cluster]` table may be defined only once.

## Why is this bad
A host's interfaces and addresses decide where its plan sends adverts and
which addresses it owns. Two definitions cannot be merged safely (which
`eth0` is right?), so only the first would be used and the other silently
ignored.

## Example
```toml
# a.toml
[host.web1.interface.eth0]
segment = "front"

# b.toml
[host.web1.interface.eth1]
segment = "front"
```

## Fix
Keep one definition and delete (or rename) the other.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    cluster
        .conflicts
        .iter()
        .filter(|c| c.field.is_none())
        .map(|c| {
            let what = format!("{} `{}`", c.kind.table().replace('_', " "), c.name);
            lint.at(
                &c.other.span,
                format!("{what} is defined twice: only the first definition would be used and this one ignored"),
            )
            .label("defined again here")
            .with(c.kept.span.clone(), "first defined here")
            .help(format!("keep one definition of {what}"))
        })
        .collect()
}
