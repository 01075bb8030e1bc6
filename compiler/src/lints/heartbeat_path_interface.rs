use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, family_name, family_of};

pub static LINT: Lint = Lint {
    code: "V0809",
    name: "heartbeat-path-interface",
    severity: Severity::Error,
    summary: "a member has no interface (with an address of the router's family) on a heartbeat path segment",
    explanation: r#"## What it does
For every segment in a router's `heartbeat_paths`, checks that each member's
host has an interface on it with an address of the router's address family,
and that the path is not the router's own segment.

## Why is this bad
Heartbeat paths carry unicast adverts from each member's address on the
path to the others'. A member without an interface or address there can
neither send nor receive on that path: the redundancy the path promises is
not there, and the plan cannot be built. Listing the router's own segment
adds nothing.

## Example
```toml
[router.www]
segment = "front"
heartbeat_paths = ["heartbeat"]
# host web2 has no interface on "heartbeat"
```

## Fix
Give every member's host an interface with an address on the segment, or
remove the segment from `heartbeat_paths`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(family) = r.family() else { continue };
        for path in &r.heartbeat_paths {
            // Unknown segments are `unknown-segment`'s.
            if !cluster.segments.contains_key(&path.value) {
                continue;
            }
            if path.value == r.segment.value {
                out.push(
                    lint.at(
                        &path.span,
                        format!(
                            "router `{}` lists its own segment `{}` as a heartbeat path: the adverts \
                             already travel there, so it adds no second path",
                            r.name, path.value
                        ),
                    )
                    .label("the router's own segment")
                    .help("list a different segment that links the members, or remove it"),
                );
                continue;
            }
            for m in r.members.values() {
                // Unknown hosts are `unknown-member-host`'s.
                let Some(host) = cluster.hosts.get(&m.host) else {
                    continue;
                };
                let usable = host
                    .interfaces_on(&path.value)
                    .any(|i| i.addresses.iter().any(|a| family_of(a.addr) == family));
                if usable {
                    continue;
                }
                out.push(
                    lint.at(
                        &path.span,
                        format!(
                            "heartbeat path `{}` of router `{}`: member `{}` has no interface with an {} \
                             address on it, so adverts cannot travel this path to or from it",
                            path.value,
                            r.name,
                            m.host,
                            family_name(family)
                        ),
                    )
                    .label("heartbeat path")
                    .with(m.span.clone(), format!("member `{}`", m.host))
                    .help(format!(
                        "add an interface on segment `{}` with an {} address to host `{}`, or remove the path",
                        path.value,
                        family_name(family),
                        m.host
                    )),
                );
            }
        }
    }
    out
}
