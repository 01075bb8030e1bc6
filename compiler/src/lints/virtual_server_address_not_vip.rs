use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0901",
    name: "virtual-server-address-not-vip",
    severity: Severity::Error,
    summary: "a virtual server's router is unknown, or its address is not one of that router's VIPs",
    explanation: r#"## What it does
A virtual server is programmed on the members of its `router`, on one of
that router's VIPs. This lint reports unknown routers and addresses that
are not VIPs of the router.

## Why is this bad
IPVS would answer for an address no director owns (or one another router
moves independently): connections arrive at a backup director, or nowhere,
after failover.

## Example
```toml
[router.www]
vips = ["10.20.0.100/24"]
[virtual_server.http]
router = "www"
address = "10.20.0.101"
```

## Fix
Use a VIP of the router as the address (or add the address to its `vips`).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let Some(r) = cluster.routers.get(&vs.router.value) else {
            out.push(
                lint.at(
                    &vs.router.span,
                    format!(
                        "virtual server `{}` belongs to router `{}`, which is not defined: no director would program it",
                        vs.name, vs.router.value
                    ),
                )
                .label("unknown router")
                .help("name the router whose VIP carries this service"),
            );
            continue;
        };
        let Some(addr) = &vs.address else { continue };
        if !r.vips.iter().any(|v| v.addr == addr.value) {
            let mut d = lint
                .at(
                    &addr.span,
                    format!(
                        "virtual server `{}` listens on {}, which is not a VIP of router `{}`: the service does not \
                         follow the master, and connections reach a director that does not own the address",
                        vs.name, addr.value, r.name
                    ),
                )
                .label("not a VIP of the router");
            if let Some(v) = r.vips.first() {
                d = d.with(v.span.clone(), format!("VIPs of `{}`", r.name));
            }
            // Adding an address another router holds would be a duplicate
            // VIP: point at the router that has it instead.
            let holder = cluster
                .routers
                .values()
                .find_map(|o| o.vips.iter().find(|v| v.addr == addr.value).map(|v| (o, v)));
            d = match holder {
                Some((other, vip)) => d
                    .with(vip.span.clone(), format!("{} is a VIP of router `{}`", addr.value, other.name))
                    .help(format!(
                        "{} belongs to router `{}`: set `router = \"{}\"`, or use one of the VIPs of `{}` \
                         (adding {} to `{}` as well would make it a duplicate VIP)",
                        addr.value, other.name, other.name, r.name, addr.value, r.name
                    )),
                None => d.help(format!(
                    "use one of the VIPs of `{}` or add {} to its `vips`",
                    r.name, addr.value
                )),
            };
            out.push(d);
        }
    }
    out
}
