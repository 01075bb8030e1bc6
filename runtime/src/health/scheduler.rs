//! The health-check scheduler: sans-IO, `(state, input, now) -> actions`.
//!
//! Per real server a small state machine counts consecutive results: an UP
//! server goes DOWN after `fall` failures in a row, a DOWN server comes back
//! after `rise` successes in a row. Checks run one at a time per real server:
//! the next starts `interval` after the previous one finished (or timed
//! out), so a slow server is never hit by overlapping checks. The first check
//! of the i-th of n real servers is spread over the warmup window
//! (`warmup * i / n`), deterministically, so a restart does not probe every
//! server at the same instant.
//!
//! Real servers start UP, as in keepalived: a restarted director keeps
//! serving at once rather than waiting for `rise` checks.
//!
//! A plan reload keeps what is known ([`Scheduler::carry_over`]): a real
//! server found again (same virtual-server name, address and port) with the
//! same check and timing keeps its up/down state and streaks, and its running
//! check keeps running when its [`RsId`] is unchanged; anything else starts
//! fresh. A virtual server found again by name keeps its quorum state.
//!
//! Per virtual server, quorum with hysteresis (keepalived semantics): with
//! `alive` the sum of the plan weights of UP real servers, quorum is lost
//! when `alive == 0 || alive < quorum - hysteresis` and regained when
//! `alive >= quorum + hysteresis`. On loss, a virtual server with a sorry
//! server switches to it: the sorry server is added and the remaining real
//! servers withdrawn (weight 0 or removed, per `on_fail`); on regain the
//! alive real servers come back first, then the sorry server goes.
//!
//! The scheduler owns no sockets or processes; the event loop starts the
//! check it is told to start ([`Action::StartCheck`]), reports the result
//! ([`Input::CheckDone`]), and calls [`Scheduler::step`] with
//! [`Input::Tick`] when [`Scheduler::next_deadline`] passes.
//!
//! Time is the runtime's one clock type, [`Instant`]: microseconds on the
//! shell's monotonic clock, passed in with every call; the scheduler never
//! reads a clock.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use vigil_schema::plan::{PlanCheck, PlanRealServerOnFail, PlanVirtualServer};

use super::sha256;
use crate::vrrp::Instant;

/// A real server: indexes into the plan's `virtual_servers` and that
/// virtual server's `real_servers`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct RsId {
    pub vs: usize,
    pub rs: usize,
}

/// A check to run, resolved against its real server.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CheckKind {
    Tcp {
        addr: SocketAddr,
    },
    Http(HttpSpec),
    Command {
        argv: Vec<String>,
        env: Vec<(String, String)>,
    },
}

/// An HTTP/1.0 GET check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HttpSpec {
    pub addr: SocketAddr,
    pub host: String,
    pub path: String,
    pub status_min: u16,
    pub status_max: u16,
    pub body_sha256: Option<[u8; 32]>,
}

/// Something the event loop must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start a check; report it with [`Input::CheckDone`]. The scheduler
    /// itself gives up at `deadline`.
    StartCheck {
        rs: RsId,
        kind: CheckKind,
        deadline: Instant,
    },
    /// Stop a running check (close its socket, kill its process); its late
    /// result, if any, is ignored.
    AbortCheck {
        rs: RsId,
    },
    /// Set a real server's IPVS weight (0 = inhibited).
    SetWeight {
        rs: RsId,
        weight: u32,
    },
    /// Add a real server's destination (at its plan weight).
    AddDest {
        rs: RsId,
    },
    /// Delete a real server's destination.
    RemoveDest {
        rs: RsId,
    },
    /// Add (`active`) or delete the virtual server's sorry server.
    UseSorryServer {
        vs: usize,
        active: bool,
    },
    Log(HealthEvent),
}

/// What happened, for the log: one structured `health` event each, with
/// `transition` naming the variant and the fields below.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "transition", rename_all = "snake_case")]
pub enum HealthEvent {
    RealServerDown {
        vs: String,
        addr: IpAddr,
        port: u16,
        reason: String,
    },
    RealServerUp {
        vs: String,
        addr: IpAddr,
        port: u16,
    },
    QuorumLost {
        vs: String,
        alive_weight: u64,
        quorum: u32,
    },
    QuorumRegained {
        vs: String,
        alive_weight: u64,
        quorum: u32,
    },
}

impl fmt::Display for HealthEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthEvent::RealServerDown {
                vs,
                addr,
                port,
                reason,
            } => {
                write!(
                    f,
                    "virtual server {vs}: real server {} down ({reason})",
                    SocketAddr::new(*addr, *port)
                )
            }
            HealthEvent::RealServerUp { vs, addr, port } => {
                write!(
                    f,
                    "virtual server {vs}: real server {} up",
                    SocketAddr::new(*addr, *port)
                )
            }
            HealthEvent::QuorumLost {
                vs,
                alive_weight,
                quorum,
            } => {
                write!(
                    f,
                    "virtual server {vs}: quorum lost (alive weight {alive_weight} < quorum {quorum})"
                )
            }
            HealthEvent::QuorumRegained {
                vs,
                alive_weight,
                quorum,
            } => {
                write!(
                    f,
                    "virtual server {vs}: quorum regained (alive weight {alive_weight}, quorum {quorum})"
                )
            }
        }
    }
}

/// An input to the scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Time passed (a timer fired).
    Tick,
    /// A check finished; `Err` carries the reason.
    CheckDone {
        rs: RsId,
        result: Result<(), String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Timing {
    interval: Duration,
    timeout: Duration,
    rise: u32,
    fall: u32,
}

#[derive(Clone, Debug)]
struct RsState {
    addr: IpAddr,
    port: u16,
    weight: u32,
    up: bool,
    ok_streak: u32,
    fail_streak: u32,
    /// When the next check starts (`None`: not checked).
    next_at: Option<Instant>,
    /// The deadline of the running check.
    running: Option<Instant>,
    kind: Option<CheckKind>,
}

#[derive(Clone, Debug)]
struct VsState {
    name: String,
    timing: Option<Timing>,
    on_fail: PlanRealServerOnFail,
    quorum: u32,
    hysteresis: u32,
    has_sorry: bool,
    quorum_up: bool,
    rss: Vec<RsState>,
}

impl VsState {
    fn alive_weight(&self) -> u64 {
        self.rss
            .iter()
            .filter(|r| r.up)
            .map(|r| u64::from(r.weight))
            .sum()
    }

    /// True while the sorry server replaces the real servers.
    fn sorry_active(&self) -> bool {
        self.has_sorry && !self.quorum_up
    }
}

/// The weight a real server currently has in IPVS, or `None` when its
/// destination must be absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveDest {
    pub rs: usize,
    pub weight: u32,
}

/// The health state of every virtual server of a plan.
#[derive(Clone, Debug)]
pub struct Scheduler {
    vss: Vec<VsState>,
}

/// Resolves a plan check against one real server.
pub fn resolve_check(check: &PlanCheck, addr: IpAddr, port: u16) -> Result<CheckKind, String> {
    Ok(match check {
        PlanCheck::Tcp { port: p } => CheckKind::Tcp {
            addr: SocketAddr::new(addr, p.unwrap_or(port)),
        },
        PlanCheck::Http {
            port: p,
            path,
            host,
            status_min,
            status_max,
            body_sha256,
        } => {
            let port = p.unwrap_or(port);
            let host = match host {
                Some(h) => h.clone(),
                None => {
                    let a = match addr {
                        IpAddr::V4(a) => a.to_string(),
                        IpAddr::V6(a) => format!("[{a}]"),
                    };
                    if port == 80 { a } else { format!("{a}:{port}") }
                }
            };
            let digest = match body_sha256 {
                Some(text) => Some(
                    sha256::parse_hex(text)
                        .ok_or_else(|| format!("body_sha256 `{text}` is not 64 hex digits"))?,
                ),
                None => None,
            };
            CheckKind::Http(HttpSpec {
                addr: SocketAddr::new(addr, port),
                host,
                path: path.clone(),
                status_min: *status_min,
                status_max: *status_max,
                body_sha256: digest,
            })
        }
        PlanCheck::Command { command } => {
            if command.is_empty() {
                return Err("empty check command".into());
            }
            CheckKind::Command {
                argv: command.clone(),
                env: vec![
                    ("VIGIL_RS_ADDRESS".into(), addr.to_string()),
                    ("VIGIL_RS_PORT".into(), port.to_string()),
                ],
            }
        }
    })
}

impl Scheduler {
    /// Builds the state for a plan's virtual servers at time `now`. Errors
    /// name the virtual server whose check cannot be resolved; such a
    /// virtual server is treated as unchecked (always up).
    pub fn new(vss: &[PlanVirtualServer], now: Instant) -> (Self, Vec<String>) {
        let mut errors = Vec::new();
        let mut states = Vec::with_capacity(vss.len());
        for vs in vss {
            let n = vs.real_servers.len().max(1) as u32;
            let mut timing = vs.health.as_ref().map(|h| Timing {
                interval: Duration::from_millis(h.interval_ms),
                timeout: Duration::from_millis(h.timeout_ms),
                // At least 1 each (`Plan::problems`).
                rise: h.rise,
                fall: h.fall,
            });
            let mut rss = Vec::with_capacity(vs.real_servers.len());
            for (i, rs) in vs.real_servers.iter().enumerate() {
                let mut kind = None;
                let mut next_at = None;
                if let Some(h) = &vs.health {
                    match resolve_check(&h.check, rs.address, rs.port) {
                        Ok(k) => {
                            kind = Some(k);
                            let offset = Duration::from_millis(h.warmup_ms) * i as u32 / n;
                            next_at = Some(now + offset);
                        }
                        // The check is the virtual server's: one error for all
                        // its real servers.
                        Err(e) if timing.is_some() => {
                            errors.push(format!(
                                "virtual server `{}`: {e}; not health-checked",
                                vs.name
                            ));
                            timing = None;
                        }
                        Err(_) => {}
                    }
                }
                rss.push(RsState {
                    addr: rs.address,
                    port: rs.port,
                    weight: rs.weight,
                    up: true,
                    ok_streak: 0,
                    fail_streak: 0,
                    next_at,
                    running: None,
                    kind,
                });
            }
            if timing.is_none() {
                for r in &mut rss {
                    r.next_at = None;
                    r.kind = None;
                }
            }
            let mut state = VsState {
                name: vs.name.clone(),
                timing,
                on_fail: vs.on_fail,
                quorum: vs.quorum,
                hysteresis: vs.hysteresis,
                has_sorry: vs.sorry_server.is_some(),
                quorum_up: true,
                rss,
            };
            let alive = state.alive_weight();
            state.quorum_up = alive > 0 && alive >= u64::from(state.quorum);
            if vs.real_servers.is_empty() && state.quorum == 0 {
                state.quorum_up = true;
            }
            states.push(state);
        }
        (Scheduler { vss: states }, errors)
    }

    /// When the loop must call [`Scheduler::step`] with [`Input::Tick`] next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.vss
            .iter()
            .flat_map(|v| v.rss.iter())
            .filter_map(|r| match r.running {
                Some(deadline) => Some(deadline),
                None => r.next_at,
            })
            .min()
    }

    /// Builds the state for a reloaded plan `vss`, carrying health over from
    /// `prev` (the scheduler of the previous plan) at `now`.
    ///
    /// A real server of the new plan is matched with one of `prev` by
    /// (virtual-server name, address, port), duplicates in plan order. When
    /// both have the same resolved check and the same interval, timeout,
    /// rise and fall, it keeps its up/down state, its streaks and its next
    /// check time; a running check keeps running if the server's [`RsId`]
    /// is unchanged, and is restarted at `now` under the new id otherwise
    /// (its old id is aborted). Everything else starts as in
    /// [`Scheduler::new`]. A virtual server found again by name keeps its
    /// quorum state, then the quorum rule is applied to the carried health.
    ///
    /// Returns the scheduler, the check-resolution errors (as
    /// [`Scheduler::new`]) and the actions for the shell: first an
    /// [`Action::AbortCheck`] for every running check of `prev` (by its old
    /// id) that does not keep running, then an [`Action::Log`] per quorum
    /// transition. No IPVS action: the caller reconciles the whole table.
    pub fn carry_over(
        prev: &Scheduler,
        vss: &[PlanVirtualServer],
        now: Instant,
    ) -> (Self, Vec<String>, Vec<Action>) {
        let (mut next, errors) = Scheduler::new(vss, now);
        let mut by_identity: BTreeMap<(&str, IpAddr, u16), VecDeque<RsId>> = BTreeMap::new();
        for (vs, v) in prev.vss.iter().enumerate() {
            for (rs, r) in v.rss.iter().enumerate() {
                by_identity
                    .entry((v.name.as_str(), r.addr, r.port))
                    .or_default()
                    .push_back(RsId { vs, rs });
            }
        }
        let mut kept_running = BTreeSet::new();
        for (vs, v) in next.vss.iter_mut().enumerate() {
            for (rs, r) in v.rss.iter_mut().enumerate() {
                let Some(old_id) = by_identity
                    .get_mut(&(v.name.as_str(), r.addr, r.port))
                    .and_then(VecDeque::pop_front)
                else {
                    continue;
                };
                let old_v = &prev.vss[old_id.vs];
                let old = &old_v.rss[old_id.rs];
                let same_check = v.timing.is_some()
                    && old_v.timing == v.timing
                    && r.kind.is_some()
                    && old.kind == r.kind;
                if !same_check {
                    continue;
                }
                r.up = old.up;
                r.ok_streak = old.ok_streak;
                r.fail_streak = old.fail_streak;
                match old.running {
                    Some(deadline) if old_id == (RsId { vs, rs }) => {
                        r.running = Some(deadline);
                        r.next_at = None;
                        kept_running.insert(old_id);
                    }
                    Some(_) => r.next_at = Some(now),
                    None => r.next_at = old.next_at,
                }
            }
        }
        let mut actions: Vec<Action> = prev
            .running()
            .into_iter()
            .filter(|id| !kept_running.contains(id))
            .map(|rs| Action::AbortCheck { rs })
            .collect();
        for vs in 0..next.vss.len() {
            let Some(old) = prev.vss.iter().find(|o| o.name == next.vss[vs].name) else {
                continue;
            };
            if next.vss[vs].rss.is_empty() {
                continue; // no health to judge: keeps the state `new` gave it
            }
            next.vss[vs].quorum_up = old.quorum_up;
            let mut quorum = Vec::new();
            next.update_quorum(vs, &mut quorum);
            actions.extend(quorum.into_iter().filter(|a| matches!(a, Action::Log(_))));
        }
        (next, errors, actions)
    }

    /// The real servers whose check is running, in id order.
    pub fn running(&self) -> Vec<RsId> {
        self.vss
            .iter()
            .enumerate()
            .flat_map(|(vs, v)| {
                v.rss
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.running.is_some())
                    .map(move |(rs, _)| RsId { vs, rs })
            })
            .collect()
    }

    /// Whether a check of this real server is running (a result for it is
    /// expected).
    pub fn is_running(&self, rs: RsId) -> bool {
        self.vss
            .get(rs.vs)
            .and_then(|v| v.rss.get(rs.rs))
            .is_some_and(|r| r.running.is_some())
    }

    /// Whether a real server is currently considered up.
    pub fn is_up(&self, rs: RsId) -> Option<bool> {
        self.vss.get(rs.vs)?.rss.get(rs.rs).map(|r| r.up)
    }

    /// Whether virtual server `vs` currently serves from its sorry server.
    pub fn sorry_active(&self, vs: usize) -> bool {
        self.vss.get(vs).is_some_and(VsState::sorry_active)
    }

    /// The real servers that must be in IPVS for virtual server `vs`, with
    /// their weights (the sorry server is reported by [`Scheduler::sorry_active`]).
    pub fn effective_dests(&self, vs: usize) -> Vec<EffectiveDest> {
        let Some(v) = self.vss.get(vs) else {
            return Vec::new();
        };
        let inhibit = v.on_fail == PlanRealServerOnFail::Inhibit;
        v.rss
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let serving = r.up && !v.sorry_active();
                match (serving, inhibit) {
                    (true, _) => Some(EffectiveDest {
                        rs: i,
                        weight: r.weight,
                    }),
                    (false, true) => Some(EffectiveDest { rs: i, weight: 0 }),
                    (false, false) => None,
                }
            })
            .collect()
    }

    /// Advances the state machines.
    pub fn step(&mut self, input: Input, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match input {
            Input::Tick => {
                for vs in 0..self.vss.len() {
                    for rs in 0..self.vss[vs].rss.len() {
                        self.tick_one(RsId { vs, rs }, now, &mut actions);
                    }
                }
            }
            Input::CheckDone { rs, result } => {
                let Some(state) = self.vss.get_mut(rs.vs).and_then(|v| v.rss.get_mut(rs.rs)) else {
                    return actions;
                };
                if state.running.take().is_none() {
                    return actions; // late result of an aborted check
                }
                let interval = self.vss[rs.vs]
                    .timing
                    .as_ref()
                    .map_or(Duration::ZERO, |t| t.interval);
                self.vss[rs.vs].rss[rs.rs].next_at = Some(now + interval);
                self.record(rs, result, &mut actions);
            }
        }
        actions
    }

    fn tick_one(&mut self, id: RsId, now: Instant, actions: &mut Vec<Action>) {
        let v = &mut self.vss[id.vs];
        let Some(timing) = v.timing.clone() else {
            return;
        };
        let r = &mut v.rss[id.rs];
        if let Some(deadline) = r.running {
            if now >= deadline {
                r.running = None;
                r.next_at = Some(now + timing.interval);
                actions.push(Action::AbortCheck { rs: id });
                let reason = format!("no answer within {} ms", timing.timeout.as_millis());
                self.record(id, Err(reason), actions);
            }
            return;
        }
        if let (Some(at), Some(kind)) = (r.next_at, &r.kind)
            && now >= at
        {
            let deadline = now + timing.timeout;
            r.running = Some(deadline);
            r.next_at = None;
            actions.push(Action::StartCheck {
                rs: id,
                kind: kind.clone(),
                deadline,
            });
        }
    }

    fn record(&mut self, id: RsId, result: Result<(), String>, actions: &mut Vec<Action>) {
        let v = &mut self.vss[id.vs];
        let Some(timing) = v.timing.clone() else {
            return;
        };
        let inhibit = v.on_fail == PlanRealServerOnFail::Inhibit;
        let sorry_active = v.sorry_active();
        let r = &mut v.rss[id.rs];
        let changed = match result {
            Ok(()) => {
                r.ok_streak = r.ok_streak.saturating_add(1);
                r.fail_streak = 0;
                if !r.up && r.ok_streak >= timing.rise {
                    r.up = true;
                    actions.push(Action::Log(HealthEvent::RealServerUp {
                        vs: v.name.clone(),
                        addr: r.addr,
                        port: r.port,
                    }));
                    if !sorry_active {
                        actions.push(if inhibit {
                            Action::SetWeight {
                                rs: id,
                                weight: r.weight,
                            }
                        } else {
                            Action::AddDest { rs: id }
                        });
                    }
                    true
                } else {
                    false
                }
            }
            Err(reason) => {
                r.fail_streak = r.fail_streak.saturating_add(1);
                r.ok_streak = 0;
                if r.up && r.fail_streak >= timing.fall {
                    r.up = false;
                    actions.push(Action::Log(HealthEvent::RealServerDown {
                        vs: v.name.clone(),
                        addr: r.addr,
                        port: r.port,
                        reason,
                    }));
                    if !sorry_active {
                        actions.push(if inhibit {
                            Action::SetWeight { rs: id, weight: 0 }
                        } else {
                            Action::RemoveDest { rs: id }
                        });
                    }
                    true
                } else {
                    false
                }
            }
        };
        if changed {
            self.update_quorum(id.vs, actions);
        }
    }

    fn update_quorum(&mut self, vs: usize, actions: &mut Vec<Action>) {
        let v = &mut self.vss[vs];
        let alive = v.alive_weight();
        let up_at = u64::from(v.quorum) + u64::from(v.hysteresis);
        let down_below = u64::from(v.quorum).saturating_sub(u64::from(v.hysteresis));
        let inhibit = v.on_fail == PlanRealServerOnFail::Inhibit;
        if v.quorum_up && (alive == 0 || alive < down_below) {
            v.quorum_up = false;
            actions.push(Action::Log(HealthEvent::QuorumLost {
                vs: v.name.clone(),
                alive_weight: alive,
                quorum: v.quorum,
            }));
            if v.has_sorry {
                actions.push(Action::UseSorryServer { vs, active: true });
                for (i, _) in v.rss.iter().enumerate().filter(|(_, r)| r.up) {
                    let rs = RsId { vs, rs: i };
                    actions.push(if inhibit {
                        Action::SetWeight { rs, weight: 0 }
                    } else {
                        Action::RemoveDest { rs }
                    });
                }
            }
        } else if !v.quorum_up && alive > 0 && alive >= up_at {
            v.quorum_up = true;
            actions.push(Action::Log(HealthEvent::QuorumRegained {
                vs: v.name.clone(),
                alive_weight: alive,
                quorum: v.quorum,
            }));
            if v.has_sorry {
                for (i, r) in v.rss.iter().enumerate().filter(|(_, r)| r.up) {
                    let rs = RsId { vs, rs: i };
                    actions.push(if inhibit {
                        Action::SetWeight {
                            rs,
                            weight: r.weight,
                        }
                    } else {
                        Action::AddDest { rs }
                    });
                }
                actions.push(Action::UseSorryServer { vs, active: false });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn health_events_serialise_as_structured_fields() {
        let event = HealthEvent::RealServerDown {
            vs: "web".into(),
            addr: "10.0.1.1".parse().unwrap(),
            port: 80,
            reason: "connection refused".into(),
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["transition"], "real_server_down");
        assert_eq!(value["vs"], "web");
        assert_eq!(value["addr"], "10.0.1.1");
        assert_eq!(value["port"], 80);
        assert_eq!(value["reason"], "connection refused");
    }

    use super::*;
    use vigil_schema::plan::{Family, PlanHealth, PlanMethod, PlanProtocol, PlanRealServer};

    fn rs(last: u8, weight: u32) -> PlanRealServer {
        PlanRealServer {
            address: IpAddr::from([10, 0, 1, last]),
            port: 80,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    fn vs(
        weights: &[u32],
        quorum: u32,
        hysteresis: u32,
        sorry: bool,
        on_fail: PlanRealServerOnFail,
    ) -> PlanVirtualServer {
        PlanVirtualServer {
            name: "web".into(),
            family: Family::Ipv4,
            protocol: Some(PlanProtocol::Tcp),
            address: Some(IpAddr::from([10, 0, 0, 1])),
            port: Some(80),
            fwmark: None,
            scheduler: vigil_schema::ipvs::Scheduler::Wlc,
            scheduler_flags: vec![],
            method: PlanMethod::Dr,
            persistence_timeout_s: 0,
            persistence_prefix_len: 32,
            quorum,
            hysteresis,
            sorry_server: sorry.then(|| rs(99, 1)),
            on_fail,
            only_on_master_of: None,
            keep_on_stop: false,
            health: Some(PlanHealth {
                interval_ms: 1000,
                timeout_ms: 500,
                rise: 2,
                fall: 2,
                warmup_ms: 0,
                check: PlanCheck::Tcp { port: None },
            }),
            real_servers: weights
                .iter()
                .enumerate()
                .map(|(i, w)| rs(i as u8 + 1, *w))
                .collect(),
        }
    }

    /// Drives a scheduler with `(ms, input)` steps and renders every action
    /// as one line, so expectations read like a log.
    struct Run {
        s: Scheduler,
        t0: Instant,
        log: Vec<String>,
    }

    impl Run {
        fn new(vss: &[PlanVirtualServer]) -> Self {
            // Any origin: the scheduler only compares and adds.
            let t0 = Instant::from_micros(7_000_000);
            let (s, errors) = Scheduler::new(vss, t0);
            assert!(errors.is_empty(), "{errors:?}");
            Run {
                s,
                t0,
                log: Vec::new(),
            }
        }

        fn at(&mut self, ms: u64, input: Input) -> &mut Self {
            let now = self.t0 + Duration::from_millis(ms);
            let actions = self.s.step(input, now);
            self.render(ms, actions);
            self
        }

        /// A plan reload at `ms`: the scheduler is rebuilt from the old one.
        fn reload(&mut self, ms: u64, vss: &[PlanVirtualServer]) -> &mut Self {
            let now = self.t0 + Duration::from_millis(ms);
            let (s, errors, actions) = Scheduler::carry_over(&self.s, vss, now);
            assert!(errors.is_empty(), "{errors:?}");
            self.s = s;
            self.render(ms, actions);
            self
        }

        fn render(&mut self, ms: u64, actions: Vec<Action>) {
            for a in actions {
                let line = match a {
                    Action::StartCheck { rs, deadline, .. } => {
                        format!(
                            "start {}/{} until {}",
                            rs.vs,
                            rs.rs,
                            deadline.saturating_since(self.t0).as_millis()
                        )
                    }
                    Action::AbortCheck { rs } => format!("abort {}/{}", rs.vs, rs.rs),
                    Action::SetWeight { rs, weight } => {
                        format!("weight {}/{} = {weight}", rs.vs, rs.rs)
                    }
                    Action::AddDest { rs } => format!("add {}/{}", rs.vs, rs.rs),
                    Action::RemoveDest { rs } => format!("remove {}/{}", rs.vs, rs.rs),
                    Action::UseSorryServer { vs, active } => {
                        format!("sorry {vs} {}", if active { "on" } else { "off" })
                    }
                    Action::Log(e) => format!("log {e}"),
                };
                self.log.push(format!("{ms}: {line}"));
            }
        }

        fn tick(&mut self, ms: u64) -> &mut Self {
            self.at(ms, Input::Tick)
        }

        fn ok(&mut self, ms: u64, rs: usize) -> &mut Self {
            self.at(
                ms,
                Input::CheckDone {
                    rs: RsId { vs: 0, rs },
                    result: Ok(()),
                },
            )
        }

        fn fail(&mut self, ms: u64, rs: usize) -> &mut Self {
            self.at(
                ms,
                Input::CheckDone {
                    rs: RsId { vs: 0, rs },
                    result: Err("connection refused".into()),
                },
            )
        }

        fn take(&mut self) -> Vec<String> {
            std::mem::take(&mut self.log)
        }
    }

    #[test]
    fn checks_are_serial_and_spaced_by_interval() {
        let mut r = Run::new(&[vs(&[1], 1, 0, false, PlanRealServerOnFail::Inhibit)]);
        assert_eq!(r.s.next_deadline(), Some(r.t0));
        r.tick(0).tick(100).ok(200, 0).tick(1100).tick(1200);
        assert_eq!(
            r.take(),
            vec!["0: start 0/0 until 500", "1200: start 0/0 until 1700"]
        );
        assert_eq!(
            r.s.next_deadline(),
            Some(r.t0 + Duration::from_millis(1700))
        );
    }

    #[test]
    fn warmup_spreads_first_checks() {
        let mut v = vs(&[1, 1, 1], 1, 0, false, PlanRealServerOnFail::Inhibit);
        v.health.as_mut().unwrap().warmup_ms = 3000;
        let mut r = Run::new(&[v]);
        r.tick(0)
            .ok(1, 0)
            .tick(999)
            .tick(1000)
            .ok(1001, 1)
            .tick(2000);
        assert_eq!(
            r.take(),
            vec![
                "0: start 0/0 until 500",
                "1000: start 0/1 until 1500",
                "2000: start 0/0 until 2500",
                "2000: start 0/2 until 2500",
            ]
        );
    }

    #[test]
    fn fall_then_rise_with_inhibit() {
        let mut r = Run::new(&[vs(&[5], 1, 0, false, PlanRealServerOnFail::Inhibit)]);
        r.tick(0)
            .fail(10, 0)
            .tick(1010)
            .ok(1020, 0)
            .tick(2020)
            .fail(2030, 0)
            .tick(3030)
            .fail(3040, 0);
        assert_eq!(
            r.take(),
            vec![
                "0: start 0/0 until 500",
                "1010: start 0/0 until 1510",
                "2020: start 0/0 until 2520",
                "3030: start 0/0 until 3530",
                "3040: log virtual server web: real server 10.0.1.1:80 down (connection refused)",
                "3040: weight 0/0 = 0",
                "3040: log virtual server web: quorum lost (alive weight 0 < quorum 1)",
            ],
            "one success in between resets the failure count"
        );
        assert_eq!(
            r.s.effective_dests(0),
            vec![EffectiveDest { rs: 0, weight: 0 }]
        );
        r.tick(4040).ok(4050, 0).tick(5050).ok(5060, 0);
        assert_eq!(
            r.take(),
            vec![
                "4040: start 0/0 until 4540",
                "5050: start 0/0 until 5550",
                "5060: log virtual server web: real server 10.0.1.1:80 up",
                "5060: weight 0/0 = 5",
                "5060: log virtual server web: quorum regained (alive weight 5, quorum 1)",
            ]
        );
        assert_eq!(r.s.is_up(RsId { vs: 0, rs: 0 }), Some(true));
    }

    #[test]
    fn timeout_aborts_counts_as_failure_and_ignores_late_result() {
        let mut r = Run::new(&[vs(&[1, 1], 1, 0, false, PlanRealServerOnFail::Remove)]);
        r.tick(0)
            .ok(5, 1)
            .tick(500)
            .ok(501, 0)
            .tick(1500)
            .tick(2000);
        assert_eq!(
            r.take(),
            vec![
                "0: start 0/0 until 500",
                "0: start 0/1 until 500",
                "500: abort 0/0",
                "1500: start 0/0 until 2000",
                "1500: start 0/1 until 2000",
                "2000: abort 0/0",
                "2000: log virtual server web: real server 10.0.1.1:80 down (no answer within 500 ms)",
                "2000: remove 0/0",
                "2000: abort 0/1",
            ]
        );
        assert_eq!(
            r.s.effective_dests(0),
            vec![EffectiveDest { rs: 1, weight: 1 }]
        );
        // An unknown real server is ignored, not a panic.
        r.at(
            2100,
            Input::CheckDone {
                rs: RsId { vs: 3, rs: 0 },
                result: Ok(()),
            },
        );
        assert!(r.take().is_empty());
    }

    #[test]
    fn quorum_loss_switches_to_sorry_server_and_back() {
        let mut v = vs(&[1, 1, 1], 2, 0, true, PlanRealServerOnFail::Inhibit);
        v.health.as_mut().unwrap().fall = 1;
        let mut r = Run::new(&[v]);
        r.tick(0).fail(1, 0).fail(2, 1).ok(3, 2);
        assert_eq!(
            r.take()[3..],
            [
                "1: log virtual server web: real server 10.0.1.1:80 down (connection refused)",
                "1: weight 0/0 = 0",
                "2: log virtual server web: real server 10.0.1.2:80 down (connection refused)",
                "2: weight 0/1 = 0",
                "2: log virtual server web: quorum lost (alive weight 1 < quorum 2)",
                "2: sorry 0 on",
                "2: weight 0/2 = 0",
            ]
        );
        assert!(r.s.sorry_active(0));
        assert_eq!(
            r.s.effective_dests(0)
                .iter()
                .map(|d| d.weight)
                .collect::<Vec<_>>(),
            vec![0, 0, 0]
        );
        // rs0 recovers (rise 2): alive 2 >= 2, real servers first, then the sorry server goes.
        r.tick(1001).ok(1002, 0).tick(2002).ok(2003, 0);
        assert_eq!(
            r.take(),
            [
                "1001: start 0/0 until 1501",
                "2002: start 0/0 until 2502",
                "2002: start 0/1 until 2502",
                "2002: start 0/2 until 2502",
                "2003: log virtual server web: real server 10.0.1.1:80 up",
                "2003: log virtual server web: quorum regained (alive weight 2, quorum 2)",
                "2003: weight 0/0 = 1",
                "2003: weight 0/2 = 1",
                "2003: sorry 0 off",
            ]
        );
        assert!(!r.s.sorry_active(0));
    }

    #[test]
    fn hysteresis_widens_both_thresholds() {
        // quorum 2, hysteresis 1: lost below 1 (i.e. at 0), regained at 3.
        let mut v = vs(&[1, 1, 1], 2, 1, true, PlanRealServerOnFail::Remove);
        v.health.as_mut().unwrap().fall = 1;
        v.health.as_mut().unwrap().rise = 1;
        let mut r = Run::new(&[v]);
        r.tick(0).fail(1, 0).fail(1, 1);
        assert!(
            !r.s.sorry_active(0),
            "alive 1 is not below quorum - hysteresis"
        );
        r.fail(2, 2);
        assert!(r.s.sorry_active(0));
        assert!(
            r.s.effective_dests(0).is_empty(),
            "remove mode: only the sorry server"
        );
        r.tick(1002).ok(1003, 0).ok(1003, 1);
        assert!(r.s.sorry_active(0), "alive 2 < quorum + hysteresis");
        r.ok(1004, 2);
        assert!(!r.s.sorry_active(0));
        let log = r.take();
        let tail: Vec<&str> = log
            .iter()
            .map(String::as_str)
            .skip_while(|l| !l.contains("quorum regained"))
            .collect();
        assert_eq!(
            tail,
            vec![
                "1004: log virtual server web: quorum regained (alive weight 3, quorum 2)",
                "1004: add 0/0",
                "1004: add 0/1",
                "1004: add 0/2",
                "1004: sorry 0 off",
            ]
        );
    }

    #[test]
    fn real_server_changes_while_on_sorry_server_touch_nothing_in_ipvs() {
        let mut v = vs(&[1, 1], 2, 0, true, PlanRealServerOnFail::Inhibit);
        v.health.as_mut().unwrap().fall = 1;
        v.health.as_mut().unwrap().rise = 1;
        let mut r = Run::new(&[v]);
        r.tick(0).fail(1, 0);
        assert!(r.s.sorry_active(0));
        r.take();
        r.fail(2, 1);
        assert_eq!(
            r.take(),
            vec!["2: log virtual server web: real server 10.0.1.2:80 down (connection refused)"]
        );
    }

    const RS0: RsId = RsId { vs: 0, rs: 0 };
    const RS1: RsId = RsId { vs: 0, rs: 1 };
    const RS2: RsId = RsId { vs: 0, rs: 2 };

    /// rs0 (10.0.1.1) DOWN after two failures, rs1 (10.0.1.2) checked
    /// once OK and its second check running until 1510.
    fn one_down_one_running() -> (Run, PlanVirtualServer) {
        let v = vs(&[1, 1], 1, 0, false, PlanRealServerOnFail::Inhibit);
        let mut r = Run::new(std::slice::from_ref(&v));
        r.tick(0).fail(10, 0).ok(10, 1).tick(1010).fail(1020, 0);
        assert_eq!(r.s.is_up(RS0), Some(false));
        assert!(r.s.is_running(RS1));
        r.take();
        (r, v)
    }

    #[test]
    fn reload_keeps_a_down_server_down_and_a_running_check_running() {
        let (mut r, mut v) = one_down_one_running();
        v.real_servers.push(rs(3, 1)); // a new real server at the end
        v.real_servers[1].weight = 4; // weights are not part of the check
        r.reload(1030, std::slice::from_ref(&v));
        assert!(r.take().is_empty(), "nothing aborted, no quorum change");
        assert_eq!(r.s.is_up(RS0), Some(false), "still down: no weight back");
        assert_eq!(
            r.s.effective_dests(0),
            vec![
                EffectiveDest { rs: 0, weight: 0 },
                EffectiveDest { rs: 1, weight: 4 },
                EffectiveDest { rs: 2, weight: 1 },
            ]
        );
        assert!(r.s.is_running(RS1), "the running check keeps running");
        // Only the new server starts now; rs0 keeps its slot at 2020.
        r.tick(1040);
        assert_eq!(r.take(), vec!["1040: start 0/2 until 1540"]);
        r.ok(1050, 1).ok(1050, 2);
        assert!(!r.s.is_running(RS1), "its result was taken");
        assert_eq!(
            r.s.next_deadline(),
            Some(r.t0 + Duration::from_millis(2020))
        );
        // rs0 comes back after `rise` (2) successes, as without the reload.
        r.tick(2020).ok(2030, 0).tick(3030).ok(3040, 0);
        assert_eq!(
            r.take(),
            vec![
                "2020: start 0/0 until 2520",
                "3030: start 0/0 until 3530",
                "3030: start 0/1 until 3530",
                "3030: start 0/2 until 3530",
                "3040: log virtual server web: real server 10.0.1.1:80 up",
                "3040: weight 0/0 = 1",
            ]
        );
    }

    #[test]
    fn reload_keeps_streaks() {
        let v = vs(&[1], 1, 0, false, PlanRealServerOnFail::Inhibit);
        let mut r = Run::new(std::slice::from_ref(&v));
        r.tick(0).fail(10, 0); // one failure of fall 2
        r.reload(20, std::slice::from_ref(&v));
        r.tick(1010).fail(1020, 0);
        assert_eq!(
            r.take()[1..],
            [
                "1010: start 0/0 until 1510",
                "1020: log virtual server web: real server 10.0.1.1:80 down (connection refused)",
                "1020: weight 0/0 = 0",
                "1020: log virtual server web: quorum lost (alive weight 0 < quorum 1)",
            ],
            "the failure before the reload counts"
        );
    }

    #[test]
    fn reload_restarts_moved_checks_and_forgets_changed_ones() {
        let (mut r, v) = one_down_one_running();
        // A server inserted first: 10.0.1.1 is now 0/1, 10.0.1.2 is 0/2.
        let mut moved = v.clone();
        moved.real_servers.insert(0, rs(9, 1));
        r.reload(1030, std::slice::from_ref(&moved));
        assert_eq!(r.take(), vec!["1030: abort 0/1"], "old id of 10.0.1.2");
        assert_eq!(r.s.is_up(RS1), Some(false), "10.0.1.1 is still down");
        assert_eq!(r.s.is_up(RS0), Some(true), "the new one starts up");
        r.tick(1030);
        assert_eq!(
            r.take(),
            vec!["1030: start 0/0 until 1530", "1030: start 0/2 until 1530"],
            "the new server and the moved running check start at once"
        );
        // Another interval: the check changed, so everything starts fresh.
        let mut slower = moved.clone();
        slower.health.as_mut().unwrap().interval_ms = 2000;
        r.reload(1040, std::slice::from_ref(&slower));
        assert_eq!(r.take(), vec!["1040: abort 0/0", "1040: abort 0/2"]);
        assert_eq!(r.s.is_up(RS1), Some(true), "fresh: up again");
        assert!(r.s.running().is_empty());
        // Same for a changed check kind or a changed port of one server.
        let (mut r, mut v) = one_down_one_running();
        v.real_servers[0].port = 8080;
        r.reload(1030, std::slice::from_ref(&v));
        assert_eq!(r.s.is_up(RS0), Some(true), "another port: another server");
        assert!(r.s.is_running(RS1));
        let (mut r, mut v) = one_down_one_running();
        v.health.as_mut().unwrap().check = PlanCheck::Tcp { port: Some(81) };
        r.reload(1030, std::slice::from_ref(&v));
        assert_eq!(r.take(), vec!["1030: abort 0/1"]);
        assert_eq!(r.s.is_up(RS0), Some(true));
    }

    #[test]
    fn reload_keeps_quorum_state_and_logs_its_transitions() {
        let mut v = vs(&[1, 1, 1], 2, 0, true, PlanRealServerOnFail::Inhibit);
        v.health.as_mut().unwrap().fall = 1;
        let mut r = Run::new(std::slice::from_ref(&v));
        r.tick(0).fail(1, 0).fail(2, 1);
        assert!(r.s.sorry_active(0));
        r.take();
        r.reload(3, std::slice::from_ref(&v));
        assert!(r.take().is_empty(), "same plan: no transition");
        assert!(r.s.sorry_active(0), "still on the sorry server");
        assert!(r.s.is_running(RS2), "0/2 still checking");
        v.quorum = 1;
        r.reload(4, std::slice::from_ref(&v));
        assert_eq!(
            r.take(),
            vec!["4: log virtual server web: quorum regained (alive weight 1, quorum 1)"],
            "no IPVS action: the caller reconciles"
        );
        assert!(!r.s.sorry_active(0));
        // A renamed virtual server is another one: fresh.
        v.name = "www".into();
        v.quorum = 2;
        r.reload(5, std::slice::from_ref(&v));
        assert_eq!(r.take(), vec!["5: abort 0/2"]);
        assert!(!r.s.sorry_active(0));
        assert_eq!(r.s.is_up(RS0), Some(true));
    }

    #[test]
    fn unchecked_virtual_server_never_schedules() {
        let mut v = vs(&[1, 2], 1, 0, false, PlanRealServerOnFail::Inhibit);
        v.health = None;
        let mut r = Run::new(&[v]);
        assert_eq!(r.s.next_deadline(), None);
        r.tick(0).ok(1, 0);
        assert!(r.take().is_empty());
        assert_eq!(r.s.effective_dests(0).len(), 2);
    }

    #[test]
    fn initial_quorum_from_plan_weights() {
        let (s, _) = Scheduler::new(
            &[vs(&[1], 5, 0, true, PlanRealServerOnFail::Inhibit)],
            Instant::ZERO,
        );
        assert!(
            s.sorry_active(0),
            "total weight below quorum: sorry server from the start"
        );
    }

    #[test]
    fn resolving_checks() {
        let a: IpAddr = "10.0.1.1".parse().unwrap();
        let http = |host: Option<&str>, port: Option<u16>, sha: Option<&str>| PlanCheck::Http {
            port,
            path: "/health".into(),
            host: host.map(String::from),
            status_min: 200,
            status_max: 299,
            body_sha256: sha.map(String::from),
        };
        let CheckKind::Http(h) = resolve_check(&http(None, None, None), a, 80).unwrap() else {
            panic!()
        };
        assert_eq!((h.host.as_str(), h.addr.port()), ("10.0.1.1", 80));
        let CheckKind::Http(h) = resolve_check(&http(None, Some(8080), None), a, 80).unwrap()
        else {
            panic!()
        };
        assert_eq!(h.host, "10.0.1.1:8080");
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let CheckKind::Http(h) =
            resolve_check(&http(Some("example.org"), None, None), v6, 80).unwrap()
        else {
            panic!()
        };
        assert_eq!(h.host, "example.org");
        let CheckKind::Http(h) = resolve_check(&http(None, None, None), v6, 443).unwrap() else {
            panic!()
        };
        assert_eq!(h.host, "[2001:db8::1]:443");
        let e = resolve_check(&http(None, None, Some("nothex")), a, 80).unwrap_err();
        assert!(e.contains("64 hex"), "{e}");
        assert_eq!(
            resolve_check(&PlanCheck::Tcp { port: Some(22) }, a, 80).unwrap(),
            CheckKind::Tcp {
                addr: "10.0.1.1:22".parse().unwrap()
            }
        );
        let CheckKind::Command { env, .. } = resolve_check(
            &PlanCheck::Command {
                command: vec!["/bin/true".into()],
            },
            a,
            80,
        )
        .unwrap() else {
            panic!()
        };
        assert!(env.contains(&("VIGIL_RS_ADDRESS".to_string(), "10.0.1.1".to_string())));
        assert!(resolve_check(&PlanCheck::Command { command: vec![] }, a, 80).is_err());
    }

    #[test]
    fn bad_check_is_reported_and_left_unchecked() {
        let mut v = vs(&[1, 1], 1, 0, false, PlanRealServerOnFail::Inhibit);
        v.health.as_mut().unwrap().check = PlanCheck::Command { command: vec![] };
        let (s, errors) = Scheduler::new(&[v], Instant::ZERO);
        assert_eq!(
            errors,
            vec!["virtual server `web`: empty check command; not health-checked"]
        );
        assert_eq!(s.next_deadline(), None);
    }
}
