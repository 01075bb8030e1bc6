use std::net::IpAddr;

use vigil_schema::topology::Method;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, Host};
use crate::source::Span;

pub static LINT: Lint = Lint {
    code: "V0913",
    name: "dr-real-server-off-segment",
    severity: Severity::Error,
    summary: "a real server of a DR virtual server is not on a segment every director is on",
    explanation: r#"## What it does
For virtual servers with `method = "dr"` (the default), finds real servers
(and sorry servers) whose address lies in a segment of the topology on
which a director, a member of the virtual server's router, has no
interface (nor an interface address whose prefix holds it). Addresses on
no segment of the topology are not judged.
(`tun` is not checked: it reaches real servers through IP tunnels, over
any route. `nat` needs the directors as the real servers' gateway, which
the topology does not say.)

## Why is this bad
Direct routing forwards a packet by rewriting only its destination MAC
address, so a director can only reach real servers on its own L2 segment.
Traffic the master sends to a real server elsewhere goes nowhere: those
connections hang, although health checks over IP may well pass.

## Example
```toml
[segment.servers]
subnets = ["10.40.0.0/24"]

[virtual_server.www-http]
router = "www"        # directors lvs1 and lvs2, on "edge" and "servers"
method = "dr"
real_server = [{ address = "10.50.0.21" }]    # on no segment of theirs
```

## Fix
Give the directors an interface on the real servers' segment, move the
real server there, or use `method = "tun"` (or `"nat"`) if they really
are routed.
"#,
    check,
};

/// Whether `host` has an interface on one of `segments`, or one whose own
/// addresses' prefix holds `addr`.
fn on_link(host: &Host, segments: &[&str], addr: IpAddr) -> bool {
    host.interfaces.values().any(|i| {
        segments.contains(&i.segment.value.as_str())
            || i.addresses.iter().any(|a| a.prefix > 0 && a.contains(addr))
    })
}

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        if vs.method.value != Method::Dr {
            continue;
        }
        // An unknown router is `virtual-server-address-not-vip`'s, unknown
        // hosts are `unknown-member-host`'s.
        let Some(router) = cluster.routers.get(&vs.router.value) else {
            continue;
        };
        let directors: Vec<(&Host, &Span)> = router
            .members
            .values()
            .filter_map(|m| cluster.hosts.get(&m.host).map(|h| (h, &m.span)))
            .collect();
        let targets = vs
            .real_servers
            .iter()
            .map(|rs| ("real server", rs.address.value, &rs.address.span))
            .chain(
                vs.sorry_server
                    .iter()
                    .map(|s| ("sorry server", s.value.ip(), &s.span)),
            );
        for (kind, addr, span) in targets {
            // Where the topology puts the address; an address on no known
            // segment cannot be judged (its segment may not be written).
            let segments: Vec<&str> = cluster
                .segments
                .values()
                .filter(|s| s.contains(addr))
                .map(|s| s.name.as_str())
                .collect();
            if segments.is_empty() {
                continue;
            }
            let missing: Vec<&(&Host, &Span)> = directors
                .iter()
                .filter(|(h, _)| !on_link(h, &segments, addr))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let names: Vec<String> = missing
                .iter()
                .map(|(h, _)| format!("`{}`", h.name))
                .collect();
            let who = if missing.len() == directors.len() && directors.len() > 1 {
                format!(
                    "none of its directors ({}) has an interface",
                    names.join(", ")
                )
            } else if missing.len() == 1 {
                format!("director {} has no interface", names[0])
            } else {
                format!("directors {} have no interface", names.join(", "))
            };
            let segment_names: Vec<String> = segments.iter().map(|s| format!("`{s}`")).collect();
            let mut d = lint
                .at(
                    span,
                    format!(
                        "{kind} {addr} of virtual server `{}` (method dr) is on segment {}, where {who}: \
                         direct routing only rewrites the destination MAC, so a master \
                         without a link there cannot deliver connections to it and they hang",
                        vs.name,
                        segment_names.join(", ")
                    ),
                )
                .label("not on-link for every director")
                .help(
                    "give the directors an interface on the real server's segment, move the real \
                     server, or use method \"tun\" if it is routed",
                );
            for (h, member) in missing {
                d = d.with((*member).clone(), format!("director `{}`", h.name));
            }
            out.push(d);
        }
    }
    out
}
