use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0305",
    name: "tracker-kind",
    severity: Severity::Error,
    summary: "a tracker has neither or both of `interface` and `command`",
    explanation: r#"## What it does
A tracker watches exactly one thing: an interface's link (`interface`) or a
command's exit status (`command`).

## Why is this bad
With neither, the tracker watches nothing and never fails: a failover you
count on never happens. With both, it is unclear which one counts.

## Example
```toml
[router.www.track.nginx]
on_fail = "fault"            # watches nothing
```

## Fix
Set exactly one of `interface = "eth0"` or `command = [...]`; split into two
trackers to watch both.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for t in r.trackers.values() {
            match (&t.interface, &t.command) {
                (None, None) => out.push(
                    lint.at(
                        &t.span,
                        format!(
                            "tracker `{}` of router `{}` has neither `interface` nor `command`: it watches \
                             nothing and will never fail over",
                            t.name, r.name
                        ),
                    )
                    .label("watches nothing")
                    .help("add `interface = \"eth0\"` or `command = [\"/path/to/check\"]`"),
                ),
                (Some(i), Some(c)) => out.push(
                    lint.at(
                        &c.span,
                        format!(
                            "tracker `{}` of router `{}` has both `interface` and `command`; a tracker watches one thing",
                            t.name, r.name
                        ),
                    )
                    .label("command")
                    .with(i.span.clone(), "interface")
                    .help("split it into two trackers, one per thing to watch"),
                ),
                _ => {}
            }
        }
    }
    out
}
