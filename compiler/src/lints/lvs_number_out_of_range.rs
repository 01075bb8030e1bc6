use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{At, Cluster};
use crate::source::Span;

pub static LINT: Lint = Lint {
    code: "V0914",
    name: "lvs-number-out-of-range",
    severity: Severity::Error,
    summary: "a real server weight or threshold, a quorum, hysteresis or persistence prefix is out of range",
    explanation: r#"## What it does
Checks the ranges of the numbers IPVS and keepalived take for a virtual
server:

| key | range |
|---|---|
| real server `weight` | 0..=65535 |
| `upper_threshold`, `lower_threshold` | 0..=4294967295 |
| `quorum`, `hysteresis` | 0..=4294967295 |
| `persistence_prefix` | 0..=32 (IPv4), 0..=128 (IPv6) |

## Why is this bad
None of these can be negative, and IPVS stores thresholds, quorum and
hysteresis in 32 bits; keepalived refuses weights above 65535. A value
outside the range cannot go into a plan, so `vigil build` would fail with
no location, and a persistence prefix longer than the address groups
clients by nothing that exists.

## Example
```toml
[[virtual_server.www-http.real_server]]
address = "10.40.0.21"
weight = -1
```

## Fix
Use a value in the range; `weight = 0` takes a real server out of rotation.
"#,
    check,
};

const U32: i64 = u32::MAX as i64;

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut range = |what: String, value: i64, span: &Span, max: i64, meaning: &str| {
        if (0..=max).contains(&value) {
            return;
        }
        out.push(
            lint.at(
                span,
                format!("{what} is {value}, outside 0..={max}: {meaning}"),
            )
            .label(if value < 0 { "negative" } else { "too large" })
            .help(format!("use a value between 0 and {max}")),
        );
    };
    for vs in cluster.virtual_servers.values() {
        let name = &vs.name;
        for rs in &vs.real_servers {
            let addr = rs.address.value;
            range(
                format!("the weight of real server {addr} of `{name}`"),
                rs.weight.value,
                &rs.weight.span_or(&rs.span),
                65_535,
                "IPVS and keepalived take weights 0..=65535",
            );
            for (key, t) in [
                ("upper_threshold", &rs.upper_threshold),
                ("lower_threshold", &rs.lower_threshold),
            ] {
                if let Some(At { value, span }) = t {
                    range(
                        format!("{key} of real server {addr} of `{name}`"),
                        *value,
                        span,
                        U32,
                        "IPVS stores connection thresholds in 32 bits",
                    );
                }
            }
        }
        for (key, v) in [("quorum", &vs.quorum), ("hysteresis", &vs.hysteresis)] {
            if let Some(At { value, span }) = v {
                range(
                    format!("{key} of virtual server `{name}`"),
                    *value,
                    span,
                    U32,
                    "it is a sum of weights, stored in 32 bits",
                );
            }
        }
        let ipv6 = vs
            .address
            .as_ref()
            .map(|a| a.value.is_ipv6())
            .or_else(|| {
                cluster
                    .routers
                    .get(&vs.router.value)
                    .and_then(|r| r.vips.first())
                    .map(|v| v.addr.is_ipv6())
            })
            .unwrap_or(false);
        let max_prefix = if ipv6 { 128 } else { 32 };
        range(
            format!("persistence_prefix of virtual server `{name}`"),
            vs.persistence_prefix.value,
            &vs.persistence_prefix.span_or(&vs.span),
            max_prefix,
            if ipv6 {
                "an IPv6 prefix length is at most 128"
            } else {
                "an IPv4 prefix length is at most 32"
            },
        );
    }
    out
}
