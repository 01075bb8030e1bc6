use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0903",
    name: "health-check-kind",
    severity: Severity::Error,
    summary: "a health check has none or several of `tcp`, `http`, `command`",
    explanation: r#"## What it does
A `[virtual_server.X.health]` table must say how to check: exactly one of
`tcp`, `http` or `command`.

## Why is this bad
With none, nothing is checked and dead real servers keep receiving
connections. With several, it is unclear which result counts.

## Example
```toml
[virtual_server.http.health]
interval = "5s"               # but how?
```

## Fix
Add exactly one of `tcp = {}`, `http = { path = "/health" }` or
`command = [...]`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let Some(h) = &vs.health else { continue };
        let kinds: Vec<_> = [
            h.tcp.as_ref().map(|c| ("tcp", c.span.clone())),
            h.http.as_ref().map(|c| ("http", c.span.clone())),
            h.command.as_ref().map(|c| ("command", c.span.clone())),
        ]
        .into_iter()
        .flatten()
        .collect();
        match kinds.as_slice() {
            [] => out.push(
                lint.at(
                    &h.span,
                    format!(
                        "the health check of virtual server `{}` has no `tcp`, `http` or `command`: nothing is \
                         checked and dead real servers keep receiving connections",
                        vs.name
                    ),
                )
                .label("checks nothing")
                .help("add one of `tcp = {}`, `http = { path = \"/\" }` or `command = [...]`"),
            ),
            [_] => {}
            [(first, first_span), rest @ ..] => {
                for (kind, span) in rest {
                    out.push(
                        lint.at(
                            span,
                            format!(
                                "the health check of virtual server `{}` has both `{first}` and `{kind}`; it must \
                                 have exactly one",
                                vs.name
                            ),
                        )
                        .label(format!("`{kind}`"))
                        .with(first_span.clone(), format!("`{first}`"))
                        .help("keep one kind of check"),
                    );
                }
            }
        }
    }
    out
}
