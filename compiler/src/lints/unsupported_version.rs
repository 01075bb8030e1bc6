use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0201",
    name: "unsupported-version",
    severity: Severity::Error,
    summary: "a router's VRRP version is neither 2 nor 3",
    explanation: r#"## What it does
Checks that `version` is 2 (RFC 3768) or 3 (RFC 5798, the default).

## Why is this bad
No other VRRP version exists; peers drop adverts of an unknown version and
every member would become master.

## Example
```toml
[router.www]
version = 4
```

## Fix
Leave `version` out (3), or write 2 only to interoperate with VRRPv2-only peers.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    cluster
        .routers
        .values()
        .filter(|r| !matches!(r.version.value, 2 | 3))
        .map(|r| {
            lint.at(
                &r.version.span_or(&r.span),
                format!(
                    "router `{}` asks for VRRP version {}, which does not exist: peers would drop its adverts",
                    r.name, r.version.value
                ),
            )
            .label("not 2 or 3")
            .help("remove `version` to use VRRPv3, or write `version = 2` for legacy IPv4 peers")
        })
        .collect()
}
