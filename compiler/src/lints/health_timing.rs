use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::lints::tracker_timing::{Timing, timing_problems};
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0910",
    name: "health-timing",
    severity: Severity::Error,
    summary: "a health check has a zero `interval` or `timeout`, or `rise`/`fall` outside 1..=2147483647",
    explanation: r#"## What it does
Checks the timing of a virtual server's health check: `interval` and
`timeout` must be longer than zero, `rise` and `fall` between 1 and
2147483647.

## Why is this bad
* `interval = "0s"` would probe every real server back to back; the
  runtime quietly probes every millisecond instead.
* `timeout = "0s"` fails every probe at once: every real server is taken
  out and the service has no backend.
* `rise = 0` or `fall = 0` would take servers in or out without any
  result; the runtime quietly uses 1. What runs is not what is written. A
  negative or huge value cannot be represented in the plan.

## Example
```toml
[virtual_server.www-http.health]
interval = "0s"
rise = 0
tcp = {}
```

## Fix
Leave the keys out (every 5s, timeout 3s, rise 2, fall 3) or use positive
values.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let Some(h) = &vs.health else { continue };
        out.extend(timing_problems(
            lint,
            Timing {
                what: format!("the health check of virtual server `{}`", vs.name),
                table: &h.span,
                interval: &h.interval,
                timeout: &h.timeout,
                counts: [("rise", &h.rise), ("fall", &h.fall)],
                runs: "the check",
                example_interval: "5s",
            },
        ));
    }
    out
}
