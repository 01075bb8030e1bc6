use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, family_name, family_of};

pub static LINT: Lint = Lint {
    code: "V0603",
    name: "mixed-address-families",
    severity: Severity::Error,
    summary: "a router has both IPv4 and IPv6 VIPs",
    explanation: r#"## What it does
Reports routers whose VIPs are not all of one address family.

## Why is this bad
A VRRP advert carries addresses of one family; IPv4 and IPv6 virtual
routers are separate instances (different multicast groups, different VRID
spaces). One router cannot announce both, so half of the VIPs would never
fail over.

## Example
```toml
vips = ["10.20.0.100/24", "2001:db8::100/64"]
```

## Fix
Split into two routers, one per family (they may share the VRID).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(first) = r.vips.first() else {
            continue;
        };
        let family = family_of(first.addr);
        if let Some(other) = r.vips.iter().find(|v| family_of(v.addr) != family) {
            out.push(
                lint.at(
                    &other.span,
                    format!(
                        "router `{}` mixes {} and {} VIPs: an advert carries one family, so these would never fail over",
                        r.name,
                        family_name(family),
                        family_name(family_of(other.addr))
                    ),
                )
                .label(format!("{} VIP", family_name(family_of(other.addr))))
                .with(first.span.clone(), format!("{} VIP", family_name(family)))
                .help("split the router into one router per address family"),
            );
        }
    }
    out
}
