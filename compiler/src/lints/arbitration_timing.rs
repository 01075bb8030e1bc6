use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0503",
    name: "arbitration-timing",
    severity: Severity::Error,
    summary: "arbitration probes time out no sooner than the next probe, or attempts is below 1",
    explanation: r#"## What it does
Checks `[router.X.arbitration]`: `timeout` must be shorter than `interval`
and `attempts` at least 1.

## Why is this bad
With a timeout as long as the interval, probes overlap and a lost reply is
counted late or twice; with zero attempts a single lost ping makes a master
release the VIPs. Either way arbitration misjudges isolation: spurious
failovers, or a split brain detected too late.

## Example
```toml
[router.www.arbitration]
interval = "1s"
timeout = "2s"
```

## Fix
Keep `timeout` below `interval` (e.g. 500ms for 1s) and `attempts` ≥ 1.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let Some(arb) = &r.arbitration else { continue };
        if arb.timeout.value >= arb.interval.value {
            out.push(
                lint.at(
                    &arb.timeout.span_or(&arb.span),
                    format!(
                        "arbitration of router `{}` waits {} for a reply but probes every {}: probes overlap and \
                         isolation is judged late or wrongly",
                        r.name, arb.timeout.value, arb.interval.value
                    ),
                )
                .label("not below the interval")
                .with(arb.interval.span_or(&arb.span), "probe interval")
                .help("make `timeout` shorter than `interval`"),
            );
        }
        if arb.attempts.value < 1 {
            out.push(
                lint.at(
                    &arb.attempts.span_or(&arb.span),
                    format!(
                        "arbitration of router `{}` has attempts = {}: the reference IPs could never count as reachable",
                        r.name, arb.attempts.value
                    ),
                )
                .label("below 1")
                .help("use `attempts = 3` (the default) or another value ≥ 1"),
            );
        }
    }
    out
}
