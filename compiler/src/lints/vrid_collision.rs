use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, family_name};

pub static LINT: Lint = Lint {
    code: "V0101",
    name: "vrid-collision",
    severity: Severity::Error,
    summary: "two virtual routers (or a reserved VRID) share a VRID on one segment and family",
    explanation: r#"## What it does
Finds virtual routers that use the same VRID on the same segment and address
family, including VRIDs reserved on the segment for equipment outside the
topology (`reserved_vrids`) and routers defined in other files.

## Why is this bad
VRRP identifies a virtual router by its VRID on the link. Two routers with
the same VRID see each other's adverts as their own router's: each master
discards the other's adverts (wrong VIP list, wrong priority) and you get two
masters, ARP flapping between them, and "bogus VRRP packet" logs. IPv4 and
IPv6 routers have separate VRID spaces.

## Example
```toml
[router.www]
segment = "front"
vrid = 51

[router.api]
segment = "front"
vrid = 51          # same VRID, same segment
```

## Fix
Give every router on a segment its own VRID, and keep clear of the VRIDs in
the segment's `reserved_vrids`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // (segment, vrid) → routers, in name order.
    let mut by_vrid: BTreeMap<(&str, i64), Vec<&crate::model::Router>> = BTreeMap::new();
    for router in cluster.routers.values() {
        by_vrid
            .entry((router.segment.value.as_str(), router.vrid.value))
            .or_default()
            .push(router);
    }
    for ((segment, vrid), routers) in &mut by_vrid {
        // The first written keeps the VRID; later ones are reported.
        routers.sort_by_key(|r| (r.vrid.span.file, r.vrid.span.range.start));
        for (i, later) in routers.iter().enumerate() {
            // Routers without VIPs have no family yet: they collide with both.
            let earlier = routers[..i].iter().find(|r| {
                r.family().is_none() || later.family().is_none() || r.family() == later.family()
            });
            if let Some(first) = earlier {
                let family = later
                    .family()
                    .or(first.family())
                    .map_or(String::new(), |f| format!(" ({})", family_name(f)));
                out.push(
                    lint.at(
                        &later.vrid.span,
                        format!(
                            "routers `{}` and `{}` both use VRID {vrid} on segment `{segment}`{family}: \
                             each master discards the other's adverts and you get two masters",
                            first.name, later.name
                        ),
                    )
                    .label(format!("VRID {vrid} of `{}`", later.name))
                    .with(first.vrid.span.clone(), format!("VRID {vrid} already used by `{}`", first.name))
                    .help(format!("give `{}` a VRID that is unused on segment `{segment}`", later.name)),
                );
            }
        }
        if let Some(seg) = cluster.segments.get(&**segment) {
            for reserved in seg.reserved_vrids.iter().filter(|r| r.vrid.value == *vrid) {
                for router in routers.iter() {
                    out.push(
                        lint.at(
                            &router.vrid.span,
                            format!(
                                "router `{}` uses VRID {vrid}, which segment `{segment}` reserves for {}: \
                                 their adverts and ours would fight over one virtual router and both sides \
                                 would claim master",
                                router.name, reserved.owner.value
                            ),
                        )
                        .label(format!("VRID {vrid}"))
                        .with(reserved.vrid.span.clone(), format!("reserved for {}", reserved.owner.value))
                        .help(format!("pick a VRID for `{}` that is neither used nor reserved on `{segment}`", router.name)),
                    );
                }
            }
        }
    }
    out
}
