use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0604",
    name: "too-many-vips",
    severity: Severity::Warning,
    summary: "a router has more than 20 VIPs",
    explanation: r#"## What it does
Reports routers with more than 20 VIPs.

## Why is this bad
Several implementations (holo-vrrp, some routers) accept at most 20
addresses per advert and drop longer ones; adverts also grow past what
keepalived recommends, and every failover must announce every address.

## Example
```toml
vips = ["10.20.0.100/24", "10.20.0.101/24", ...]   # 21 or more
```

## Fix
Split the VIPs over several routers (a sync group keeps them together).
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    cluster
        .routers
        .values()
        .filter(|r| r.vips.len() > 20)
        .map(|r| {
            lint.at(
                &r.vips[20].span,
                format!(
                    "router `{}` has {} VIPs: peers that accept at most 20 addresses per advert drop its adverts \
                     and take over",
                    r.name,
                    r.vips.len()
                ),
            )
            .label("the 21st VIP")
            .help("split the VIPs over several routers and keep them together with a sync group")
        })
        .collect()
}
