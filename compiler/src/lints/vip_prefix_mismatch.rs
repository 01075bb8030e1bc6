use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0607",
    name: "vip-prefix-mismatch",
    severity: Severity::Error,
    summary: "a VIP's prefix length differs from that of the segment subnet it lies in (and is not a host prefix)",
    explanation: r#"## What it does
For every VIP inside a subnet of its router's segment, checks that the
VIP's prefix length is the subnet's, or a host prefix (`/32` for IPv4,
`/128` for IPv6), which adds the address without any route.

## Why is this bad
The master adds the VIP with its prefix, and the kernel adds a route for
that prefix on the interface. A `/16` VIP on a `/24` segment makes the
master believe the whole `/16` is on this link: traffic to the other
subnets of the `/16` is sent here by ARP and lost, for as long as it is
master. A longer prefix than the subnet's (a `/26` on a `/24`) makes the
VIP's own broadcast address and source selection differ between the
members and is almost always a typo.

## Example
```toml
[segment.front]
subnets = ["10.20.0.0/24"]

[router.www]
segment = "front"
vips = ["10.20.0.100/16"]
```

## Fix
Write the segment's prefix (`10.20.0.100/24`), or a host prefix
(`10.20.0.100/32`) to add the address without a route.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(segment) = cluster.segments.get(&r.segment.value) else {
            continue;
        };
        for v in &r.vips {
            let host_prefix = if v.is_ipv4() { 32 } else { 128 };
            if v.prefix == host_prefix {
                continue;
            }
            // The most specific subnet that holds the VIP; a VIP outside
            // all of them is `vip-outside-segment`'s.
            let Some(subnet) = segment
                .subnets
                .iter()
                .filter(|s| s.contains(v.addr))
                .max_by_key(|s| s.prefix)
            else {
                continue;
            };
            if segment
                .subnets
                .iter()
                .any(|s| s.contains(v.addr) && s.prefix == v.prefix)
            {
                continue;
            }
            let effect = if v.prefix < subnet.prefix {
                format!(
                    "as master, the member would route all of {}/{} to this link, and traffic for \
                     the rest of it would be lost",
                    v.value.network(),
                    v.prefix
                )
            } else {
                "the VIP would carry another netmask and broadcast address than the segment's"
                    .to_string()
            };
            out.push(
                lint.at(
                    &v.span,
                    format!(
                        "VIP {} of router `{}` has prefix /{}, but segment `{}` has it in {}: {effect}",
                        v.value, r.name, v.prefix, segment.name, subnet.value
                    ),
                )
                .label(format!("/{} here", v.prefix))
                .with(subnet.span.clone(), format!("/{} on the segment", subnet.prefix))
                .help(format!(
                    "write {}/{} (the segment's prefix) or {}/{host_prefix} (no route)",
                    v.addr, subnet.prefix, v.addr
                )),
            );
        }
    }
    out
}
