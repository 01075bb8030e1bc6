//! Fencing (STONITH) before a takeover, sans-IO.
//!
//! When a backup stops hearing its master it cannot know whether the master
//! is dead or merely unheard. A fence command (power off the peer through
//! its BMC, shut its switch port, ...) makes sure. The [`FenceGate`] decides
//! when the command runs and whether the takeover may proceed:
//!
//! * `required = true`: the gate holds the VRRP core's veto
//!   ([`crate::vrrp::Input::ArbitrationVerdict`]) closed. When the core would
//!   take over (it reports [`crate::vrrp::Alarm::MasterVetoed`]) and the
//!   arbiter says the reference IPs are reachable, the command starts. Exit
//!   status 0 opens the gate; the core then takes over at once
//!   (`Reason::VetoLifted`). A failure (non-zero status, a signal, the
//!   timeout) keeps the node BACKUP and raises a `fence_failed` alarm; the
//!   next master-down expiry tries again. Success is spent by the takeover
//!   it allowed: the next takeover fences again. A success that allowed no
//!   takeover (the master spoke again meanwhile) expires after
//!   [`FENCED_VALID`].
//! * `required = false`: the takeover is not held back; the command runs
//!   when the node became master because its master went silent, and its
//!   outcome is only logged.
//!
//! Every takeover counts, including preemption of a live lower-priority
//! master: the gate cannot tell a silent master from a preempted one, so with
//! a required fence the preempting node fences first. Operators who want
//! otherwise leave `required = false`.

use std::time::Duration;

use serde::Serialize;

use crate::vrrp::Instant;

/// How long a fence success waits for the takeover it allows.
pub const FENCED_VALID: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FenceState {
    Idle,
    Running,
    /// The peer is fenced; the takeover may go ahead until this instant.
    Fenced,
}

/// One router's fence.
#[derive(Clone, Debug, Serialize)]
pub struct FenceGate {
    pub required: bool,
    pub state: FenceState,
    pub runs: u64,
    pub failures: u64,
    #[serde(skip)]
    fenced_until: Option<Instant>,
}

impl FenceGate {
    pub fn new(required: bool) -> FenceGate {
        FenceGate {
            required,
            state: FenceState::Idle,
            runs: 0,
            failures: 0,
            fenced_until: None,
        }
    }

    /// Whether the gate lets the router become master.
    pub fn allows(&self) -> bool {
        !self.required || self.state == FenceState::Fenced
    }

    /// The core wanted to take over and was vetoed; `reachable`: the
    /// arbiter's verdict allows it. Returns true when the command must start.
    pub fn takeover_wanted(&mut self, reachable: bool) -> bool {
        if self.required && reachable && self.state == FenceState::Idle {
            self.state = FenceState::Running;
            self.runs += 1;
            return true;
        }
        false
    }

    /// The router became master (`silent_master`: because its master went
    /// silent). Spends a success; returns true when a non-required fence
    /// must start now.
    pub fn became_master(&mut self, silent_master: bool) -> bool {
        if self.required {
            if self.state == FenceState::Fenced {
                self.state = FenceState::Idle;
                self.fenced_until = None;
            }
            return false;
        }
        if silent_master && self.state == FenceState::Idle {
            self.state = FenceState::Running;
            self.runs += 1;
            return true;
        }
        false
    }

    /// The command ended.
    pub fn on_exit(&mut self, ok: bool, now: Instant) {
        if !ok {
            self.failures += 1;
        }
        if ok && self.required {
            self.state = FenceState::Fenced;
            self.fenced_until = Some(now + FENCED_VALID);
        } else {
            self.state = FenceState::Idle;
        }
    }

    /// When an unspent success expires.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.fenced_until
    }

    /// Expires an unspent success; true when the gate closed.
    pub fn poll(&mut self, now: Instant) -> bool {
        if self.state == FenceState::Fenced && self.fenced_until.is_some_and(|t| now >= t) {
            self.state = FenceState::Idle;
            self.fenced_until = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_gate_opens_only_after_success_and_is_spent() {
        let mut g = FenceGate::new(true);
        assert!(!g.allows());
        assert!(
            !g.takeover_wanted(false),
            "unreachable: no fence, no takeover"
        );
        assert!(g.takeover_wanted(true));
        assert!(!g.takeover_wanted(true), "already running");
        g.on_exit(false, Instant(0));
        assert!(!g.allows());
        assert_eq!(g.failures, 1);
        assert!(g.takeover_wanted(true), "retried on the next expiry");
        g.on_exit(true, Instant(10));
        assert!(g.allows());
        assert!(!g.became_master(true));
        assert!(!g.allows(), "a success allows one takeover");
        assert_eq!(g.runs, 2);
    }

    #[test]
    fn unspent_success_expires() {
        let mut g = FenceGate::new(true);
        g.takeover_wanted(true);
        g.on_exit(true, Instant(0));
        assert_eq!(g.next_deadline(), Some(Instant(0) + FENCED_VALID));
        assert!(!g.poll(Instant(10)));
        assert!(g.poll(Instant(0) + FENCED_VALID));
        assert!(!g.allows());
        assert_eq!(g.next_deadline(), None);
    }

    #[test]
    fn optional_fence_runs_after_a_silent_master_takeover() {
        let mut g = FenceGate::new(false);
        assert!(g.allows());
        assert!(!g.takeover_wanted(true));
        assert!(!g.became_master(false), "preemption: nothing to fence");
        assert!(g.became_master(true));
        g.on_exit(false, Instant(0));
        assert!(g.allows());
        assert_eq!(g.failures, 1);
    }
}
