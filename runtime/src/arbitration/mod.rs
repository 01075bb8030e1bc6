//! Split-brain arbitration by reference IPs, sans-IO.
//!
//! VRRP alone cannot tell "the master died" from "I cannot hear the master":
//! both look like silence. Arbitration adds a second opinion: the router
//! pings a few reference addresses every member must reach (typically the
//! gateway). The [`Arbiter`] turns echo results into a verdict and the
//! verdict into VRRP inputs:
//!
//! * **veto** ([`crate::vrrp::Input::ArbitrationVerdict`]): a backup that stops
//!   hearing its master may become master only while at least one reference
//!   IP answers. An isolated backup therefore never claims the VIPs.
//!   `Unknown` (no answer and not yet enough losses, e.g. just after start)
//!   vetoes too: we claim nothing we cannot justify.
//! * **release** ([`crate::vrrp::Input::Fault`]): a member that has reached
//!   no reference IP for `release_after_ms` enters FAULT, so an isolated
//!   master releases its VIPs (and stops advertising, which lets the peer
//!   that still reaches the gateway take over). A backup isolated that long
//!   also shows FAULT: it could not serve anyway, and its `fault` hook runs.
//!   The first echo reply clears it.
//! * **self-fence**: entering that FAULT runs the plan's `self_fence`
//!   command once per isolation.
//!
//! Per reference IP: `Unknown` until its first reply or `attempts`
//! consecutive losses; `Reachable` after any reply; `Unreachable` after
//! `attempts` consecutive losses. The router's verdict is `Reachable` if any
//! IP is, `Unreachable` if all are, `Unknown` otherwise.
//!
//! Probing: every `interval_ms` one echo request per reference IP; a probe
//! not answered within `timeout_ms` (or still pending when the next one is
//! due) is lost. The shell sends [`ArbAction::SendEcho`] and feeds replies
//! with [`Arbiter::on_reply`]; the sequence number ties them together, so a
//! late reply to an abandoned probe is ignored.

pub mod fence;

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use vigil_schema::plan::PlanArbitration;

use crate::vrrp::Instant;

/// Reachability of one reference IP, or of a router's set of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Unknown,
    Reachable,
    Unreachable,
}

/// What the shell must do for the arbiter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArbAction {
    /// Send one ICMP echo request with this sequence number.
    SendEcho { target: IpAddr, seq: u16 },
    /// The router's verdict changed (log it).
    VerdictChanged { from: Verdict, to: Verdict },
    /// Feed `Input::ArbitrationVerdict { allow_master }`.
    AllowMaster(bool),
    /// Feed the arbitration fault (combined with the other fault sources).
    Isolated(bool),
    /// Run the plan's self-fence command.
    SelfFence,
}

/// Per reference IP.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub address: IpAddr,
    pub verdict: Verdict,
    /// Consecutive probes lost.
    pub losses: u32,
    pub sent: u64,
    pub replies: u64,
    pub lost: u64,
    /// Round-trip time of the last reply, in microseconds.
    pub last_rtt_us: Option<u64>,
    #[serde(skip)]
    pending: Option<(u16, Instant, Instant)>, // (seq, sent at, deadline)
    #[serde(skip)]
    last_reply: Option<Instant>,
}

/// The arbitration state of one router.
#[derive(Clone, Debug)]
pub struct Arbiter {
    interval: Duration,
    timeout: Duration,
    attempts: u32,
    release_after: Duration,
    self_fence: bool,
    targets: Vec<Target>,
    next_seq: u16,
    next_probe: Instant,
    started: Instant,
    verdict: Verdict,
    allow_master: Option<bool>,
    isolated: bool,
}

impl Arbiter {
    /// An arbiter whose first probes go out at `now`.
    pub fn new(plan: &PlanArbitration, now: Instant) -> Arbiter {
        Arbiter {
            // At least 1 each: `Plan::problems` refuses zeros when the plan is read.
            interval: Duration::from_millis(plan.interval_ms),
            timeout: Duration::from_millis(plan.timeout_ms),
            attempts: plan.attempts,
            release_after: Duration::from_millis(plan.release_after_ms),
            self_fence: plan.self_fence.is_some(),
            targets: plan
                .reference_ips
                .iter()
                .map(|a| Target {
                    address: *a,
                    verdict: Verdict::Unknown,
                    losses: 0,
                    sent: 0,
                    replies: 0,
                    lost: 0,
                    last_rtt_us: None,
                    pending: None,
                    last_reply: None,
                })
                .collect(),
            next_seq: 1,
            next_probe: now,
            started: now,
            verdict: Verdict::Unknown,
            allow_master: None,
            isolated: false,
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    pub fn isolated(&self) -> bool {
        self.isolated
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The first actions: the initial veto (nothing is known yet).
    pub fn start(&mut self) -> Vec<ArbAction> {
        let mut out = Vec::new();
        self.publish(&mut out);
        out
    }

    /// The earliest instant [`Arbiter::poll`] has something to do.
    pub fn next_deadline(&self) -> Instant {
        let mut at = self.next_probe;
        for t in &self.targets {
            if let Some((_, _, d)) = t.pending {
                at = at.min(d);
            }
        }
        if self.verdict == Verdict::Unreachable && !self.isolated {
            at = at.min(self.release_at());
        }
        at
    }

    /// When an unreachable router is declared isolated.
    fn release_at(&self) -> Instant {
        let last = self
            .targets
            .iter()
            .filter_map(|t| t.last_reply)
            .max()
            .unwrap_or(self.started);
        last + self.release_after
    }

    /// Timeouts, due probes and the release deadline at `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<ArbAction> {
        let mut out = Vec::new();
        for i in 0..self.targets.len() {
            if let Some((_, _, deadline)) = self.targets[i].pending {
                if now >= deadline {
                    self.lose(i);
                }
            }
        }
        if now >= self.next_probe {
            for i in 0..self.targets.len() {
                if self.targets[i].pending.is_some() {
                    // Still unanswered when the next one is due.
                    self.lose(i);
                }
                let seq = self.next_seq;
                self.next_seq = self.next_seq.wrapping_add(1).max(1);
                let t = &mut self.targets[i];
                t.pending = Some((seq, now, now + self.timeout));
                t.sent += 1;
                out.push(ArbAction::SendEcho {
                    target: t.address,
                    seq,
                });
            }
            // Keep the rhythm, but never schedule in the past after a stall.
            self.next_probe = (self.next_probe + self.interval).max(now);
            if self.next_probe == now {
                self.next_probe = now + self.interval;
            }
        }
        self.update(now, &mut out);
        out
    }

    /// An echo reply from `from` with `seq`, received at `now`.
    pub fn on_reply(&mut self, from: IpAddr, seq: u16, now: Instant) -> Vec<ArbAction> {
        let mut out = Vec::new();
        let Some(t) = self.targets.iter_mut().find(|t| t.address == from) else {
            return out;
        };
        match t.pending {
            Some((s, sent, _)) if s == seq => {
                t.pending = None;
                t.replies += 1;
                t.losses = 0;
                t.verdict = Verdict::Reachable;
                t.last_reply = Some(now);
                t.last_rtt_us = Some(now.saturating_since(sent).as_micros() as u64);
            }
            _ => return out, // late or foreign: the probe was already counted lost
        }
        self.update(now, &mut out);
        out
    }

    /// The arbiter's send failed (no route, interface gone): the probe is lost now.
    pub fn on_send_error(&mut self, target: IpAddr, now: Instant) -> Vec<ArbAction> {
        let mut out = Vec::new();
        if let Some(i) = self.targets.iter().position(|t| t.address == target) {
            if self.targets[i].pending.is_some() {
                self.lose(i);
            }
        }
        self.update(now, &mut out);
        out
    }

    fn lose(&mut self, i: usize) {
        let attempts = self.attempts;
        let t = &mut self.targets[i];
        t.pending = None;
        t.lost += 1;
        t.losses = t.losses.saturating_add(1);
        if t.losses >= attempts {
            t.verdict = Verdict::Unreachable;
        }
    }

    fn update(&mut self, now: Instant, out: &mut Vec<ArbAction>) {
        let verdict = if self.targets.iter().any(|t| t.verdict == Verdict::Reachable) {
            Verdict::Reachable
        } else if !self.targets.is_empty()
            && self
                .targets
                .iter()
                .all(|t| t.verdict == Verdict::Unreachable)
        {
            Verdict::Unreachable
        } else {
            Verdict::Unknown
        };
        if verdict != self.verdict {
            out.push(ArbAction::VerdictChanged {
                from: self.verdict,
                to: verdict,
            });
            self.verdict = verdict;
        }
        let isolated = match verdict {
            Verdict::Reachable => false,
            Verdict::Unreachable => self.isolated || now >= self.release_at(),
            Verdict::Unknown => self.isolated,
        };
        if isolated != self.isolated {
            self.isolated = isolated;
            out.push(ArbAction::Isolated(isolated));
            if isolated && self.self_fence {
                out.push(ArbAction::SelfFence);
            }
        }
        self.publish(out);
    }

    fn publish(&mut self, out: &mut Vec<ArbAction>) {
        let allow = self.verdict == Verdict::Reachable;
        if self.allow_master != Some(allow) {
            self.allow_master = Some(allow);
            out.push(ArbAction::AllowMaster(allow));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ips: &[&str], self_fence: bool) -> PlanArbitration {
        PlanArbitration {
            reference_ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
            interval_ms: 1000,
            timeout_ms: 500,
            attempts: 3,
            release_after_ms: 3000,
            fence: None,
            self_fence: self_fence.then(|| vec!["/bin/true".into()]),
        }
    }

    fn ms(n: u64) -> Instant {
        Instant(n * 1000)
    }

    fn echoes(actions: &[ArbAction]) -> Vec<(IpAddr, u16)> {
        actions
            .iter()
            .filter_map(|a| match a {
                ArbAction::SendEcho { target, seq } => Some((*target, *seq)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn unknown_vetoes_then_a_reply_allows() {
        let mut a = Arbiter::new(&plan(&["10.0.0.1"], false), ms(0));
        assert_eq!(a.start(), vec![ArbAction::AllowMaster(false)]);
        let sent = echoes(&a.poll(ms(0)));
        assert_eq!(sent, vec![("10.0.0.1".parse().unwrap(), 1)]);
        assert_eq!(a.next_deadline(), ms(500));
        // A reply with a wrong sequence or from a stranger changes nothing.
        assert!(a.on_reply("10.0.0.1".parse().unwrap(), 9, ms(3)).is_empty());
        assert!(a.on_reply("10.0.0.9".parse().unwrap(), 1, ms(3)).is_empty());
        let out = a.on_reply("10.0.0.1".parse().unwrap(), 1, ms(4));
        assert_eq!(
            out,
            vec![
                ArbAction::VerdictChanged {
                    from: Verdict::Unknown,
                    to: Verdict::Reachable
                },
                ArbAction::AllowMaster(true)
            ]
        );
        assert_eq!(a.targets()[0].last_rtt_us, Some(4000));
        assert_eq!(a.next_deadline(), ms(1000));
    }

    #[test]
    fn losses_make_unreachable_then_isolated_and_one_reply_heals() {
        let mut a = Arbiter::new(&plan(&["10.0.0.1", "10.0.0.2"], true), ms(0));
        a.start();
        let s = echoes(&a.poll(ms(0)));
        a.on_reply(s[0].0, s[0].1, ms(1));
        assert_eq!(a.verdict(), Verdict::Reachable);
        // From now on nothing answers. One reachable IP keeps the verdict
        // until it too has lost `attempts` probes (1500, 2500, 3500 ms); the
        // last reply was at 1 ms, so release (3001 ms) has passed by then.
        let mut unreachable_at = None;
        let mut isolated_at = None;
        let mut all = Vec::new();
        for t in (500..=8000).step_by(500) {
            let out = a.poll(ms(t));
            for x in &out {
                match x {
                    ArbAction::VerdictChanged {
                        to: Verdict::Unreachable,
                        ..
                    } => unreachable_at = Some(t),
                    ArbAction::Isolated(true) => isolated_at = Some(t),
                    _ => {}
                }
            }
            all.extend(out);
            if isolated_at.is_some() {
                break;
            }
        }
        assert_eq!(unreachable_at, Some(3500));
        assert_eq!(isolated_at, Some(3500));
        let pos_iso = all
            .iter()
            .position(|x| *x == ArbAction::Isolated(true))
            .unwrap();
        assert_eq!(all[pos_iso + 1], ArbAction::SelfFence);
        assert_eq!(all[pos_iso + 2], ArbAction::AllowMaster(false));
        // A reply heals at once.
        let s = echoes(&a.poll(ms(4000)));
        let out = a.on_reply(s[1].0, s[1].1, ms(4002));
        assert_eq!(
            out,
            vec![
                ArbAction::VerdictChanged {
                    from: Verdict::Unreachable,
                    to: Verdict::Reachable
                },
                ArbAction::Isolated(false),
                ArbAction::AllowMaster(true)
            ]
        );
    }

    #[test]
    fn never_answered_is_isolated_after_release_from_start() {
        let mut a = Arbiter::new(&plan(&["10.0.0.1"], false), ms(0));
        a.start();
        let mut isolated_at = None;
        for t in (0..6000).step_by(100) {
            for x in a.poll(ms(t)) {
                if x == ArbAction::Isolated(true) {
                    isolated_at = Some(t);
                }
            }
        }
        // Losses at 500, 1500, 2500 -> unreachable at 2500; release 3000 after start.
        assert_eq!(isolated_at, Some(3000));
        assert_eq!(a.targets()[0].lost, 6);
        assert_eq!(a.targets()[0].sent, 6);
    }

    #[test]
    fn send_error_counts_as_a_loss_and_late_reply_is_ignored() {
        let mut a = Arbiter::new(&plan(&["10.0.0.1"], false), ms(0));
        a.start();
        let s = echoes(&a.poll(ms(0)));
        a.on_send_error(s[0].0, ms(0));
        assert_eq!(a.targets()[0].losses, 1);
        assert!(a.on_reply(s[0].0, s[0].1, ms(10)).is_empty());
        assert_eq!(a.verdict(), Verdict::Unknown);
    }
}
