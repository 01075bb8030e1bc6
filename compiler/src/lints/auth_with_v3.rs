use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0204",
    name: "auth-with-v3",
    severity: Severity::Error,
    summary: "authentication is configured on a VRRPv3 router, which has no authentication",
    explanation: r#"## What it does
Reports `auth` on routers that use VRRPv3 (the default).

## Why is this bad
RFC 5798 removed authentication: a v3 advert has no field for it. The
password would be silently ignored, giving a false sense of protection, and
v2 peers that expect it would drop every advert.

## Example
```toml
[router.www]
auth = { type = "pass", password = "secret" }   # version defaults to 3
```

## Fix
Remove `auth` (protect the segment instead), or set `version = 2` if the
peers are legacy VRRPv2 speakers that require it.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(auth) = &r.auth else { continue };
        if r.version.value != 3 {
            continue;
        }
        let mut d = lint
            .at(
                &auth.span,
                format!(
                    "router `{}` uses VRRPv3, which has no authentication: the password would never be sent",
                    r.name
                ),
            )
            .label("ignored by VRRPv3")
            .help("remove `auth`, or set `version = 2` if legacy peers require a password");
        if let Some(span) = &r.version.span {
            d = d.with(span.clone(), "VRRPv3 set here");
        }
        out.push(d);
    }
    out
}
