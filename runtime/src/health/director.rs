//! The director: IPVS programming and real-server health checks as one
//! component the event loop drives with a handful of calls.
//!
//! It owns the IPVS socket, the sans-IO [`Scheduler`], the running
//! [`Probe`]s and the [`Ownership`] of kernel entries. The loop:
//! * creates it with [`Director::start`] when the plan has virtual servers
//!   (this probes IPVS and programs the initial state);
//! * arms a timer for [`Director::next_deadline`] and calls
//!   [`Director::on_timer`] when it passes;
//! * gives every mio event whose token is `>= FIRST_PROBE_TOKEN` to
//!   [`Director::on_event`];
//! * reports mastership changes with [`Director::set_master`] (virtual
//!   servers with `only_on_master_of`), plan reloads with
//!   [`Director::reload`], and calls [`Director::shutdown`] on exit.
//!
//! Kernel operations are local netlink calls answered inside `sendmsg`, so
//! applying them from the loop never waits on the network.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mio::{Interest, Registry, Token};
use serde::Serialize;
use serde_json::json;
use vigil_schema::plan::PlanVirtualServer;

use super::probe::Probe;
use super::scheduler::{Action, Input, RsId, Scheduler};
use super::to_ipvs::{action_ops, desired_with_health};
use crate::ipvs::client::{IpvsClient, IpvsError};
use crate::ipvs::messages::Info;
use crate::ipvs::reconcile::{Op, Ownership, Presence, reconcile, service_key};
use crate::log;
use crate::vrrp::Instant;

/// Probe sockets use tokens from here up; the loop keeps its own below.
pub const FIRST_PROBE_TOKEN: usize = 1 << 24;
/// How often running command checks are polled (`waitpid(WNOHANG)`).
pub const COMMAND_POLL: Duration = Duration::from_millis(50);

/// Counters for the status dump.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DirectorCounters {
    pub checks_started: u64,
    pub checks_failed: u64,
    pub checks_timed_out: u64,
    pub ipvs_ops: u64,
    pub ipvs_errors: u64,
    pub syncs: u64,
}

#[derive(Debug)]
struct Running {
    probe: Probe,
    token: Option<Token>,
}

/// IPVS + health checks for one plan.
#[derive(Debug)]
pub struct Director {
    vss: Vec<PlanVirtualServer>,
    plan_hash: String,
    client: IpvsClient,
    info: Info,
    sched: Scheduler,
    owned: Ownership,
    masters: BTreeSet<String>,
    running: BTreeMap<RsId, Running>,
    tokens: BTreeMap<Token, RsId>,
    next_token: usize,
    next_command_poll: Option<Instant>,
    /// The wall of the public API: callers pass `std::time::Instant`, the
    /// scheduler runs on [`Instant`] (microseconds since `origin`).
    origin: std::time::Instant,
    pub counters: DirectorCounters,
}

impl Director {
    /// Probes IPVS (clear error when the kernel has none), builds the
    /// scheduler and programs the initial state.
    pub fn start(
        vss: Vec<PlanVirtualServer>,
        plan_hash: &str,
        now: std::time::Instant,
    ) -> Result<Director, IpvsError> {
        let (client, info) = IpvsClient::probe()?;
        let origin = now;
        let (sched, errors) = Scheduler::new(&vss, Instant::ZERO);
        let mut d = Director {
            vss,
            plan_hash: plan_hash.to_string(),
            client,
            info,
            sched,
            owned: Ownership::default(),
            masters: BTreeSet::new(),
            running: BTreeMap::new(),
            tokens: BTreeMap::new(),
            next_token: FIRST_PROBE_TOKEN,
            next_command_poll: None,
            origin,
            counters: DirectorCounters::default(),
        };
        d.log(
            "ipvs_ready",
            json!({"version": format!("{}.{}.{}", info.version >> 16, (info.version >> 8) & 0xff, info.version & 0xff)}),
        );
        for e in errors {
            d.log("health_config_error", json!({"error": e}));
        }
        d.sync()?;
        Ok(d)
    }

    /// The kernel's IPVS version, from the startup probe.
    pub fn info(&self) -> Info {
        self.info
    }

    fn log(&self, event: &str, fields: serde_json::Value) {
        log::event(event, &self.plan_hash, fields);
    }

    fn presence(&self, vs: &PlanVirtualServer) -> Presence {
        match &vs.only_on_master_of {
            Some(router) if !self.masters.contains(router) => Presence::Inactive,
            _ => Presence::Active,
        }
    }

    /// Full reconciliation: dump, diff against plan + health, apply.
    pub fn sync(&mut self) -> Result<(), IpvsError> {
        self.counters.syncs += 1;
        let (desired, errors) = desired_with_health(&self.vss, &self.sched, |vs| self.presence(vs));
        for e in &errors {
            self.log(
                "ipvs_plan_error",
                json!({"virtual_server": e.virtual_server, "error": e.problem}),
            );
        }
        let current = self.client.dump()?;
        let r = reconcile(&desired, &current, &self.owned);
        for note in &r.notes {
            self.log("ipvs_note", json!({"note": note.to_string()}));
        }
        self.apply(&r.ops);
        self.owned = r.owned;
        Ok(())
    }

    fn apply(&mut self, ops: &[Op]) {
        if ops.is_empty() {
            return;
        }
        let results = self.client.apply_all(ops);
        for (op, res) in ops.iter().zip(results) {
            self.counters.ipvs_ops += 1;
            match res {
                Ok(()) => self.log("ipvs_op", json!({"op": op.to_string()})),
                Err(e) => {
                    self.counters.ipvs_errors += 1;
                    self.log(
                        "ipvs_error",
                        json!({"op": op.to_string(), "error": e.to_string()}),
                    );
                }
            }
        }
    }

    /// The scheduler's time for a caller's `std::time::Instant`.
    fn at(&self, now: std::time::Instant) -> Instant {
        let us = now.saturating_duration_since(self.origin).as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// When [`Director::on_timer`] must run next.
    pub fn next_deadline(&self) -> Option<std::time::Instant> {
        let next = match (self.sched.next_deadline(), self.next_command_poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }?;
        Some(self.origin + next.saturating_since(Instant::ZERO))
    }

    /// Timer expiry: poll running commands, start due checks, expire late ones.
    pub fn on_timer(&mut self, registry: &Registry, now: std::time::Instant) {
        let now = self.at(now);
        let commands: Vec<RsId> = self
            .running
            .iter()
            .filter(|(_, r)| r.token.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in commands {
            self.poll_probe(registry, id, now);
        }
        let actions = self.sched.step(Input::Tick, now);
        self.handle(registry, actions, now);
        self.update_command_poll(now);
    }

    /// A mio event; returns false when the token is not the director's.
    pub fn on_event(&mut self, registry: &Registry, token: Token, now: std::time::Instant) -> bool {
        let now = self.at(now);
        let Some(id) = self.tokens.get(&token).copied() else {
            return false;
        };
        self.poll_probe(registry, id, now);
        self.update_command_poll(now);
        true
    }

    fn poll_probe(&mut self, registry: &Registry, id: RsId, now: Instant) {
        let Some(running) = self.running.get_mut(&id) else {
            return;
        };
        let std::task::Poll::Ready(result) = running.probe.poll() else {
            return;
        };
        self.finish_probe(registry, id);
        if result.is_err() {
            self.counters.checks_failed += 1;
        }
        let actions = self.sched.step(Input::CheckDone { rs: id, result }, now);
        self.handle(registry, actions, now);
    }

    fn finish_probe(&mut self, registry: &Registry, id: RsId) -> Option<Probe> {
        let mut running = self.running.remove(&id)?;
        if let Some(token) = running.token.take() {
            self.tokens.remove(&token);
            if let Some(src) = running.probe.source() {
                let _ = registry.deregister(src);
            }
        }
        Some(running.probe)
    }

    fn update_command_poll(&mut self, now: Instant) {
        let any_command = self.running.values().any(|r| r.token.is_none());
        self.next_command_poll = any_command.then(|| now + COMMAND_POLL);
    }

    fn handle(&mut self, registry: &Registry, actions: Vec<Action>, now: Instant) {
        let mut queue: std::collections::VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match &action {
                Action::StartCheck { rs, kind, .. } => {
                    self.counters.checks_started += 1;
                    match Probe::start(kind) {
                        Ok(mut probe) => {
                            let mut token = None;
                            if let Some(src) = probe.source() {
                                let t = Token(self.next_token);
                                self.next_token =
                                    self.next_token.wrapping_add(1).max(FIRST_PROBE_TOKEN);
                                match registry.register(
                                    src,
                                    t,
                                    Interest::READABLE | Interest::WRITABLE,
                                ) {
                                    Ok(()) => token = Some(t),
                                    Err(e) => {
                                        let input = Input::CheckDone {
                                            rs: *rs,
                                            result: Err(format!("register: {e}")),
                                        };
                                        queue.extend(self.sched.step(input, now));
                                        continue;
                                    }
                                }
                            }
                            if let Some(t) = token {
                                self.tokens.insert(t, *rs);
                            }
                            self.running.insert(*rs, Running { probe, token });
                        }
                        Err(reason) => {
                            self.counters.checks_failed += 1;
                            queue.extend(self.sched.step(
                                Input::CheckDone {
                                    rs: *rs,
                                    result: Err(reason),
                                },
                                now,
                            ));
                        }
                    }
                }
                Action::AbortCheck { rs } => {
                    self.counters.checks_timed_out += 1;
                    if let Some(probe) = self.finish_probe(registry, *rs) {
                        probe.abort();
                    }
                }
                Action::Log(event) => {
                    let mut fields = serde_json::to_value(event).unwrap_or_default();
                    if let Some(map) = fields.as_object_mut() {
                        map.insert("message".into(), event.to_string().into());
                    }
                    self.log("health", fields)
                }
                Action::SetWeight { rs, .. }
                | Action::AddDest { rs }
                | Action::RemoveDest { rs } => {
                    self.apply_if_present(rs.vs, &action);
                }
                Action::UseSorryServer { vs, .. } => self.apply_if_present(*vs, &action),
            }
        }
    }

    fn apply_if_present(&mut self, vs: usize, action: &Action) {
        let Some(plan_vs) = self.vss.get(vs) else {
            return;
        };
        if self.presence(plan_vs) != Presence::Active {
            return; // not programmed now; the next sync uses the current health view
        }
        let ops = action_ops(action, &self.vss);
        if let Ok(key) = service_key(plan_vs) {
            for op in &ops {
                match op {
                    Op::NewDest(_, d) => {
                        self.owned.dests.insert((key, d.key));
                    }
                    Op::DelDest(_, dk) => {
                        self.owned.dests.remove(&(key, *dk));
                    }
                    _ => {}
                }
            }
        }
        self.apply(&ops);
    }

    /// Mastership of `router` changed; re-syncs when a virtual server
    /// depends on it.
    pub fn set_master(&mut self, router: &str, is_master: bool) -> Result<(), IpvsError> {
        let changed = if is_master {
            self.masters.insert(router.to_string())
        } else {
            self.masters.remove(router)
        };
        if changed
            && self
                .vss
                .iter()
                .any(|v| v.only_on_master_of.as_deref() == Some(router))
        {
            self.sync()?;
        }
        Ok(())
    }

    /// The hash logged with every event; a reload brings a new plan, whose
    /// hash the director's events must carry from then on.
    pub fn set_plan_hash(&mut self, plan_hash: &str) {
        self.plan_hash = plan_hash.to_string();
    }

    /// A new plan: health state restarts (real servers start up again),
    /// running checks are aborted, and the kernel is reconciled; services
    /// this process created that the new plan drops are deleted.
    pub fn reload(
        &mut self,
        registry: &Registry,
        vss: Vec<PlanVirtualServer>,
        now: std::time::Instant,
    ) -> Result<(), IpvsError> {
        let now = self.at(now);
        self.abort_all(registry);
        let (sched, errors) = Scheduler::new(&vss, now);
        for e in errors {
            self.log("health_config_error", json!({"error": e}));
        }
        self.vss = vss;
        self.sched = sched;
        self.sync()
    }

    fn abort_all(&mut self, registry: &Registry) {
        let ids: Vec<RsId> = self.running.keys().copied().collect();
        for id in ids {
            if let Some(p) = self.finish_probe(registry, id) {
                p.abort();
            }
        }
        self.next_command_poll = None;
    }

    /// Stop: abort checks and delete the services this process owns unless
    /// their virtual server says `keep_on_stop`.
    pub fn shutdown(&mut self, registry: &Registry) {
        self.abort_all(registry);
        let keep: BTreeSet<_> = self
            .vss
            .iter()
            .filter(|v| v.keep_on_stop)
            .filter_map(|v| service_key(v).ok())
            .collect();
        let current: BTreeSet<_> = match self.client.services() {
            Ok(s) => s.into_iter().map(|s| s.key).collect(),
            Err(e) => {
                self.log(
                    "ipvs_error",
                    json!({"op": "dump at shutdown", "error": e.to_string()}),
                );
                return;
            }
        };
        let ops: Vec<Op> = self
            .owned
            .services
            .iter()
            .filter(|k| !keep.contains(k) && current.contains(k))
            .map(|k| Op::DelService(*k))
            .collect();
        self.apply(&ops);
        self.owned = Ownership::default();
    }

    /// The scheduler's view, for status dumps and tests.
    pub fn scheduler(&self) -> &Scheduler {
        &self.sched
    }

    /// The entries this process owns.
    pub fn owned(&self) -> &Ownership {
        &self.owned
    }
}
