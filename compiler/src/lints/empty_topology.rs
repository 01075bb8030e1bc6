use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0108",
    name: "empty-topology",
    severity: Severity::Error,
    summary: "the topology defines no host, so there is nothing to check or build",
    explanation: r#"## What it does
Reports a topology (all files checked together) that defines no
`[host.NAME]`: it is empty, holds only comments, or only segments and
routers.

## Why is this bad
Every plan and artifact `vigil build` writes is per host: with no host it
writes none, and `vigil check` has nothing to check routers against. A CI
gate that passes such an input hides a wrong path, an empty checkout or a
truncated file; the next deployment then ships nothing, or removes what was
there.

## Example
```toml
# topology.toml: empty
```

## Fix
Check the right files (a directory stands for the `*.toml` files in it), or
add the hosts.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    if !cluster.hosts.is_empty() {
        return Vec::new();
    }
    let Some(first) = cluster.files.first() else {
        return Vec::new();
    };
    let defined = cluster.segments.len()
        + cluster.routers.len()
        + cluster.sync_groups.len()
        + cluster.virtual_servers.len();
    let message = if defined == 0 && cluster.name.is_none() {
        "the topology is empty: no file defines anything, so there is nothing to check and \
         `vigil build` would write no plan"
            .to_string()
    } else {
        format!(
            "the topology defines no host ({} segment(s), {} router(s), {} virtual server(s)): \
             `vigil build` would write no plan",
            cluster.segments.len(),
            cluster.routers.len(),
            cluster.virtual_servers.len()
        )
    };
    let files = cluster.files.len();
    vec![
        lint.at(&first.span, message)
            .label(format!(
                "{files} file(s) checked, none defines a `[host.NAME]`"
            ))
            .help("check the right files (a directory stands for its `*.toml`), or add the hosts"),
    ]
}
