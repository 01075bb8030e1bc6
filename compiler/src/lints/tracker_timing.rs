use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::{Lint, MAX_COUNT};
use vigil_schema::units::Duration;

use crate::model::{Cluster, Setting};
use crate::source::Span;

pub static LINT: Lint = Lint {
    code: "V0309",
    name: "tracker-timing",
    severity: Severity::Error,
    summary: "a command tracker has a zero `interval` or `timeout`, or `rise`/`fall` outside 1..=2147483647",
    explanation: r#"## What it does
Checks the timing of command trackers: `interval` and `timeout` must be
longer than zero, `rise` and `fall` between 1 and 2147483647.

## Why is this bad
* `interval = "0s"` would run the command back to back, as fast as the
  machine allows; the runtime quietly runs it every millisecond instead.
* `timeout = "0s"` kills every run at once: the tracker always fails and
  the member is demoted or faulted for good.
* `rise = 0` or `fall = 0` would make the state change without any result;
  the runtime quietly uses 1. Either way what runs is not what is written,
  and the generated keepalived.conf cannot say 0 either. A negative or huge
  value cannot be represented in the plan.

## Example
```toml
[router.www.track.nginx]
command = ["/usr/local/bin/check-nginx"]
interval = "0s"
fall = 0
on_fail = { demote = 60 }
```

## Fix
Leave the keys out (every 2s, timeout 1s, rise 2, fall 3) or use positive
values.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        // Interface trackers do not use these settings.
        for t in r.trackers.values().filter(|t| t.command.is_some()) {
            out.extend(timing_problems(
                lint,
                Timing {
                    what: format!("command tracker `{}` of router `{}`", t.name, r.name),
                    table: &t.span,
                    interval: &t.interval,
                    timeout: &t.timeout,
                    counts: [("rise", &t.rise), ("fall", &t.fall)],
                    runs: "the command",
                    example_interval: "2s",
                },
            ));
        }
    }
    out
}

/// The timing settings of something that runs periodically (a command
/// tracker, a health check), for [`timing_problems`].
pub(crate) struct Timing<'a> {
    /// "command tracker `t` of router `r`", for messages.
    pub what: String,
    /// The enclosing table, for defaults.
    pub table: &'a Span,
    pub interval: &'a Setting<Duration>,
    pub timeout: &'a Setting<Duration>,
    pub counts: [(&'static str, &'a Setting<i64>); 2],
    /// What runs ("the command", "the check").
    pub runs: &'static str,
    /// An interval to suggest (the default).
    pub example_interval: &'static str,
}

/// Zero interval or timeout, counts outside 1..=MAX_COUNT; shared with
/// `health-timing`.
pub(crate) fn timing_problems(lint: &Lint, t: Timing) -> Vec<Diagnostic> {
    let Timing {
        what,
        table,
        interval,
        timeout,
        counts,
        runs,
        example_interval,
    } = t;
    let mut out = Vec::new();
    if interval.as_millis() == 0 {
        out.push(
            lint.at(
                &interval.span_or(table),
                format!(
                    "{what} has interval = {}: {runs} would run back to back, as fast as the machine \
                     allows (the runtime would quietly wait 1ms instead)",
                    interval.value
                ),
            )
            .label("zero")
            .help(format!("use a positive interval, e.g. \"{example_interval}\"")),
        );
    }
    if timeout.as_millis() == 0 {
        out.push(
            lint.at(
                &timeout.span_or(table),
                format!(
                    "{what} has timeout = {}: every run of {runs} is killed at once and counts as a \
                     failure",
                    timeout.value
                ),
            )
            .label("zero")
            .help("use a positive timeout shorter than the interval, e.g. \"1s\""),
        );
    }
    for (key, count) in counts {
        if (1..=MAX_COUNT).contains(&count.value) {
            continue;
        }
        let consequence = if count.value < 1 {
            "the state would change without any result (the runtime would quietly use 1)"
        } else {
            "a plan cannot carry it"
        };
        out.push(
            lint.at(
                &count.span_or(table),
                format!("{what} has {key} = {}: {consequence}", count.value),
            )
            .label(if count.value < 1 {
                "below 1"
            } else {
                "too large"
            })
            .help(format!(
                "use a `{key}` of at least 1 (a handful of results is usual)"
            )),
        );
    }
    out
}
