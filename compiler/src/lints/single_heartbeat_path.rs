use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0504",
    name: "single-heartbeat-path",
    severity: Severity::Warning,
    summary: "a two-member router sends adverts over one path although its members have a link of their own",
    explanation: r#"## What it does
Reports a router with exactly two members and no `heartbeat_paths` whose two
member hosts have a link of their own: another segment with an interface of
both hosts and of no other host (a back-to-back cable, a dedicated
heartbeat or sync VLAN, on which no router runs) that could carry the
adverts too. Segments shared with other hosts (server networks) or serving
routers of their own are not reported: declaring them is a choice, not an
oversight.

## Why is this bad
The adverts between the two members travel over a single path. When that
path breaks between the members while both still reach the gateway (a
switch fault isolating two ports, a VLAN pruned on one trunk, multicast
filtering), each member stops hearing the other and becomes master.
Reference-IP arbitration cannot resolve this case: both members reach the
reference IPs, so both are allowed to serve, and both answer ARP for the
VIPs. A second path that carries the same adverts keeps the backup hearing
its master as long as either path works.

## Example
```toml
[host.web1.interface.eth0]
segment = "front"
addresses = ["10.20.0.11/24"]
[host.web1.interface.eth1]
segment = "heartbeat"
addresses = ["10.99.0.11/24"]
# (web2 likewise)

[router.www]
segment = "front"
# no heartbeat_paths although both members are on "heartbeat"
```

## Fix
Declare the shared segment: `heartbeat_paths = ["heartbeat"]`. The master
then also sends its adverts by unicast over it, and the backup treats the
master as alive while adverts arrive on any path.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        if r.members.len() != 2 || !r.heartbeat_paths.is_empty() {
            continue;
        }
        // A member not on the router's segment is another lint's problem.
        if r.members
            .values()
            .any(|m| cluster.member_interface(r, m).is_none())
        {
            continue;
        }
        let hosts: Vec<_> = r
            .members
            .keys()
            .filter_map(|h| cluster.hosts.get(h))
            .collect();
        let [a, b] = hosts.as_slice() else { continue };
        let shared: Vec<&str> = a
            .interfaces
            .values()
            .map(|i| i.segment.value.as_str())
            .filter(|s| *s != r.segment.value && cluster.segments.contains_key(*s))
            .filter(|s| b.interfaces_on(s).next().is_some())
            .filter(|s| !cluster.routers.values().any(|o| o.segment.value == *s))
            .filter(|s| {
                cluster.hosts.values().all(|h| {
                    h.name == a.name || h.name == b.name || h.interfaces_on(s).next().is_none()
                })
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let Some(first) = shared.first() else {
            continue;
        };
        let list = shared
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(
            lint.at(
                &r.span,
                format!(
                    "router `{}` sends its adverts over segment `{}` only: heartbeat link cut ⇒ both \
                     become master unless arbitration resolves it (it cannot while both reach the \
                     reference IPs); declare heartbeat_paths (`{}` and `{}` share {list})",
                    r.name, r.segment.value, a.name, b.name
                ),
            )
            .label("one heartbeat path")
            .help(format!("add `heartbeat_paths = [\"{first}\"]` to router `{}`", r.name)),
        );
    }
    out
}
