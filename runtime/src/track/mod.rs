//! Trackers, sans-IO: what makes a member give up (FAULT) or step back
//! (a lower priority), and the combination of every reason for FAULT.
//!
//! * [`FaultSources`]: the VRRP core has one fault flag; the router's own
//!   link, arbitration's isolation and `fault` trackers each hold it, and it
//!   clears only when none does.
//! * [`Trackers`]: one router's trackers. Interface trackers follow rtnetlink
//!   link notifications (up = administratively up with carrier). Command
//!   trackers run every `interval_ms`; a run that exits 0 within
//!   `timeout_ms` is a success; `fall` consecutive failures make the tracker
//!   down, `rise` consecutive successes make it up again. A tracker starts up
//!   (a command tracker needs `fall` failures before it counts), except an
//!   interface tracker whose link is down at start.
//! * The result: `fault` while any `on_fail = fault` tracker is down; the
//!   effective priority is the configured one minus the weights of the down
//!   `demote` trackers, clamped to 1..=254. The owner (255) is never demoted.

use std::time::Duration;

use serde::Serialize;
use vigil_schema::plan::{PlanOnFail, PlanTracker, PlanTrackerKind};

use crate::vrrp::Instant;

/// Why a router is held in FAULT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultSources {
    /// The router's interface is down or has no carrier.
    pub link: bool,
    /// Arbitration found the router isolated.
    pub isolated: bool,
    /// A `fault` tracker is down.
    pub tracker: bool,
    /// Another router of its sync group is held in FAULT by one of the above.
    pub sync_group: bool,
}

impl FaultSources {
    pub fn any(&self) -> bool {
        self.own() || self.sync_group
    }

    /// A fault of the router itself (not inherited from its sync group).
    pub fn own(&self) -> bool {
        self.link || self.isolated || self.tracker
    }
}

/// A tracker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackState {
    Up,
    Down,
}

/// One tracker and its counters.
#[derive(Clone, Debug, Serialize)]
pub struct Tracker {
    pub name: String,
    #[serde(skip)]
    pub plan: PlanTracker,
    pub state: TrackState,
    /// Consecutive successes / failures of a command tracker.
    pub successes: u32,
    pub failures: u32,
    pub runs: u64,
    pub failed_runs: u64,
    pub transitions: u64,
    #[serde(skip)]
    next_run: Option<Instant>,
    #[serde(skip)]
    running: bool,
}

/// What the shell must do for the trackers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackAction {
    /// Start tracker `index`'s command with this timeout.
    Run {
        index: usize,
        argv: Vec<String>,
        timeout: Duration,
    },
    /// Tracker `index` changed state (log it).
    Changed { index: usize, state: TrackState },
}

/// One router's trackers.
#[derive(Clone, Debug)]
pub struct Trackers {
    trackers: Vec<Tracker>,
    configured_priority: u8,
}

impl Trackers {
    /// `link_up(interface)` gives the current link state of interface trackers.
    pub fn new(
        plan: &[PlanTracker],
        configured_priority: u8,
        now: Instant,
        link_up: impl Fn(&str) -> bool,
    ) -> Trackers {
        let trackers = plan
            .iter()
            .map(|t| {
                let (state, next_run) = match &t.kind {
                    PlanTrackerKind::Interface { interface } => (
                        if link_up(interface) {
                            TrackState::Up
                        } else {
                            TrackState::Down
                        },
                        None,
                    ),
                    PlanTrackerKind::Command { .. } => (TrackState::Up, Some(now)),
                };
                Tracker {
                    name: t.name.clone(),
                    plan: t.clone(),
                    state,
                    successes: 0,
                    failures: 0,
                    runs: 0,
                    failed_runs: 0,
                    transitions: 0,
                    next_run,
                    running: false,
                }
            })
            .collect();
        Trackers {
            trackers,
            configured_priority,
        }
    }

    pub fn list(&self) -> &[Tracker] {
        &self.trackers
    }

    /// The interfaces this router's trackers watch.
    pub fn interfaces(&self) -> Vec<String> {
        self.trackers
            .iter()
            .filter_map(|t| match &t.plan.kind {
                PlanTrackerKind::Interface { interface } => Some(interface.clone()),
                PlanTrackerKind::Command { .. } => None,
            })
            .collect()
    }

    /// Any `fault` tracker down.
    pub fn fault(&self) -> bool {
        self.trackers
            .iter()
            .any(|t| t.state == TrackState::Down && t.plan.on_fail == PlanOnFail::Fault)
    }

    /// The priority to advertise.
    pub fn effective_priority(&self) -> u8 {
        self.priority_with(self.demotion())
    }

    /// The sum of the weights of the down `demote` trackers.
    pub fn demotion(&self) -> u32 {
        self.trackers
            .iter()
            .filter(|t| t.state == TrackState::Down)
            .map(|t| match t.plan.on_fail {
                PlanOnFail::Demote { weight } => u32::from(weight),
                PlanOnFail::Fault => 0,
            })
            .sum()
    }

    /// The configured priority lowered by `demote` (a sync group's total),
    /// clamped to 1..=254; the owner (255) is never demoted.
    pub fn priority_with(&self, demote: u32) -> u8 {
        if self.configured_priority == 255 {
            return 255;
        }
        let p = i64::from(self.configured_priority) - i64::from(demote);
        p.clamp(1, 254) as u8
    }

    /// When [`Trackers::poll`] has a command to start.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.trackers
            .iter()
            .filter(|t| !t.running)
            .filter_map(|t| t.next_run)
            .min()
    }

    /// Command runs due at `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<TrackAction> {
        let mut out = Vec::new();
        for (index, t) in self.trackers.iter_mut().enumerate() {
            let PlanTrackerKind::Command {
                command,
                interval_ms,
                timeout_ms,
                ..
            } = &t.plan.kind
            else {
                continue;
            };
            if t.running || t.next_run.is_none_or(|at| now < at) {
                continue;
            }
            t.running = true;
            t.next_run = Some(now + Duration::from_millis(*interval_ms));
            out.push(TrackAction::Run {
                index,
                argv: command.clone(),
                timeout: Duration::from_millis(*timeout_ms),
            });
        }
        out
    }

    /// A command run ended (`ok`: exit 0 before the timeout; a command that
    /// could not start is a failure).
    pub fn on_result(&mut self, index: usize, ok: bool) -> Vec<TrackAction> {
        let Some(t) = self.trackers.get_mut(index) else {
            return Vec::new();
        };
        let PlanTrackerKind::Command { rise, fall, .. } = t.plan.kind else {
            return Vec::new();
        };
        t.running = false;
        t.runs += 1;
        if ok {
            t.successes = t.successes.saturating_add(1);
            t.failures = 0;
        } else {
            t.failed_runs += 1;
            t.failures = t.failures.saturating_add(1);
            t.successes = 0;
        }
        let new = match t.state {
            // rise and fall are at least 1 (`Plan::problems`).
            TrackState::Up if t.failures >= fall => TrackState::Down,
            TrackState::Down if t.successes >= rise => TrackState::Up,
            s => s,
        };
        Self::set(t, index, new)
    }

    /// A link notification for `interface`.
    pub fn on_link(&mut self, interface: &str, up: bool) -> Vec<TrackAction> {
        let mut out = Vec::new();
        for (index, t) in self.trackers.iter_mut().enumerate() {
            if matches!(&t.plan.kind, PlanTrackerKind::Interface { interface: i } if i == interface)
            {
                let new = if up { TrackState::Up } else { TrackState::Down };
                out.extend(Self::set(t, index, new));
            }
        }
        out
    }

    fn set(t: &mut Tracker, index: usize, new: TrackState) -> Vec<TrackAction> {
        if new == t.state {
            return Vec::new();
        }
        t.state = new;
        t.transitions += 1;
        vec![TrackAction::Changed { index, state: new }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, on_fail: PlanOnFail, rise: u32, fall: u32) -> PlanTracker {
        PlanTracker {
            name: name.into(),
            kind: PlanTrackerKind::Command {
                command: vec!["/bin/true".into()],
                interval_ms: 1000,
                timeout_ms: 300,
                rise,
                fall,
            },
            on_fail,
        }
    }

    fn iface(name: &str, i: &str, on_fail: PlanOnFail) -> PlanTracker {
        PlanTracker {
            name: name.into(),
            kind: PlanTrackerKind::Interface {
                interface: i.into(),
            },
            on_fail,
        }
    }

    #[test]
    fn command_rise_fall_and_schedule() {
        let mut t = Trackers::new(
            &[cmd("svc", PlanOnFail::Fault, 2, 3)],
            100,
            Instant(0),
            |_| true,
        );
        assert_eq!(t.next_deadline(), Some(Instant(0)));
        let run = t.poll(Instant(0));
        assert_eq!(
            run,
            vec![TrackAction::Run {
                index: 0,
                argv: vec!["/bin/true".into()],
                timeout: Duration::from_millis(300)
            }]
        );
        // While it runs nothing else is started.
        assert_eq!(t.next_deadline(), None);
        assert!(t.poll(Instant(5_000_000)).is_empty());
        assert!(t.on_result(0, false).is_empty());
        assert_eq!(t.next_deadline(), Some(Instant(1_000_000)));
        t.poll(Instant(1_000_000));
        assert!(t.on_result(0, false).is_empty());
        assert!(!t.fault());
        t.poll(Instant(2_000_000));
        assert_eq!(
            t.on_result(0, false),
            vec![TrackAction::Changed {
                index: 0,
                state: TrackState::Down
            }]
        );
        assert!(t.fault());
        t.poll(Instant(3_000_000));
        assert!(t.on_result(0, true).is_empty());
        t.poll(Instant(4_000_000));
        assert_eq!(t.on_result(0, true).len(), 1);
        assert!(!t.fault());
        assert_eq!(t.list()[0].runs, 5);
        assert_eq!(t.list()[0].failed_runs, 3);
        assert_eq!(t.list()[0].transitions, 2);
    }

    #[test]
    fn interface_trackers_and_demotion_clamped() {
        let plan = [
            iface("uplink", "eth1", PlanOnFail::Demote { weight: 60 }),
            iface("storage", "eth2", PlanOnFail::Demote { weight: 60 }),
            iface("core", "eth3", PlanOnFail::Fault),
        ];
        let mut t = Trackers::new(&plan, 100, Instant(0), |i| i != "eth2");
        assert_eq!(t.interfaces(), vec!["eth1", "eth2", "eth3"]);
        assert_eq!(t.effective_priority(), 40);
        assert_eq!(t.on_link("eth1", false).len(), 1);
        assert_eq!(t.effective_priority(), 1, "100 - 120 clamps to 1");
        assert!(t.on_link("eth1", false).is_empty(), "no change, no action");
        assert!(!t.fault());
        t.on_link("eth3", false);
        assert!(t.fault());
        t.on_link("eth3", true);
        t.on_link("eth1", true);
        t.on_link("eth2", true);
        assert!(!t.fault());
        assert_eq!(t.effective_priority(), 100);
        // The owner is never demoted; 254 is the ceiling for everyone else.
        let mut o = Trackers::new(&plan, 255, Instant(0), |_| false);
        assert_eq!(o.effective_priority(), 255);
        o.on_link("eth1", true);
        assert_eq!(o.effective_priority(), 255);
    }

    #[test]
    fn fault_sources_combine() {
        let mut f = FaultSources::default();
        assert!(!f.any());
        f.link = true;
        f.isolated = true;
        f.link = false;
        assert!(f.any());
        f.isolated = false;
        assert!(!f.any());
    }
}
