use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::Cluster;

pub static LINT: Lint = Lint {
    code: "V0904",
    name: "quorum-unreachable",
    severity: Severity::Warning,
    summary: "a virtual server's quorum is larger than the sum of its real servers' weights",
    explanation: r#"## What it does
Reports `quorum` values above the total weight of all real servers.

## Why is this bad
Quorum is met when the healthy real servers' weights add up to it. If even
all of them together fall short, the quorum is never met: the sorry server
serves all the time (or the service is down), with every real server healthy.

## Example
```toml
quorum = 5
real_server = [{ address = "10.20.1.1" }, { address = "10.20.1.2" }]   # weights 1 + 1
```

## Fix
Lower the quorum, or raise the real servers' weights.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for vs in cluster.virtual_servers.values() {
        let Some(q) = &vs.quorum else { continue };
        let total: i64 = vs
            .real_servers
            .iter()
            .fold(0i64, |sum, r| sum.saturating_add(r.weight.value.max(0)));
        if q.value > total {
            out.push(
                lint.at(
                    &q.span,
                    format!(
                        "virtual server `{}` needs a healthy weight of {} but its real servers weigh {total} in \
                         total: the quorum is never met, so the service is never served by its real servers",
                        vs.name, q.value
                    ),
                )
                .label(format!("more than {total}"))
                .help(format!("lower `quorum` to at most {total}, or raise the real servers' weights")),
            );
        }
    }
    out
}
