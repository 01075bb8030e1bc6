use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0505",
    name: "fence-without-arbitration",
    severity: Severity::Error,
    summary: "a fence or self-fence command is set on a router whose arbitration has no reference IPs",
    explanation: r#"## What it does
Reports `fence` and `self_fence` on a router whose split brain is waived
(`accept_split_brain`) and whose `[arbitration]` has no reference IPs of its
own or from the segment.

## Why is this bad
Fencing acts on arbitration's verdict: a member fences its silent peer only
while it still reaches a reference IP, and fences itself when it reaches
none. Without reference IPs there is no verdict: a required fence holds the
router back from every takeover until it succeeds, and a self-fence never
runs. The configuration promises a protection that does not exist.

## Example
```toml
[router.db]
segment = "lab"
accept_split_brain = "lab pair, no gateway"

[router.db.arbitration.fence]
command = ["/usr/local/bin/fence-peer"]
```

## Fix
Give the arbitration (or the segment) `reference_ips`, or remove the fence.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(arb) = &r.arbitration else { continue };
        // With an unknown segment `unknown-segment` speaks first; without
        // `accept_split_brain`, `missing-arbitration` reports the missing IPs.
        if !cluster.reference_ips(r).is_empty()
            || !cluster.segments.contains_key(&r.segment.value)
            || r.accept_split_brain.is_none()
        {
            continue;
        }
        let mut report = |span: &crate::source::Span, what: &str| {
            out.push(
                lint.at(
                    span,
                    format!(
                        "router `{}` has a {what} but its arbitration has no reference IPs: nothing \
                         decides when fencing is justified",
                        r.name
                    ),
                )
                .label(format!("{what} without arbitration"))
                .help(format!(
                    "add `reference_ips = [\"<gateway>\"]` to `[router.{}.arbitration]` or to \
                     `[segment.{}]`, or remove the {what}",
                    r.name, r.segment.value
                )),
            );
        };
        if let Some(f) = &arb.fence {
            report(&f.command.span, "fence command");
        }
        if let Some(s) = &arb.self_fence {
            report(&s.span, "self-fence command");
        }
    }
    out
}
