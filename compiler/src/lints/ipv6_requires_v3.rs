use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, family_of};
use vigil_schema::plan::Family;

pub static LINT: Lint = Lint {
    code: "V0203",
    name: "ipv6-requires-v3",
    severity: Severity::Error,
    summary: "an IPv6 router uses VRRPv2, which only carries IPv4",
    explanation: r#"## What it does
Reports routers with IPv6 VIPs and `version = 2`.

## Why is this bad
VRRPv2 (RFC 3768) is IPv4-only. There is no way to advertise IPv6 VIPs with
it; the router could not run at all.

## Example
```toml
[router.www6]
version = 2
vips = ["2001:db8::100/64"]
```

## Fix
Remove `version` (VRRPv3 is the default) or set `version = 3`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        if r.version.value != 2 {
            continue;
        }
        if let Some(vip) = r.vips.iter().find(|v| family_of(v.addr) == Family::Ipv6) {
            out.push(
                lint.at(
                    &r.version.span_or(&r.span),
                    format!(
                        "router `{}` has IPv6 VIPs but uses VRRPv2, which only carries IPv4 addresses: it cannot run",
                        r.name
                    ),
                )
                .label("VRRPv2")
                .with(vip.span.clone(), "an IPv6 VIP")
                .help("use VRRPv3 (remove `version`), or move the IPv6 VIPs to a separate v3 router"),
            );
        }
    }
    out
}
