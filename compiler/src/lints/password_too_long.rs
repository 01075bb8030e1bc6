use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0205",
    name: "password-too-long",
    severity: Severity::Error,
    summary: "a PASS authentication password is longer than 8 bytes",
    explanation: r#"## What it does
Reports simple-password authentication with a password over 8 bytes.

## Why is this bad
The advert has 8 bytes for the password. keepalived truncates longer ones
(with a warning), other implementations may refuse them or truncate
differently; peers then compare different passwords, drop each other's
adverts and all become master.

## Example
```toml
auth = { type = "pass", password = "correct-horse" }
```

## Fix
Use at most 8 bytes. The password travels in clear: it prevents accidents,
not attacks.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(auth) = &r.auth else { continue };
        let len = auth.password.value.len();
        if len > 8 {
            out.push(
                lint.at(
                    &auth.password.span,
                    format!(
                        "router `{}` has a password of {len} bytes but adverts carry 8: implementations \
                         truncate differently and peers that disagree drop each other's adverts",
                        r.name
                    ),
                )
                .label(format!("{len} bytes"))
                .help("use a password of at most 8 bytes"),
            );
        }
    }
    out
}
