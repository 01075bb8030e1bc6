use vigil_schema::vrrp::{Centis, master_down_interval};

use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, Router};

pub static LINT: Lint = Lint {
    code: "V0206",
    name: "startup-delay-too-short",
    severity: Severity::Warning,
    summary: "the cluster's startup_delay is shorter than a router's master-down interval",
    explanation: r#"## What it does
Compares `[cluster] startup_delay` with the master-down interval of every
router (RFC 5798: 3 × advert interval + skew, where skew =
(256 − priority) / 256 × advert interval, for the lowest member priority).

## Why is this bad
A host that starts listening for less than that may not hear the running
master's adverts in time and becomes master too: for a moment after every
boot or restart there are two masters, with ARP flapping and broken
connections. Leaving `startup_delay` out uses the safe default.

## Example
```toml
[cluster]
startup_delay = "1s"      # a router advertises every 1s: master-down is ~3.6s
```

## Fix
Remove `startup_delay`, or make it at least the longest master-down interval.
"#,
    check,
};

/// RFC 5798 master-down interval in milliseconds for the router's lowest
/// member priority (the longest of its members).
pub fn master_down_ms(router: &Router) -> u64 {
    let advert =
        Centis(u16::try_from(router.advert_interval.value.as_centis()).unwrap_or(u16::MAX));
    let lowest = router
        .members
        .values()
        .map(|m| m.priority.value.clamp(1, 255) as u8)
        .min()
        .unwrap_or(1);
    u64::try_from(master_down_interval(lowest, advert).as_millis()).unwrap_or(u64::MAX)
}

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let Some(delay) = &cluster.startup_delay else {
        return Vec::new();
    };
    let Some((router, needed)) = cluster
        .routers
        .values()
        .map(|r| (r, master_down_ms(r)))
        .max_by_key(|(_, ms)| *ms)
    else {
        return Vec::new();
    };
    if delay.value.as_millis() >= needed {
        return Vec::new();
    }
    vec![
        lint.at(
            &delay.span,
            format!(
                "startup_delay is {}, but router `{}` needs {needed}ms to notice a running master: a restarted \
                 host becomes a second master for a moment at every boot",
                delay.value, router.name
            ),
        )
        .label("too short")
        .with(
            router.advert_interval.span_or(&router.span),
            format!("`{}` advertises every {}", router.name, router.advert_interval.value),
        )
        .help(format!("remove `startup_delay` (the default is safe) or set it to at least {needed}ms")),
    ]
}
