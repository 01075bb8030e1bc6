use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0107",
    name: "empty-file",
    severity: Severity::Warning,
    summary: "a topology file defines nothing (it is empty or holds only comments)",
    explanation: r#"## What it does
Reports a file, among those checked together, that defines no table at all:
it is empty, or holds only comments and blank lines. (When no file defines
a host, `empty-topology` reports that instead.)

## Why is this bad
In a topology split over several files, each team's file adds its routers,
members and virtual servers to the cluster-wide checks. A file truncated by
a bad merge, a failed copy or an editor would otherwise pass as a clean,
empty contribution: its routers drop out of the VRID collision and VIP
checks and out of every host's plan, and nobody is told.

## Example
```toml
# team-b.toml: routers to be added here
```

## Fix
Restore the file's content, or delete the file if it is no longer needed.
Run `vigil check --deny warnings` in CI so that this stops the pipeline.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    // With no host at all, `empty-topology` says it once.
    if cluster.hosts.is_empty() {
        return Vec::new();
    }
    cluster
        .files
        .iter()
        .filter(|f| f.empty)
        .map(|f| {
            lint.at(
                &f.span,
                "this file defines nothing (it is empty or holds only comments): whatever it \
                 should contribute is missing from every check and every plan",
            )
            .label("no table in this file")
            .help("restore the file's content, or delete it if it is no longer needed")
        })
        .collect()
}
