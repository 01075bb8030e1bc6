use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0105",
    name: "vrid-out-of-range",
    severity: Severity::Error,
    summary: "a VRID (of a router or a reservation) is outside 1..=255",
    explanation: r#"## What it does
Checks that every VRID, including reserved ones, is between 1 and 255.

## Why is this bad
The VRID is one byte in the advert and 0 is invalid. Tools that derive
VRIDs (`id % 256`) or accept larger numbers truncate them silently, so two
routers end up on the same VRID, or the peers drop every advert.

## Example
```toml
[router.www]
vrid = 300
```

## Fix
Pick a VRID between 1 and 255 that is unused on the segment.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for router in cluster.routers.values() {
        if !(1..=255).contains(&router.vrid.value) {
            out.push(
                lint.at(
                    &router.vrid.span,
                    format!(
                        "router `{}` has VRID {}: VRIDs are one byte, 1..=255, and no peer would accept it",
                        router.name, router.vrid.value
                    ),
                )
                .label("out of range")
                .help("choose a VRID between 1 and 255 that is unused on the segment"),
            );
        }
    }
    for segment in cluster.segments.values() {
        for reserved in &segment.reserved_vrids {
            if !(1..=255).contains(&reserved.vrid.value) {
                out.push(
                    lint.at(
                        &reserved.vrid.span,
                        format!(
                            "segment `{}` reserves VRID {}, which cannot exist (VRIDs are 1..=255)",
                            segment.name, reserved.vrid.value
                        ),
                    )
                    .label("out of range")
                    .help("write the VRID the other equipment really uses (1..=255)"),
                );
            }
        }
    }
    out
}
