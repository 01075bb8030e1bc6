use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0912",
    name: "body-sha256-malformed",
    severity: Severity::Error,
    summary: "an HTTP health check's `body_sha256` is not 64 hexadecimal digits",
    explanation: r#"## What it does
Checks that `body_sha256` of an HTTP health check is a SHA-256 digest
written as 64 hexadecimal digits (`sha256sum` prints it that way).

## Why is this bad
No body has a digest that is not 64 hex digits. Until now such a value was
only noticed by the runtime, which then ran the virtual server without any
health check at all: dead real servers kept receiving traffic.

## Example
```toml
[virtual_server.www-http.health]
http = { path = "/healthz", body_sha256 = "e3b0c442" }   # cut short
```

## Fix
Paste the whole digest, e.g. from
`curl -s http://10.40.0.21/healthz | sha256sum`, or remove `body_sha256`
to accept any body.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let Some(http) = vs.health.as_ref().and_then(|h| h.http.as_ref()) else {
            continue;
        };
        let Some(digest) = &http.body_sha256 else {
            continue;
        };
        let text = digest.value.as_str();
        let problem = if let Some(bad) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
            format!("{} is not a hexadecimal digit", describe(bad))
        } else if text.len() != 64 {
            format!("it has {} hex digits, a SHA-256 digest has 64", text.len())
        } else {
            continue;
        };
        out.push(
            lint.at(
                &digest.span,
                format!(
                    "body_sha256 of the HTTP check of virtual server `{}` is not a SHA-256 digest: \
                     {problem}; no body could match it",
                    vs.name
                ),
            )
            .label("not 64 hex digits")
            .help(
                "paste the whole digest (`curl -s URL | sha256sum`), or remove `body_sha256` to \
                 accept any body",
            ),
        );
    }
    out
}

fn describe(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("the character U+{:04X}", u32::from(c))
    } else {
        format!("`{c}`")
    }
}
