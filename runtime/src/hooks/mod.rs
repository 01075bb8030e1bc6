//! External programs run on behalf of routers: notify hooks on state changes
//! (this file), and the [`process`] runner that fence commands, self-fence
//! and command trackers share.
//!
//! Notify hooks: on every state change the plan's command for the new state
//! (`master`, `backup`, `fault`, or `stop` when the router stops) runs,
//! then `any`. A router's hooks run one at a time in order, so a script
//! sees `backup` after `master` if that is what happened; each gets the
//! plan's `timeout_ms` and is killed after it. Nothing here waits: the
//! [`NotifyQueue`] only decides what to start next; the loop starts it with
//! the [`process::ProcessRunner`] and reports its end.

pub mod process;

use std::collections::VecDeque;
use std::time::Duration;

use vigil_schema::plan::{PlanNotify, PlanRouter};

use crate::vrrp::State;

/// A hook to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookRun {
    /// `master`, `backup`, `fault`, `stop` or `any`.
    pub hook: &'static str,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

/// The name a state has in hooks, logs and status.
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Initialize => "initialize",
        State::Backup => "backup",
        State::Master => "master",
        State::Fault => "fault",
    }
}

/// The environment of a notify hook.
pub fn hook_env(
    plan: &PlanRouter,
    plan_hash: &str,
    state: &str,
    previous: &str,
) -> Vec<(String, String)> {
    let vips: Vec<String> = plan
        .vips
        .iter()
        .map(|v| format!("{}/{}", v.address, v.prefix_len))
        .collect();
    vec![
        ("VIGIL_ROUTER".into(), plan.name.clone()),
        ("VIGIL_STATE".into(), state.into()),
        ("VIGIL_PREVIOUS_STATE".into(), previous.into()),
        ("VIGIL_VIPS".into(), vips.join(" ")),
        ("VIGIL_PLAN_HASH".into(), plan_hash.into()),
        ("VIGIL_VRID".into(), plan.vrid.to_string()),
        ("VIGIL_INTERFACE".into(), plan.interface.clone()),
    ]
}

/// The hooks of one state change, in the order they run. Leaving for
/// Initialize (shutdown, plan change) is the `stop` hook.
pub fn hooks_for(
    notify: &PlanNotify,
    plan: &PlanRouter,
    plan_hash: &str,
    from: State,
    to: State,
) -> Vec<HookRun> {
    let (name, specific) = match to {
        State::Master => ("master", &notify.master),
        State::Backup => ("backup", &notify.backup),
        State::Fault => ("fault", &notify.fault),
        State::Initialize => ("stop", &notify.stop),
    };
    let env = hook_env(plan, plan_hash, name, state_name(from));
    let timeout = Duration::from_millis(notify.timeout_ms);
    [(name, specific), ("any", &notify.any)]
        .into_iter()
        .filter_map(|(hook, argv)| {
            argv.as_ref().filter(|a| !a.is_empty()).map(|argv| HookRun {
                hook,
                argv: argv.clone(),
                env: env.clone(),
                timeout,
            })
        })
        .collect()
}

/// One router's pending hooks; at most one runs at a time.
#[derive(Debug, Default)]
pub struct NotifyQueue {
    pending: VecDeque<HookRun>,
    running: bool,
}

impl NotifyQueue {
    /// Queues the hooks of a state change; returns the one to start now, if any.
    pub fn push(&mut self, runs: Vec<HookRun>) -> Option<HookRun> {
        self.pending.extend(runs);
        self.next()
    }

    /// The running hook ended; returns the next one to start.
    pub fn finished(&mut self) -> Option<HookRun> {
        self.running = false;
        self.next()
    }

    /// A hook could not be started: it counts as finished.
    pub fn failed_to_start(&mut self) -> Option<HookRun> {
        self.finished()
    }

    fn next(&mut self) -> Option<HookRun> {
        if self.running {
            return None;
        }
        let run = self.pending.pop_front()?;
        self.running = true;
        Some(run)
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::config::tests::plan_router;

    #[test]
    fn specific_then_any_with_environment() {
        let plan = plan_router();
        let notify = PlanNotify {
            master: Some(vec!["/m".into()]),
            backup: None,
            fault: Some(vec!["/f".into(), "x".into()]),
            stop: Some(vec!["/s".into()]),
            any: Some(vec!["/a".into()]),
            timeout_ms: 1500,
        };
        let runs = hooks_for(&notify, &plan, "h1", State::Backup, State::Master);
        assert_eq!(
            runs.iter()
                .map(|r| (r.hook, r.argv[0].as_str()))
                .collect::<Vec<_>>(),
            vec![("master", "/m"), ("any", "/a")]
        );
        let env: std::collections::BTreeMap<_, _> = runs[0].env.iter().cloned().collect();
        assert_eq!(env["VIGIL_ROUTER"], plan.name);
        assert_eq!(env["VIGIL_STATE"], "master");
        assert_eq!(env["VIGIL_PREVIOUS_STATE"], "backup");
        assert_eq!(env["VIGIL_PLAN_HASH"], "h1");
        assert_eq!(env["VIGIL_VRID"], plan.vrid.to_string());
        assert_eq!(env["VIGIL_INTERFACE"], plan.interface);
        assert_eq!(
            env["VIGIL_VIPS"],
            plan.vips
                .iter()
                .map(|v| format!("{}/{}", v.address, v.prefix_len))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(runs[0].timeout, Duration::from_millis(1500));
        // No backup hook: only `any`. Shutdown runs `stop`.
        let b = hooks_for(&notify, &plan, "h1", State::Master, State::Backup);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].hook, "any");
        let s = hooks_for(&notify, &plan, "h1", State::Master, State::Initialize);
        assert_eq!(s[0].hook, "stop");
        assert_eq!(s[0].env[1].1, "stop");
    }

    #[test]
    fn queue_runs_one_at_a_time_in_order() {
        let run = |h: &'static str| HookRun {
            hook: h,
            argv: vec![h.into()],
            env: vec![],
            timeout: Duration::from_secs(1),
        };
        let mut q = NotifyQueue::default();
        assert_eq!(
            q.push(vec![run("master"), run("any")]).unwrap().hook,
            "master"
        );
        assert_eq!(q.push(vec![run("backup")]), None);
        assert_eq!(q.pending(), 2);
        assert_eq!(q.finished().unwrap().hook, "any");
        assert_eq!(q.failed_to_start().unwrap().hook, "backup");
        assert_eq!(q.finished(), None);
        assert_eq!(q.finished(), None);
    }
}
