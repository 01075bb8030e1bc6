use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0605",
    name: "no-vips",
    severity: Severity::Error,
    summary: "a router has no VIPs",
    explanation: r#"## What it does
Reports routers with an empty `vips` list.

## Why is this bad
RFC 5798 requires at least one address in a VRRPv3 advert; a router without
VIPs moves nothing on failover, and peers may drop its adverts.

## Example
```toml
[router.www]
segment = "front"
vrid = 51
```

## Fix
Add the service addresses: `vips = ["10.20.0.100/24"]`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    cluster
        .routers
        .values()
        .filter(|r| r.vips.is_empty())
        .map(|r| {
            lint.at(
                r.vips_span.as_ref().unwrap_or(&r.span),
                format!(
                    "router `{}` has no VIPs: it would move nothing on failover, and VRRPv3 adverts need at least one address",
                    r.name
                ),
            )
            .label(if r.vips_span.is_some() {
                "empty `vips`"
            } else {
                "no `vips`"
            })
            .help("add `vips = [\"<address>/<prefix>\"]`")
        })
        .collect()
}
