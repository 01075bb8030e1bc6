use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, TrackAction};
use vigil_schema::topology::Preempt;

pub static LINT: Lint = Lint {
    code: "V0304",
    name: "tracker-cannot-fail-over",
    severity: Severity::Error,
    summary: "a demote tracker on the preferred member is too weak to move the VIPs",
    explanation: r#"## What it does
For every `on_fail = { demote = N }` tracker that applies to the member with
the highest priority, checks that its priority minus N falls below the best
other member's priority. A priority-255 owner cannot be demoted at all.

## Why is this bad
The tracker exists so that the VIPs leave a broken host. If the demoted
priority is still the highest (or equal), the check fails, the logs say so,
and the VIPs stay on the broken host: the outage the tracker was written for.

## Example
```toml
[router.www.member.web1]
priority = 150
[router.www.member.web2]
priority = 100
[router.www.track.nginx]
command = ["/usr/local/bin/check-nginx"]
on_fail = { demote = 20 }     # 150 - 20 = 130, still above 100
```

## Fix
Make the weight larger than the gap (here more than 50, e.g. 60), or use
`on_fail = "fault"`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        // With preempt = "never" no priority change moves the VIPs;
        // `preempt-never-misuse` reports that case.
        if r.preempt.value == Preempt::Never {
            continue;
        }
        let Some(top) = r.top_member() else { continue };
        let Some(best_other) = r
            .members
            .values()
            .filter(|m| m.host != top.host)
            .map(|m| m.priority.value)
            .max()
        else {
            continue;
        };
        for t in r.trackers_of(&top.host) {
            let TrackAction::Demote(weight) = &t.on_fail else {
                continue;
            };
            if !(1..=253).contains(&weight.value) {
                continue; // tracker-weight-out-of-range
            }
            let demoted = top.priority.value.saturating_sub(weight.value).max(1);
            let message = if top.priority.value == 255 {
                format!(
                    "tracker `{}` would demote `{}`, but priority 255 (address owner) cannot be lowered: \
                     when the check fails the VIPs stay on the failing host",
                    t.name, top.host
                )
            } else if demoted >= best_other {
                format!(
                    "tracker `{}` lowers `{}` from {} to {demoted}, which is not below the next member's {best_other}: \
                     when the check fails the VIPs stay on the failing host",
                    t.name, top.host, top.priority.value
                )
            } else {
                continue;
            };
            out.push(
                lint.at(&weight.span, message)
                    .label(format!("demote by {}", weight.value))
                    .with(top.priority.span.clone(), format!("priority of `{}`", top.host))
                    .help(if top.priority.value == 255 {
                        "use `on_fail = \"fault\"`, or give the member a priority below 255".to_string()
                    } else {
                        format!(
                            "demote by more than {} (the gap to the next member), or use `on_fail = \"fault\"`",
                            top.priority.value.saturating_sub(best_other)
                        )
                    }),
            );
        }
    }
    out
}
