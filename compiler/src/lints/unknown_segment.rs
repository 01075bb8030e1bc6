use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{At, Cluster};

pub static LINT: Lint = Lint {
    code: "V0804",
    name: "unknown-segment",
    severity: Severity::Error,
    summary: "a router, interface or heartbeat path names a segment that is not defined",
    explanation: r#"## What it does
Reports references to segments without a `[segment.NAME]` table: a router's
`segment`, an interface's `segment`, a router's `heartbeat_paths`.

## Why is this bad
Without the segment there are no subnets to check VIPs against, no reserved
VRIDs to avoid and no reference IPs to arbitrate with; a typo here also
silently separates hosts that are meant to share a link.

## Example
```toml
[router.www]
segment = "frnot"
```

## Fix
Define the segment or correct the name.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut report = |name: &At<String>, what: String| {
        if !cluster.segments.contains_key(&name.value) {
            let known: Vec<_> = cluster.segments.keys().map(|k| format!("`{k}`")).collect();
            out.push(
                lint.at(
                    &name.span,
                    format!(
                        "{what} is on segment `{}`, which is not defined: its addresses and VRIDs cannot be checked",
                        name.value
                    ),
                )
                .label("unknown segment")
                .help(if known.is_empty() {
                    format!("define `[segment.{}]` with its subnets", name.value)
                } else {
                    format!("defined segments: {}", known.join(", "))
                }),
            );
        }
    };
    for r in cluster.routers.values() {
        report(&r.segment, format!("router `{}`", r.name));
        for path in &r.heartbeat_paths {
            report(path, format!("a heartbeat path of router `{}`", r.name));
        }
    }
    for h in cluster.hosts.values() {
        for i in h.interfaces.values() {
            report(
                &i.segment,
                format!("interface `{}` of host `{}`", i.name, h.name),
            );
        }
    }
    out
}
