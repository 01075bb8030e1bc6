use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use std::collections::HashMap;
use std::net::IpAddr;

use vigil_schema::units::Cidr;

use crate::model::{At, Cluster, Router};

pub static LINT: Lint = Lint {
    code: "V0601",
    name: "duplicate-vip",
    severity: Severity::Error,
    summary: "a VIP belongs to two routers, or is a host's own address",
    explanation: r#"## What it does
Reports a VIP used by two routers (in any file) and a VIP equal to an
address of a host's interface (unless that host is the router's
priority-255 address owner).

## Why is this bad
Two routers elect their masters independently, so two hosts hold the same
address and clients' ARP caches flip between them. A VIP that is also a
host's real address is answered by that host even while another member is
master.

## Example
```toml
[router.www]
vips = ["10.20.0.100/24"]
[router.api]
vips = ["10.20.0.100/24"]
```

## Fix
Give each router its own VIPs and keep VIPs out of the hosts' address plans.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut vips: Vec<_> = cluster
        .routers
        .values()
        .flat_map(|r| r.vips.iter().map(move |v| (r, v)))
        .collect();
    vips.sort_by_key(|(_, v)| (v.span.file, v.span.range.start));
    // Every host address, by address (indexes keep this linear in the
    // topology's size: clusters have thousands of VIPs).
    let mut host_addresses: HashMap<IpAddr, Vec<(&str, &At<Cidr>)>> = HashMap::new();
    for host in cluster.hosts.values() {
        for iface in host.interfaces.values() {
            for a in &iface.addresses {
                host_addresses
                    .entry(a.addr)
                    .or_default()
                    .push((host.name.as_str(), a));
            }
        }
    }
    // The first VIP seen per address, and the first of another router.
    let mut first_by_addr: HashMap<IpAddr, Vec<(&Router, &At<Cidr>)>> = HashMap::new();
    for (r, v) in &vips {
        let seen = first_by_addr.entry(v.addr).or_default();
        if let Some((first_r, first_v)) = seen.iter().find(|(o, _)| o.name != r.name) {
            out.push(
                lint.at(
                    &v.span,
                    format!(
                        "{} is a VIP of both `{}` and `{}`: each router elects its own master, so two hosts \
                         will hold the address and clients flip between them",
                        v.addr, first_r.name, r.name
                    ),
                )
                .label(format!("VIP of `{}`", r.name))
                .with(first_v.span.clone(), format!("VIP of `{}`", first_r.name))
                .help("give each router its own VIPs"),
            );
        }
        if !seen.iter().any(|(o, _)| o.name == r.name) {
            seen.push((r, v));
        }
        for (host, a) in host_addresses.get(&v.addr).into_iter().flatten() {
            let owner = r
                .members
                .get(*host)
                .is_some_and(|m| m.priority.value == 255);
            if owner {
                continue;
            }
            out.push(
                lint.at(
                    &v.span,
                    format!(
                        "VIP {} of router `{}` is also an address of host `{host}`: that host answers for it \
                         even while another member is master",
                        v.addr, r.name
                    ),
                )
                .label("VIP")
                .with(a.span.clone(), format!("address of `{host}`"))
                .help("pick a VIP outside the hosts' addresses (or make that host the owner with priority 255)"),
            );
        }
    }
    out
}
