use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::{Lint, MAX_COUNT};
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0503",
    name: "arbitration-timing",
    severity: Severity::Error,
    summary: "arbitration probes time out no sooner than the next probe (or after zero time), or attempts is outside 1..=2147483647",
    explanation: r#"## What it does
Checks `[router.X.arbitration]`: `interval` and `timeout` must be longer
than zero, `timeout` shorter than `interval`, and `attempts` between 1 and
2147483647.

## Why is this bad
With a timeout as long as the interval, probes overlap and a lost reply is
counted late or twice; with zero attempts a single lost ping makes a master
release the VIPs. Either way arbitration misjudges isolation: spurious
failovers, or a split brain detected too late. A zero interval would probe
back to back and a zero timeout would fail every probe (the runtime quietly
uses 1ms for both); a huge `attempts` cannot be represented in the plan.

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
        if arb.interval.as_millis() == 0 {
            out.push(
                lint.at(
                    &arb.interval.span_or(&arb.span),
                    format!(
                        "arbitration of router `{}` probes every {}: probes would be sent back to back \
                         (the runtime would quietly wait 1ms instead)",
                        r.name, arb.interval.value
                    ),
                )
                .label("zero")
                .help("use a positive interval, e.g. \"1s\" (the default)"),
            );
        } else if arb.timeout.as_millis() == 0 {
            out.push(
                lint.at(
                    &arb.timeout.span_or(&arb.span),
                    format!(
                        "arbitration of router `{}` waits {} for a reply: every probe would fail and a \
                         healthy master would release its VIPs",
                        r.name, arb.timeout.value
                    ),
                )
                .label("zero")
                .help("use a positive timeout shorter than the interval, e.g. \"500ms\""),
            );
        } else if arb.timeout.value >= arb.interval.value {
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
        if arb.attempts.value > MAX_COUNT {
            out.push(
                lint.at(
                    &arb.attempts.span_or(&arb.span),
                    format!(
                        "arbitration of router `{}` has attempts = {}: a plan cannot carry it, and a \
                         lost reference IP would never count as unreachable",
                        r.name, arb.attempts.value
                    ),
                )
                .label("too large")
                .help("use `attempts = 3` (the default) or another small value ≥ 1"),
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
