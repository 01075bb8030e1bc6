use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, family_name, family_of};

pub static LINT: Lint = Lint {
    code: "V0810",
    name: "member-without-address",
    severity: Severity::Error,
    summary: "a member's interface on the router's segment has no address of the router's family",
    explanation: r#"## What it does
Reports members whose interface on the router's segment has no address of
the router's address family (IPv4 or IPv6, from its VIPs). Unicast routers
are `unicast-member-without-address`'s.

## Why is this bad
VRRP adverts are sent from an address of the router's family on the
interface (for IPv6, the link-local one). A member without one cannot
advertise: its plan cannot be built, and if it ran, its peers would never
hear it while it becomes master alongside the real one.

## Example
```toml
[host.web1.interface.eth0]
segment = "front"
addresses = ["10.20.0.11/24"]    # no IPv6 address

[router.www6]
segment = "front"
vips = ["fe80::51/64"]
```

## Fix
Add the host's address of that family on the interface (for IPv6, its
link-local address, e.g. `fe80::11/64`).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        if r.unicast.value {
            continue;
        }
        let Some(family) = r.family() else { continue };
        for m in r.members.values() {
            // Unresolved interfaces are `member-interface-unresolved`'s.
            let Some(iface) = cluster.member_interface(r, m) else {
                continue;
            };
            if iface.addresses.iter().any(|a| family_of(a.addr) == family) {
                continue;
            }
            let name = family_name(family);
            out.push(
                lint.at(
                    &m.span,
                    format!(
                        "member `{}` of router `{}` has no {name} address on `{}` (segment `{}`): it has \
                         no address to send its adverts from, so its peers would never hear it",
                        m.host, r.name, iface.name, r.segment.value
                    ),
                )
                .label(format!("member without an {name} address"))
                .with(
                    iface.span.clone(),
                    format!("interface `{}` has no {name} address", iface.name),
                )
                .help(format!(
                    "add the host's {name} address to interface `{}`{}",
                    iface.name,
                    if name == "IPv6" {
                        " (its link-local address, e.g. fe80::11/64)"
                    } else {
                        ""
                    }
                )),
            );
        }
    }
    out
}
