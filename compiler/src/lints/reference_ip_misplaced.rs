use std::collections::HashMap;
use std::net::IpAddr;

use vigil_schema::units::Cidr;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{At, Cluster, Host, Router, Segment};
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

/// The first VIP (routers in name order) and the first host address
/// (hosts, then interfaces, in name order) of every address, by segment.
struct Owners<'a> {
    vips: HashMap<(&'a str, IpAddr), (&'a Router, &'a At<Cidr>)>,
    hosts: HashMap<(&'a str, IpAddr), (&'a Host, &'a At<Cidr>)>,
}

impl<'a> Owners<'a> {
    fn new(cluster: &'a Cluster) -> Self {
        let mut vips = HashMap::new();
        for r in cluster.routers.values() {
            for v in &r.vips {
                vips.entry((r.segment.value.as_str(), v.addr))
                    .or_insert((r, v));
            }
        }
        let mut hosts = HashMap::new();
        for h in cluster.hosts.values() {
            for i in h.interfaces.values() {
                for a in &i.addresses {
                    hosts
                        .entry((i.segment.value.as_str(), a.addr))
                        .or_insert((h, a));
                }
            }
        }
        Owners { vips, hosts }
    }
}

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let owners = Owners::new(cluster);
    for segment in cluster.segments.values() {
        for ip in &segment.reference_ips {
            check_ip(lint, &owners, segment, ip, &mut out);
        }
    }
    for r in cluster.routers.values() {
        let (Some(arb), Some(segment)) = (&r.arbitration, cluster.segments.get(&r.segment.value))
        else {
            continue;
        };
        for ip in &arb.reference_ips {
            check_ip(lint, &owners, segment, ip, &mut out);
        }
    }
    out
}

fn check_ip(
    lint: &Lint,
    owners: &Owners,
    segment: &Segment,
    ip: &At<IpAddr>,
    out: &mut Vec<Diagnostic>,
) {
    let addr = ip.value;
    let seg = &segment.name;
    if let Some((r, vip)) = owners.vips.get(&(seg.as_str(), addr)) {
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
    if let Some((host, a)) = owners.hosts.get(&(seg.as_str(), addr)) {
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
