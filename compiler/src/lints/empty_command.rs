use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::lints::commands::commands;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0111",
    name: "empty-command",
    severity: Severity::Error,
    summary: "a command is empty or its program is an empty string",
    explanation: r#"## What it does
Checks that every command (trackers, `notify`, `fence`, `self_fence`,
health checks) names a program: the array is not empty and its first word
is not `""`.

## Why is this bad
There is nothing to run. A command tracker or health check whose command
cannot start counts as failed on every run: the member is demoted or
faulted for good, or every real server is taken out. A fence that cannot
run never succeeds, so a required fence blocks every takeover. The
generated keepalived.conf would get `script ""`.

## Example
```toml
[router.www.track.nginx]
command = []
on_fail = { demote = 60 }
```

## Fix
Name the program and its arguments, e.g.
`command = ["/usr/local/bin/check-nginx"]`, or remove the key.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    commands(cluster)
        .into_iter()
        .filter(|(_, c)| c.value.first().is_none_or(|program| program.is_empty()))
        .map(|(what, c)| {
            lint.at(
                &c.span,
                format!("{what} names no program: it can never run, so it fails every time"),
            )
            .label("no program")
            .help("name the program and its arguments, e.g. [\"/usr/local/bin/check\"], or remove the key")
        })
        .collect()
}
