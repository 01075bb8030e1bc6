use vigil_schema::vrrp::{IntervalError, advert_interval};

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0202",
    name: "advert-interval-out-of-range",
    severity: Severity::Error,
    summary: "the advert interval cannot be encoded by the router's VRRP version",
    explanation: r#"## What it does
VRRPv2 carries the advert interval in whole seconds (1s..255s); VRRPv3 in
centiseconds (10ms..40950ms, multiples of 10ms). This lint reports intervals
the version cannot carry.

## Why is this bad
The value would be rounded or truncated on the wire. Peers compare the
interval in each advert with their own and drop adverts that differ, so the
backups never hear the master and take over: two masters.

## Example
```toml
[router.www]
version = 2
advert_interval = "500ms"   # v2 has no sub-second intervals
```

## Fix
v2: a whole number of seconds from 1s to 255s. v3: 10ms to 40950ms in steps
of 10ms.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        let ms = r.advert_interval.value.as_millis();
        // The rule plan emission (and the runtime) use too.
        let problem = match advert_interval(r.version.value, ms) {
            // Other versions are `unsupported-version`'s.
            Ok(_) | Err(IntervalError::UnsupportedVersion) => continue,
            Err(e) => e,
        };
        out.push(
            lint.at(
                &r.advert_interval.span_or(&r.span),
                format!(
                    "router `{}` advertises every {}, but {problem}: the interval on the wire would differ \
                     and peers would drop the adverts, so every member becomes master",
                    r.name, r.advert_interval.value
                ),
            )
            .label(format!("not valid for VRRPv{}", r.version.value))
            .help(if r.version.value == 2 {
                "use a whole number of seconds, 1s..255s (or VRRPv3 for sub-second intervals)"
            } else {
                "use a multiple of 10ms between 10ms and 40950ms"
            }),
        );
    }
    out
}
