use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;
use crate::plan::status_range;

pub static LINT: Lint = Lint {
    code: "V0911",
    name: "http-status-range",
    severity: Severity::Error,
    summary: "an HTTP health check's `status` is not a code or a range of codes within 100..=599",
    explanation: r#"## What it does
Checks the `status` of an HTTP health check: one code (`"200"`) or an
inclusive range (`"200-299"`), with codes from 100 to 599 and the lower
bound first.

## Why is this bad
No response can match a status like `"20x"`, `"299-200"` or `"200-700"`
as written: the plan could not be built, and if a runtime guessed instead,
every real server would be judged by a rule nobody wrote, up to taking
all of them out of the service.

## Example
```toml
[virtual_server.www-http.health]
http = { path = "/healthz", status = "299-200" }
```

## Fix
Write one code (`"200"`) or a range with the lower code first
(`"200-299"`, the default).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let Some(http) = vs.health.as_ref().and_then(|h| h.http.as_ref()) else {
            continue;
        };
        let status = &http.status;
        if status_range(&status.value).is_some() {
            continue;
        }
        out.push(
            lint.at(
                &status.span_or(&http.span),
                format!(
                    "HTTP check of virtual server `{}` accepts status \"{}\", which is neither a code \
                     nor a range of codes within 100..=599 (lower code first): no response could \
                     match it as written",
                    vs.name,
                    status.value.escape_debug()
                ),
            )
            .label("not a status code or range")
            .help("write one code (\"200\") or a range with the lower code first (\"200-299\")"),
        );
    }
    out
}
