use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0803",
    name: "member-interface-unresolved",
    severity: Severity::Error,
    summary: "a member's host has no interface, or several, on the router's segment and none is named",
    explanation: r#"## What it does
Without `interface`, a member runs on its host's only interface on the
router's segment. This lint reports hosts that have none there, or several.

## Why is this bad
With none, the host is not on the link at all: it cannot hear or send
adverts and would hold VIPs that nobody can reach. With several, the choice
would be a guess.

## Example
```toml
[host.web2.interface.eth0]
segment = "back"
[router.www]
segment = "front"
[router.www.member.web2]
priority = 100
```

## Fix
Attach an interface of the host to the segment, or name the right one with
`interface = "..."`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for m in r.members.values() {
            if m.interface.is_some() {
                continue;
            }
            // Unknown hosts and segments are reported by their own lints.
            let Some(host) = cluster.hosts.get(&m.host) else {
                continue;
            };
            if !cluster.segments.contains_key(&r.segment.value) {
                continue;
            }
            let on: Vec<_> = host.interfaces_on(&r.segment.value).collect();
            match on.as_slice() {
                [] => out.push(
                    lint.at(
                        &m.span,
                        format!(
                            "member `{}` of router `{}` has no interface on segment `{}`: it cannot take part in \
                             the election and its VIPs would be unreachable",
                            m.host, r.name, r.segment.value
                        ),
                    )
                    .label("not on the segment")
                    .with(host.span.clone(), format!("host `{}`", host.name))
                    .help(format!(
                        "add `[host.{}.interface.<name>]` with `segment = \"{}\"`",
                        host.name, r.segment.value
                    )),
                ),
                [_] => {}
                [first, second, ..] => out.push(
                    lint.at(
                        &m.span,
                        format!(
                            "member `{}` of router `{}` has {} interfaces on segment `{}`; which one runs the router \
                             would be a guess",
                            m.host,
                            r.name,
                            on.len(),
                            r.segment.value
                        ),
                    )
                    .label("ambiguous")
                    .with(first.span.clone(), format!("`{}`", first.name))
                    .with(second.span.clone(), format!("`{}`", second.name))
                    .help(format!("add `interface = \"{}\"` (or the right one) to the member", first.name)),
                ),
            }
        }
    }
    out
}
