use vigil_schema::topology::Scheduler;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0907",
    name: "scheduler-flag-mismatch",
    severity: Severity::Error,
    summary: "a scheduler flag is set for a scheduler that ignores it",
    explanation: r#"## What it does
`sh-port`/`sh-fallback` only affect the `sh` scheduler and
`mh-port`/`mh-fallback` only `mh`. This lint reports flags set with
another scheduler.

## Why is this bad
The kernel ignores them silently: the operator believes connections are
hashed by port or fall back to another server when one is down, and they
are not.

## Example
```toml
scheduler = "wlc"
scheduler_flags = ["sh-port"]
```

## Fix
Use `scheduler = "sh"` (or `"mh"`) with its flags, or remove the flags.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        for flag in &vs.scheduler_flags {
            // The rule vigild also applies when it programs the flags.
            let needs = flag.value.scheduler();
            if vs.scheduler.value != needs {
                let name = |s: Scheduler| s.name();
                out.push(
                    lint.at(
                        &flag.span,
                        format!(
                            "virtual server `{}` sets a `{}` flag but schedules with `{}`, which ignores it",
                            vs.name,
                            name(needs),
                            name(vs.scheduler.value)
                        ),
                    )
                    .label(format!("only for `{}`", name(needs)))
                    .with(vs.scheduler.span_or(&vs.span), "scheduler")
                    .help(format!("use `scheduler = \"{}\"` or remove the flag", name(needs))),
                );
            }
        }
    }
    out
}
