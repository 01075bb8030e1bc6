use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, Router, family_name};
use crate::source::Span;

pub static LINT: Lint = Lint {
    code: "V0109",
    name: "heartbeat-vrid-collision",
    severity: Severity::Error,
    summary: "a router's adverts on a heartbeat path use a VRID that another router (or a reservation) uses on that segment",
    explanation: r#"## What it does
A router with `heartbeat_paths` sends its adverts over each of those
segments too, with its own VRID. This lint finds a VRID that is thereby
used twice on one segment and address family: by a router native to the
heartbeat segment, by another router's heartbeat path, or by the segment's
`reserved_vrids`. (Two routers native to one segment are `vrid-collision`.)

## Why is this bad
On the heartbeat segment, members receive both routers' adverts under one
VRID and take them for one router's: a master sees adverts with the wrong
VIPs and priority and discards them, a backup hears a "master" that is not
its own. The result is the split brain that the heartbeat path was meant
to prevent: two masters of one of the routers, or VIPs flapping between
hosts.

## Example
```toml
[router.db]
segment = "front"
vrid = 51
heartbeat_paths = ["backend"]

[router.app]
segment = "backend"
vrid = 51        # also travels on "backend" via db's heartbeat path
```

## Fix
Give the routers different VRIDs; a router with heartbeat paths needs a
VRID that is free on its own segment and on every heartbeat segment.
"#,
    check,
};

/// One use of a VRID on a segment.
struct Use<'a> {
    router: &'a Router,
    /// `None`: the router's own segment; else the heartbeat path entry.
    path: Option<&'a Span>,
}

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // (segment, vrid) → uses, routers in name order, native use first.
    let mut uses: BTreeMap<(&str, i64), Vec<Use>> = BTreeMap::new();
    for r in cluster.routers.values() {
        uses.entry((r.segment.value.as_str(), r.vrid.value))
            .or_default()
            .push(Use {
                router: r,
                path: None,
            });
        for path in &r.heartbeat_paths {
            // Its own segment is `heartbeat-path-interface`'s.
            if path.value != r.segment.value {
                uses.entry((path.value.as_str(), r.vrid.value))
                    .or_default()
                    .push(Use {
                        router: r,
                        path: Some(&path.span),
                    });
            }
        }
    }
    for ((segment, vrid), list) in &uses {
        // Unknown segments are `unknown-segment`'s.
        let Some(seg) = cluster.segments.get(*segment) else {
            continue;
        };
        for (i, later) in list.iter().enumerate() {
            let Some(path_span) = later.path else {
                continue;
            };
            let same_family = |r: &Router| {
                r.family().is_none()
                    || later.router.family().is_none()
                    || r.family() == later.router.family()
            };
            let family = later
                .router
                .family()
                .map_or(String::new(), |f| format!(" ({})", family_name(f)));
            // Against every other use: native ones (wherever they are in
            // the list) and the heartbeat paths listed before this one.
            for (j, other) in list.iter().enumerate() {
                let earlier_path = other.path.is_some() && j < i;
                if other.router.name == later.router.name
                    || !(other.path.is_none() || earlier_path)
                    || !same_family(other.router)
                {
                    continue;
                }
                let (how, at) = match other.path {
                    None => (
                        format!("router `{}` uses natively", other.router.name),
                        other.router.vrid.span.clone(),
                    ),
                    Some(p) => (
                        format!("router `{}` also sends there", other.router.name),
                        p.clone(),
                    ),
                };
                out.push(
                    lint.at(
                        path_span,
                        format!(
                            "router `{}` sends its adverts over heartbeat path `{segment}` with VRID \
                             {vrid}{family}, which {how}: members on `{segment}` take one router's adverts \
                             for the other's, and one of them ends up with two masters",
                            later.router.name, how = how
                        ),
                    )
                    .label(format!("VRID {vrid} travels here"))
                    .with(at, format!("VRID {vrid} of `{}`", other.router.name))
                    .help(format!(
                        "give `{}` or `{}` a VRID that is free on `{}` and on `{segment}`",
                        later.router.name, other.router.name, later.router.segment.value
                    )),
                );
            }
            for reserved in seg.reserved_vrids.iter().filter(|r| r.vrid.value == *vrid) {
                out.push(
                    lint.at(
                        path_span,
                        format!(
                            "router `{}` sends its adverts over heartbeat path `{segment}` with VRID \
                             {vrid}, which `{segment}` reserves for {}: both would claim one virtual \
                             router there",
                            later.router.name, reserved.owner.value
                        ),
                    )
                    .label(format!("VRID {vrid} travels here"))
                    .with(
                        reserved.vrid.span.clone(),
                        format!("reserved for {}", reserved.owner.value),
                    )
                    .help(format!(
                        "give `{}` a VRID that is free on `{}` and on `{segment}`",
                        later.router.name, later.router.segment.value
                    )),
                );
            }
        }
    }
    out
}
