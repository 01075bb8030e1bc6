use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::load::edit_distance;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0801",
    name: "unknown-member-host",
    severity: Severity::Error,
    summary: "a router member (or a tracker's `hosts` entry) names a host that is not defined or not a member",
    explanation: r#"## What it does
Members are named after hosts; this lint reports members whose host has no
`[host.NAME]`, and tracker `hosts` entries that are not members of the
router.

## Why is this bad
No plan is made for a host that does not exist, so the member the topology
counts on never runs: the router has one member fewer than you think (often
none to fail over to). A tracker limited to a non-member applies to nobody.

## Example
```toml
[router.www.member.web3]     # no [host.web3]
priority = 50
```

## Fix
Define the host, or correct the name.
"#,
    check,
};

fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a String>) -> String {
    let best = candidates
        .map(|c| (edit_distance(name, c), c))
        .min()
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1));
    match best {
        Some((_, c)) => format!("did you mean `{c}`?"),
        None => format!("define `[host.{name}]` with its interface on the router's segment"),
    }
}

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        for m in r.members.values() {
            if !cluster.hosts.contains_key(&m.host) {
                out.push(
                    lint.at(
                        &m.span,
                        format!(
                            "router `{}` has member `{}`, but no host `{}` is defined: no plan is made for it, \
                             so the router runs with one member fewer",
                            r.name, m.host, m.host
                        ),
                    )
                    .label("unknown host")
                    .help(suggest(&m.host, cluster.hosts.keys())),
                );
            }
        }
        for t in r.trackers.values() {
            for h in &t.hosts {
                if !r.members.contains_key(&h.value) {
                    out.push(
                        lint.at(
                            &h.span,
                            format!(
                                "tracker `{}` of router `{}` applies to `{}`, which is not a member of the router: \
                                 it tracks nothing there",
                                t.name, r.name, h.value
                            ),
                        )
                        .label("not a member")
                        .help(suggest(&h.value, r.members.keys())),
                    );
                }
            }
        }
    }
    out
}
