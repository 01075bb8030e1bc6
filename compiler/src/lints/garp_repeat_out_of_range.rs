use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::{Lint, MAX_COUNT};
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0207",
    name: "garp-repeat-out-of-range",
    severity: Severity::Error,
    summary: "`garp.repeat` is below 1 (no announcement at all) or beyond 2147483647",
    explanation: r#"## What it does
Checks that a router's `garp.repeat`, the number of gratuitous ARPs
(unsolicited neighbour advertisements for IPv6) sent on becoming master, is
between 1 and 2147483647.

## Why is this bad
With `repeat = 0`, vigild sends no announcement at all when it takes over:
switches keep sending the VIPs' traffic to the old master's port and
neighbours keep its MAC address in their ARP caches until they expire,
often minutes. The generated keepalived.conf could not even say 0
(`garp_master_repeat` starts at 1), so the two runtimes would behave
differently. A negative value cannot be represented in the plan at all.

## Example
```toml
[router.www]
garp = { repeat = 0 }
```

## Fix
Leave `repeat` out (5 announcements) or use a value of at least 1. To keep
caches fresh while master, use `garp.refresh`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let repeat = &r.garp.repeat;
        if (1..=MAX_COUNT).contains(&repeat.value) {
            continue;
        }
        let consequence = if repeat.value < 1 {
            "the new master would announce nothing: switches and neighbours keep sending the VIPs' \
             traffic to the old master until their caches expire"
        } else {
            "a plan cannot carry that many announcements"
        };
        out.push(
            lint.at(
                &repeat.span_or(&r.span),
                format!(
                    "router `{}` has garp.repeat = {}: {consequence}",
                    r.name, repeat.value
                ),
            )
            .label(if repeat.value < 1 {
                "below 1"
            } else {
                "too large"
            })
            .help("leave `repeat` out (5) or use a value between 1 and a few dozen"),
        );
    }
    out
}
