use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0602",
    name: "vip-outside-segment",
    severity: Severity::Warning,
    summary: "a VIP is outside every subnet of its router's segment",
    explanation: r#"## What it does
Reports VIPs that no subnet of the router's segment contains.

## Why is this bad
Clients on the segment reach on-link addresses by ARP/ND; an address
outside the segment's subnets is only reachable if routers upstream route
it to the segment. Usually it is a typo (10.2.0.100 for 10.20.0.100) and
the service is unreachable after failover.

## Example
```toml
[segment.front]
subnets = ["10.20.0.0/24"]
[router.www]
vips = ["10.2.0.100/24"]
```

## Fix
Correct the VIP, or add its subnet to the segment if it is really routed there.
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
            if !segment.contains(v.addr) {
                let mut d = lint
                    .at(
                        &v.span,
                        format!(
                            "VIP {} of router `{}` is outside every subnet of segment `{}`: clients on the \
                             segment cannot reach it unless it is routed there",
                            v.addr, r.name, segment.name
                        ),
                    )
                    .label("not on the segment")
                    .help("correct the VIP, or add its subnet to the segment's `subnets`");
                if let Some(s) = segment.subnets.first() {
                    d = d.with(s.span.clone(), "the segment's subnets");
                }
                out.push(d);
            }
        }
    }
    out
}
