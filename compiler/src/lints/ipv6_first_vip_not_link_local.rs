use std::net::IpAddr;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0606",
    name: "ipv6-first-vip-not-link-local",
    severity: Severity::Warning,
    summary: "the first VIP of an IPv6 router is not a link-local address",
    explanation: r#"## What it does
RFC 5798 requires the first address of an IPv6 advert to be the virtual
router's link-local address. This lint warns when the first IPv6 VIP is
not in fe80::/10.

## Why is this bad
Strict peers (and keepalived in strict mode) drop such adverts; hosts that
use the virtual router as their default gateway learn it through a
link-local address, so without one failover does not move their gateway.

## Example
```toml
vips = ["2001:db8::100/64"]
```

## Fix
Put a link-local VIP first: `vips = ["fe80::51/64", "2001:db8::100/64"]`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(first) = r.vips.first() else {
            continue;
        };
        if let IpAddr::V6(v6) = first.addr
            && (v6.segments()[0] & 0xffc0) != 0xfe80
        {
            out.push(
                lint.at(
                    &first.span,
                    format!(
                        "the first VIP of IPv6 router `{}` is {}, not a link-local address: strict peers drop \
                         the adverts and hosts using it as their gateway do not follow a failover",
                        r.name, first.addr
                    ),
                )
                .label("not link-local")
                .help("put a link-local VIP (fe80::/10) first in `vips`"),
            );
        }
    }
    out
}
