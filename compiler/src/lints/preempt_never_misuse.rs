use crate::diagnostic::{Diagnostic, Severity};
use crate::lints::Lint;
use crate::model::{Cluster, TrackAction};
use vigil_schema::topology::{InitialState, Preempt};

pub static LINT: Lint = Lint {
    code: "V0401",
    name: "preempt-never-misuse",
    severity: Severity::Error,
    summary: "preempt = \"never\" combined with settings that defeat or contradict it",
    explanation: r#"## What it does
With `preempt = "never"` a running master keeps the VIPs until it fails.
This lint reports what contradicts it:
* a member with `initial_state = "master"` (it grabs the VIPs at start);
* `preempt_delay` (there is no preemption to delay);
* a priority-255 member (an address owner always preempts);
* only `demote` trackers (a lower priority never moves the VIPs without
  preemption; only a fault does).

## Why is this bad
Each of these silently changes what happens in production: keepalived
clears `nopreempt` for a MASTER-state or owner instance, so the VIPs move
back after a reboot, or a failing check lowers the priority and nothing
moves.

## Example
```toml
[router.www]
preempt = "never"
[router.www.track.nginx]
command = ["/usr/local/bin/check-nginx"]
on_fail = { demote = 60 }      # never moves the VIPs
```

## Fix
Drop `initial_state`, `preempt_delay` and priority 255 from such routers,
and give at least one tracker `on_fail = "fault"`; or use `preempt = "always"`.
"#,
    check,
};

fn check(lint: &Lint, cluster: &Cluster) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in cluster.routers.values() {
        if r.preempt.value != Preempt::Never {
            continue;
        }
        let preempt_span = r.preempt.span_or(&r.span);
        for m in r.members.values() {
            if let Some(state) = &m.initial_state
                && state.value == InitialState::Master
            {
                out.push(
                    lint.at(
                        &state.span,
                        format!(
                            "`{}` starts as master of router `{}`, which does not preempt: after every restart it \
                             takes the VIPs back from the running master",
                            m.host, r.name
                        ),
                    )
                    .label("starts as master")
                    .with(preempt_span.clone(), "preemption disabled here")
                    .help("remove `initial_state`; the start state follows from the priorities"),
                );
            }
            if m.priority.value == 255 {
                out.push(
                    lint.at(
                        &m.priority.span,
                        format!(
                            "`{}` is the address owner (priority 255) of router `{}`, and an owner always preempts: \
                             `preempt = \"never\"` has no effect",
                            m.host, r.name
                        ),
                    )
                    .label("address owner")
                    .with(preempt_span.clone(), "preemption disabled here")
                    .help("give the member a priority below 255, or use `preempt = \"always\"`"),
                );
            }
        }
        if let Some(delay) = &r.preempt_delay {
            out.push(
                lint.at(
                    &delay.span,
                    format!(
                        "router `{}` never preempts, so `preempt_delay` delays nothing",
                        r.name
                    ),
                )
                .label("has no effect")
                .with(preempt_span.clone(), "preemption disabled here")
                .help("remove `preempt_delay`, or use `preempt = \"always\"` if the delay is what you want"),
            );
        }
        let demotes: Vec<_> = r
            .trackers
            .values()
            .filter_map(|t| match &t.on_fail {
                TrackAction::Demote(w) => Some((t, w)),
                TrackAction::Fault(_) => None,
            })
            .collect();
        if !demotes.is_empty() && demotes.len() == r.trackers.len() {
            let (t, w) = demotes[0];
            out.push(
                lint.at(
                    &w.span,
                    format!(
                        "router `{}` never preempts and its trackers only demote: a lower priority does not move \
                         the VIPs without preemption, so when `{}` fails the VIPs stay where they are",
                        r.name, t.name
                    ),
                )
                .label("only lowers the priority")
                .with(preempt_span.clone(), "preemption disabled here")
                .help("use `on_fail = \"fault\"` for the check that must move the VIPs, or `preempt = \"always\"`"),
            );
        }
    }
    out
}
