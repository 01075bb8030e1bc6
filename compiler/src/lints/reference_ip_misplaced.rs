use std::net::IpAddr;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{At, Cluster, Segment};
use crate::source::Span;

pub static LINT: Lint = Lint {
    code: "V0502",
    name: "reference-ip-misplaced",
    severity: Severity::Error,
    summary: "a reference IP is outside the segment's subnets, is a VIP, or is a member's own address",
    explanation: r#"## What it does
Reference IPs must be third parties on the segment (the gateway, a
witness). This lint reports reference IPs that are outside every subnet of
the segment, equal to a VIP, or equal to an address of a host on it.

## Why is this bad
Arbitration asks "can I still reach the outside world?". A VIP answers from
whichever member is master, a member's own address answers from that
member, and an off-link address is reached through routing that may not
share the failure. Either way an isolated member still sees "reachable" and
keeps the VIPs: split brain is not prevented.

## Example
```toml
[segment.front]
subnets = ["10.20.0.0/24"]
reference_ips = ["10.20.0.100"]    # the VIP itself
```

## Fix
Use the default gateway or another always-on device on the segment.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for segment in cluster.segments.values() {
        for ip in &segment.reference_ips {
            check_ip(lint, cluster, segment, ip, &mut out);
        }
    }
    for r in cluster.routers.values() {
        let (Some(arb), Some(segment)) = (&r.arbitration, cluster.segments.get(&r.segment.value))
        else {
            continue;
        };
        for ip in &arb.reference_ips {
            check_ip(lint, cluster, segment, ip, &mut out);
        }
    }
    out
}

fn check_ip(
    lint: &Lint,
    cluster: &Cluster,
    segment: &Segment,
    ip: &At<IpAddr>,
    out: &mut Vec<Diagnostic>,
) {
    let addr = ip.value;
    let seg = &segment.name;
    for r in cluster.routers.values().filter(|r| &r.segment.value == seg) {
        if let Some(vip) = r.vips.iter().find(|v| v.addr == addr) {
            out.push(problem(
                lint,
                ip,
                format!(
                    "reference IP {addr} is a VIP of router `{}`: the master answers for it, so an isolated \
                     member keeps seeing it and never releases the VIPs",
                    r.name
                ),
                Some((vip.span.clone(), format!("VIP of `{}`", r.name))),
            ));
            return;
        }
    }
    for host in cluster.hosts.values() {
        for iface in host.interfaces_on(seg) {
            if let Some(a) = iface.addresses.iter().find(|a| a.addr == addr) {
                out.push(problem(
                    lint,
                    ip,
                    format!(
                        "reference IP {addr} is an address of host `{}`: it answers as long as that host lives, \
                         so arbitration cannot tell an isolated member from a healthy one",
                        host.name
                    ),
                    Some((a.span.clone(), format!("address of `{}`", host.name))),
                ));
                return;
            }
        }
    }
    if !segment.subnets.is_empty() && !segment.contains(addr) {
        out.push(problem(
            lint,
            ip,
            format!(
                "reference IP {addr} is outside every subnet of segment `{seg}`: it is reached through routing \
                 that need not share the segment's failures, so isolation goes unnoticed"
            ),
            segment
                .subnets
                .first()
                .map(|s| (s.span.clone(), "the segment's subnets".to_string())),
        ));
    }
}

fn problem(
    lint: &Lint,
    ip: &At<IpAddr>,
    message: String,
    other: Option<(Span, String)>,
) -> Diagnostic {
    let mut d = lint
        .at(&ip.span, message)
        .label("reference IP")
        .help("use the segment's default gateway or another always-on device on the segment");
    if let Some((span, text)) = other {
        d = d.with(span, text);
    }
    d
}
