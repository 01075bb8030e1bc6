//! The director core: IPVS programming and real-server health checks as one
//! sans-IO part of the node, `(state, event, now) -> commands`. It opens no
//! socket, reads no clock and starts no process; the shell's executor
//! (`health::executor`) runs the probes and talks to the kernel.
//!
//! # What it owns
//! * the plan's virtual servers;
//! * the health [`Scheduler`] (rise/fall, timeouts, quorum, sorry server);
//! * the IPVS [`Ownership`]: what this daemon created, seeded at start from
//!   the ledger the previous run persisted (see `ipvs::reconcile` for the
//!   ownership rules: a service on a planned key that is not owned is
//!   foreign and never touched);
//! * the [`Role`] of every router an `only_on_master_of` service follows.
//!
//! # How the node drives it
//! * [`DirectorCore::new`]`(vss, owned_from_ledger, now)` once; it asks for
//!   a dump ([`Command::IpvsDump`]) to reconcile.
//! * [`DirectorCore::on_ipvs_dumped`] with every [`Event::IpvsDumped`]
//!   (`super::Event`): the whole table is reconciled against the plan, the
//!   health view and the routers' roles ([`Command::IpvsApply`] + one
//!   `ipvs_op` log per operation, one `ipvs_note` log per new note).
//! * [`DirectorCore::on_probe_done`] with every [`Event::ProbeDone`](super::Event).
//! * [`DirectorCore::set_master`]`(router, state, now)` on every state change
//!   of every router. [`State::Initialize`] means "not decided yet": the
//!   services that follow the router are held as they are (a restarted
//!   master must not delete them first); Master programs them; Backup and
//!   Fault remove them. A router starts in Backup and becomes master only
//!   after the master-down interval, so the node reports Initialize until
//!   it hears a master it defers to (`Member::director_state`). A change
//!   that matters asks for a dump; the reconciliation happens on the answer.
//! * [`DirectorCore::tick`] once `now` reaches [`DirectorCore::next_deadline`].
//! * [`DirectorCore::reload`] with the new plan's virtual servers: health
//!   survives for real servers whose check did not change
//!   ([`Scheduler::carry_over`]), then a dump reconciles the table.
//! * [`DirectorCore::shutdown`] once; afterwards every input is ignored.
//! * After any call, persist [`DirectorCore::ownership`] in the ledger when
//!   it changed.
//!
//! # Rules that live here
//! * **Two ways to the kernel.** A full reconciliation on each dump answer;
//!   between them, health changes become incremental operations
//!   ([`to_ipvs::action_ops`](crate::health::to_ipvs::action_ops)). Those are
//!   emitted only while the table is in sync (no dump pending or failed),
//!   for a service that is active, programmable and owned; otherwise the
//!   next reconciliation carries the health view. So operations never race
//!   a dump: the kernel the answer describes is the kernel the
//!   reconciliation changes.
//! * **Dumps** are coalesced (one in flight). A failed dump is retried after
//!   [`DUMP_RETRY`], doubling while they keep failing (up to
//!   [`DUMP_RETRY_MAX`]); one unanswered for [`DUMP_ANSWER_TIMEOUT`] is asked
//!   again. Answers nobody waits for are counted and ignored.
//! * **Notes** (a foreign service on a planned key, a foreign destination, a
//!   duplicate plan key) are logged when they appear, not on every pass.
//! * **Shutdown** decides from ownership, without a dump: abort every
//!   running check, delete every owned service whose virtual server does
//!   not say `keep_on_stop`. The kept ones stay owned, so the ledger lets
//!   the next run re-adopt them. (An owned service someone else deleted
//!   meanwhile makes the kernel answer "no such service"; the executor
//!   reports it.)
//! * **Plan errors** (unknown scheduler, ...) are logged when the plan is
//!   loaded; such a service is held as it is, never changed incrementally.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use vigil_schema::plan::PlanVirtualServer;

use super::Command;
use crate::health::scheduler::{Action, HealthEvent, Input, RsId, Scheduler};
use crate::health::to_ipvs::{action_ops, desired_with_health};
use crate::ipvs::reconcile::{
    KernelService, Note, Op, Ownership, Presence, desired_from_plan, reconcile, service_key,
};
use crate::vrrp::{Instant, State};

/// After a failed dump, ask again this much later; the delay doubles with
/// each failure in a row, up to [`DUMP_RETRY_MAX`].
pub const DUMP_RETRY: Duration = Duration::from_secs(1);
pub const DUMP_RETRY_MAX: Duration = Duration::from_secs(60);
/// A dump not answered within this is asked again.
pub const DUMP_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What a router's state means for the services that follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Not decided yet (Initialize, or never reported): hold.
    Undecided,
    Master,
    /// Backup or Fault.
    NotMaster,
}

impl Role {
    pub fn of(state: State) -> Role {
        match state {
            State::Initialize => Role::Undecided,
            State::Master => Role::Master,
            State::Backup | State::Fault => Role::NotMaster,
        }
    }

    fn presence(self) -> Presence {
        match self {
            Role::Undecided => Presence::Hold,
            Role::Master => Presence::Active,
            Role::NotMaster => Presence::Inactive,
        }
    }
}

/// Counters for the status document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectorCounters {
    pub checks_started: u64,
    /// Checks that ended with a failure (timeouts excluded).
    pub checks_failed: u64,
    pub checks_timed_out: u64,
    /// Running checks stopped by a reload or the shutdown.
    pub checks_aborted: u64,
    /// Probe results nobody waited for (aborted, unknown real server, after stop).
    pub stale_results: u64,
    pub dumps_requested: u64,
    pub dump_errors: u64,
    pub dumps_unanswered: u64,
    /// Dump answers nobody waited for.
    pub stale_dumps: u64,
    pub reconciliations: u64,
    /// Operations sent to the kernel (reconciliations, health, shutdown).
    pub ipvs_ops: u64,
    /// Foreign services found on planned keys (each counted when it appears).
    pub key_conflicts: u64,
    pub health_config_errors: u64,
    pub plan_errors: u64,
}

/// Where the kernel table stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    /// Believed to match: health changes go out as incremental operations.
    InSync,
    /// A dump was asked for at `since`; health changes wait for its answer.
    Dumping { since: Instant },
    /// The last dump failed; ask again at `at`.
    Retry { at: Instant },
    /// Shut down: nothing more.
    Stopped,
}

/// IPVS + health checks of one plan, without I/O.
#[derive(Debug)]
pub struct DirectorCore {
    vss: Vec<PlanVirtualServer>,
    /// Per virtual server: it converts to a kernel service and is the first
    /// with its key (only those get incremental operations).
    programmable: Vec<bool>,
    sched: Scheduler,
    owned: Ownership,
    roles: BTreeMap<String, Role>,
    table: Table,
    /// The wait before the next retry of a failed dump.
    retry_delay: Duration,
    /// The notes of the last reconciliation (logged when new).
    notes: BTreeSet<String>,
    counters: DirectorCounters,
}

impl DirectorCore {
    /// Builds the core for a plan's virtual servers; `owned` is what the
    /// ledger says this daemon created (empty on a first start). Returns
    /// the configuration errors as logs and the dump that starts the first
    /// reconciliation (none when there is neither a virtual server nor an
    /// owned service).
    pub fn new(
        vss: Vec<PlanVirtualServer>,
        owned: Ownership,
        now: Instant,
    ) -> (DirectorCore, Vec<Command>) {
        let mut out = Vec::new();
        let (sched, errors) = Scheduler::new(&vss, now);
        let mut core = DirectorCore {
            programmable: Vec::new(),
            vss,
            sched,
            owned,
            roles: BTreeMap::new(),
            table: Table::InSync,
            retry_delay: DUMP_RETRY,
            notes: BTreeSet::new(),
            counters: DirectorCounters::default(),
        };
        core.plan_loaded(errors, &mut out);
        if !core.vss.is_empty() || !core.owned.services.is_empty() {
            core.request_dump(now, &mut out);
        }
        (core, out)
    }

    /// The answer to [`Command::IpvsDump`]: reconcile the table.
    pub fn on_ipvs_dumped(
        &mut self,
        result: Result<Vec<KernelService>, String>,
        now: Instant,
    ) -> Vec<Command> {
        let mut out = Vec::new();
        if !matches!(self.table, Table::Dumping { .. }) {
            self.counters.stale_dumps += 1;
            return out;
        }
        match result {
            Ok(current) => {
                self.reconcile(&current, &mut out);
                self.table = Table::InSync;
                self.retry_delay = DUMP_RETRY;
            }
            Err(error) => {
                self.counters.dump_errors += 1;
                let delay = self.retry_delay;
                self.retry_delay = (delay * 2).min(DUMP_RETRY_MAX);
                self.table = Table::Retry { at: now + delay };
                out.push(Command::log(
                    "ipvs_error",
                    json!({"what": "dump", "error": error,
                           "retry_in_ms": delay.as_millis() as u64}),
                ));
            }
        }
        out
    }

    /// A health check finished.
    pub fn on_probe_done(
        &mut self,
        rs: RsId,
        result: Result<(), String>,
        now: Instant,
    ) -> Vec<Command> {
        let mut out = Vec::new();
        if self.table == Table::Stopped || !self.sched.is_running(rs) {
            self.counters.stale_results += 1;
            return out;
        }
        if result.is_err() {
            self.counters.checks_failed += 1;
        }
        let actions = self.sched.step(Input::CheckDone { rs, result }, now);
        self.health(actions, &mut out);
        out
    }

    /// A router's state; see the module doc for what each state means.
    pub fn set_master(&mut self, router: &str, state: State, now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        if self.table == Table::Stopped {
            return out;
        }
        let role = Role::of(state);
        let before = self
            .roles
            .insert(router.to_string(), role)
            .unwrap_or(Role::Undecided);
        if before != role
            && self
                .vss
                .iter()
                .any(|v| v.only_on_master_of.as_deref() == Some(router))
        {
            self.request_dump(now, &mut out);
        }
        out
    }

    /// Time passed: start due checks, expire late ones, retry dumps.
    pub fn tick(&mut self, now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        match self.table {
            Table::Stopped => return out,
            Table::Retry { at } if now >= at => self.request_dump(now, &mut out),
            Table::Dumping { since } if now >= since + DUMP_ANSWER_TIMEOUT => {
                self.counters.dumps_unanswered += 1;
                out.push(Command::log(
                    "ipvs_error",
                    json!({"what": "dump", "error": format!(
                        "no answer within {} ms; asking again", DUMP_ANSWER_TIMEOUT.as_millis())}),
                ));
                self.table = Table::InSync;
                self.request_dump(now, &mut out);
            }
            _ => {}
        }
        let actions = self.sched.step(Input::Tick, now);
        self.health(actions, &mut out);
        out
    }

    /// When [`DirectorCore::tick`] has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        let own = match self.table {
            Table::Stopped => return None,
            Table::InSync => None,
            Table::Dumping { since } => Some(since + DUMP_ANSWER_TIMEOUT),
            Table::Retry { at } => Some(at),
        };
        [own, self.sched.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// A new plan. Health survives for real servers whose check did not
    /// change ([`Scheduler::carry_over`]); checks that do not keep running
    /// are aborted; then a dump reconciles the table (services dropped from
    /// the plan are deleted, changed ones SET).
    pub fn reload(&mut self, vss: Vec<PlanVirtualServer>, now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        if self.table == Table::Stopped {
            return out;
        }
        let (sched, errors, actions) = Scheduler::carry_over(&self.sched, &vss, now);
        self.vss = vss;
        self.sched = sched;
        for action in actions {
            match action {
                Action::AbortCheck { rs } => {
                    self.counters.checks_aborted += 1;
                    out.push(Command::AbortProbe { rs });
                }
                Action::Log(event) => out.push(health_log(&event)),
                // `carry_over` returns no other action; the reconciliation
                // below programs the table.
                _ => {}
            }
        }
        self.plan_loaded(errors, &mut out);
        self.request_dump(now, &mut out);
        out
    }

    /// Stop: abort every running check and delete every owned service
    /// whose virtual server does not say `keep_on_stop` (decided from
    /// ownership, no dump). The kept services stay owned, for the ledger.
    pub fn shutdown(&mut self, _now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        if self.table == Table::Stopped {
            return out;
        }
        for rs in self.sched.running() {
            self.counters.checks_aborted += 1;
            out.push(Command::AbortProbe { rs });
        }
        let keep: BTreeSet<_> = self
            .vss
            .iter()
            .filter(|v| v.keep_on_stop)
            .filter_map(|v| service_key(v).ok())
            .collect();
        let ops: Vec<Op> = self
            .owned
            .services
            .iter()
            .filter(|k| !keep.contains(k))
            .map(|k| Op::DelService(*k))
            .collect();
        self.owned.services.retain(|k| keep.contains(k));
        self.owned.dests.retain(|(k, _)| keep.contains(k));
        let kept: Vec<String> = self.owned.services.iter().map(|k| k.to_string()).collect();
        out.push(Command::log(
            "ipvs_stop",
            json!({"deleted": ops.len(), "kept": kept}),
        ));
        self.emit_ops(ops, &mut out);
        self.table = Table::Stopped;
        out
    }

    /// The IPVS entries this daemon owns; persist them in the ledger.
    pub fn ownership(&self) -> &Ownership {
        &self.owned
    }

    pub fn counters(&self) -> &DirectorCounters {
        &self.counters
    }

    /// The health view, for status and tests.
    pub fn scheduler(&self) -> &Scheduler {
        &self.sched
    }

    /// The status document's `director` part.
    pub fn status(&self) -> Value {
        let vss: Vec<Value> = self
            .vss
            .iter()
            .enumerate()
            .map(|(i, vs)| {
                let key = service_key(vs).ok();
                let rss: Vec<Value> = vs
                    .real_servers
                    .iter()
                    .enumerate()
                    .map(|(j, r)| {
                        json!({"address": r.address, "port": r.port,
                               "up": self.sched.is_up(RsId { vs: i, rs: j })})
                    })
                    .collect();
                json!({"name": vs.name,
                       "service": key.map(|k| k.to_string()),
                       "presence": self.presence(vs),
                       "owned": key.is_some_and(|k| self.owned.services.contains(&k)),
                       "sorry_server_active": self.sched.sorry_active(i),
                       "real_servers": rss})
            })
            .collect();
        let sync = match self.table {
            Table::InSync => "in_sync",
            Table::Dumping { .. } => "dumping",
            Table::Retry { .. } => "retrying",
            Table::Stopped => "stopped",
        };
        json!({"sync": sync, "virtual_servers": vss,
               "owned": {"services": self.owned.services.len(),
                         "destinations": self.owned.dests.len()},
               "routers": self.roles, "notes": self.notes,
               "counters": self.counters})
    }

    // --- internals ---------------------------------------------------------

    /// Logs the configuration errors of a (re)loaded plan and notes which
    /// virtual servers can take incremental operations.
    fn plan_loaded(&mut self, health_errors: Vec<String>, out: &mut Vec<Command>) {
        for error in health_errors {
            self.counters.health_config_errors += 1;
            out.push(Command::log("health_config_error", json!({"error": error})));
        }
        let mut keys = BTreeSet::new();
        self.programmable = Vec::with_capacity(self.vss.len());
        for vs in &self.vss {
            let ok = match desired_from_plan(vs) {
                Ok(d) => keys.insert(d.service.key),
                Err(e) => {
                    self.counters.plan_errors += 1;
                    out.push(Command::log(
                        "ipvs_plan_error",
                        json!({"virtual_server": e.virtual_server, "error": e.problem}),
                    ));
                    false
                }
            };
            self.programmable.push(ok);
        }
    }

    fn presence(&self, vs: &PlanVirtualServer) -> Presence {
        match &vs.only_on_master_of {
            None => Presence::Active,
            Some(router) => self
                .roles
                .get(router)
                .copied()
                .unwrap_or(Role::Undecided)
                .presence(),
        }
    }

    fn request_dump(&mut self, now: Instant, out: &mut Vec<Command>) {
        match self.table {
            Table::Stopped | Table::Dumping { .. } => {} // one in flight answers for all
            Table::InSync | Table::Retry { .. } => {
                self.counters.dumps_requested += 1;
                self.table = Table::Dumping { since: now };
                out.push(Command::IpvsDump);
            }
        }
    }

    fn reconcile(&mut self, current: &[KernelService], out: &mut Vec<Command>) {
        self.counters.reconciliations += 1;
        // Plan errors were logged when the plan was loaded.
        let (desired, _) = desired_with_health(&self.vss, &self.sched, |vs| self.presence(vs));
        let r = reconcile(&desired, current, &self.owned);
        let mut notes = BTreeSet::new();
        for note in &r.notes {
            let text = note.to_string();
            if !self.notes.contains(&text) {
                let mut fields = json!({"note": text});
                if let Note::KeyConflict { key, name } = note {
                    self.counters.key_conflicts += 1;
                    fields["service"] = key.to_string().into();
                    fields["virtual_server"] = name.clone().into();
                }
                out.push(Command::log("ipvs_note", fields));
            }
            notes.insert(text);
        }
        self.notes = notes;
        self.owned = r.owned;
        self.emit_ops(r.ops, out);
    }

    fn emit_ops(&mut self, ops: Vec<Op>, out: &mut Vec<Command>) {
        if ops.is_empty() {
            return;
        }
        self.counters.ipvs_ops += ops.len() as u64;
        let logs: Vec<Command> = ops
            .iter()
            .map(|op| Command::log("ipvs_op", json!({"op": op.to_string()})))
            .collect();
        out.push(Command::IpvsApply { ops });
        out.extend(logs);
    }

    /// Scheduler actions as commands; the IPVS ones only when they may go
    /// out incrementally (module doc), all in one [`Command::IpvsApply`].
    fn health(&mut self, actions: Vec<Action>, out: &mut Vec<Command>) {
        let mut ops = Vec::new();
        for action in actions {
            match &action {
                Action::StartCheck { rs, kind, .. } => {
                    self.counters.checks_started += 1;
                    out.push(Command::StartProbe {
                        rs: *rs,
                        kind: kind.clone(),
                    });
                }
                Action::AbortCheck { rs } => {
                    self.counters.checks_timed_out += 1;
                    out.push(Command::AbortProbe { rs: *rs });
                }
                Action::Log(event) => out.push(health_log(event)),
                Action::SetWeight { rs, .. }
                | Action::AddDest { rs }
                | Action::RemoveDest { rs } => self.incremental(rs.vs, &action, &mut ops),
                Action::UseSorryServer { vs, .. } => self.incremental(*vs, &action, &mut ops),
            }
        }
        self.emit_ops(ops, out);
    }

    fn incremental(&mut self, vs: usize, action: &Action, ops: &mut Vec<Op>) {
        if self.table != Table::InSync || !self.programmable.get(vs).copied().unwrap_or(false) {
            return; // the next reconciliation carries the health view
        }
        let Some(plan_vs) = self.vss.get(vs) else {
            return;
        };
        if self.presence(plan_vs) != Presence::Active {
            return;
        }
        let Ok(key) = service_key(plan_vs) else {
            return;
        };
        if !self.owned.services.contains(&key) {
            return; // foreign, or not created yet
        }
        for op in action_ops(action, &self.vss) {
            match &op {
                Op::NewDest(k, d) => {
                    self.owned.dests.insert((*k, d.key));
                }
                Op::DelDest(k, dk) => {
                    self.owned.dests.remove(&(*k, *dk));
                }
                _ => {}
            }
            ops.push(op);
        }
    }
}

/// One `health` log line: the event's fields plus a readable `message`.
fn health_log(event: &HealthEvent) -> Command {
    let mut fields = serde_json::to_value(event).unwrap_or(Value::Null);
    match fields.as_object_mut() {
        Some(map) => {
            map.insert("message".into(), event.to_string().into());
        }
        None => fields = json!({"message": event.to_string()}),
    }
    Command::log("health", fields)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::net::IpAddr;

    use super::*;
    use vigil_schema::plan::{
        Family, PlanCheck, PlanHealth, PlanMethod, PlanProtocol, PlanRealServer,
        PlanRealServerOnFail,
    };

    fn rs(addr: &str, weight: u32) -> PlanRealServer {
        PlanRealServer {
            address: addr.parse().unwrap(),
            port: 80,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    /// A checked TCP service on `addr`:80 (rise 1, fall 1, every second).
    fn vs(name: &str, addr: &str, servers: &[&str]) -> PlanVirtualServer {
        let address: IpAddr = addr.parse().unwrap();
        PlanVirtualServer {
            name: name.into(),
            family: Family::Ipv4,
            protocol: Some(PlanProtocol::Tcp),
            address: Some(address),
            port: Some(80),
            fwmark: None,
            scheduler: vigil_schema::ipvs::Scheduler::Rr,
            scheduler_flags: vec![],
            method: PlanMethod::Dr,
            persistence_timeout_s: 0,
            persistence_prefix_len: 32,
            quorum: 1,
            hysteresis: 0,
            sorry_server: None,
            on_fail: PlanRealServerOnFail::Inhibit,
            only_on_master_of: None,
            keep_on_stop: false,
            health: Some(PlanHealth {
                interval_ms: 1000,
                timeout_ms: 500,
                rise: 1,
                fall: 1,
                warmup_ms: 0,
                check: PlanCheck::Tcp { port: None },
            }),
            real_servers: servers.iter().map(|a| rs(a, 1)).collect(),
        }
    }

    fn web() -> PlanVirtualServer {
        vs("web", "10.0.0.1", &["10.0.1.1", "10.0.1.2"])
    }

    /// Only on the master of `vr1`, unchecked.
    fn gated() -> PlanVirtualServer {
        let mut v = vs("gated", "10.0.0.2", &["10.0.2.1"]);
        v.only_on_master_of = Some("vr1".into());
        v.health = None;
        v
    }

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn id(vs: usize, rs: usize) -> RsId {
        RsId { vs, rs }
    }

    /// A strict in-memory kernel: an operation that the real one would
    /// refuse (create twice, change or delete what is not there) fails the test.
    #[derive(Clone, Debug, Default)]
    struct Kernel(Vec<KernelService>);

    impl Kernel {
        fn apply(&mut self, op: &Op) {
            let find = |k: &mut Vec<KernelService>, key| {
                k.iter().position(|s: &KernelService| s.service.key == key)
            };
            match op {
                Op::NewService(s) => {
                    assert!(find(&mut self.0, s.key).is_none(), "EEXIST: {op}");
                    self.0.push(KernelService {
                        service: s.clone(),
                        dests: Vec::new(),
                    });
                }
                Op::SetService(s) => {
                    let i = find(&mut self.0, s.key).expect("ESRCH");
                    self.0[i].service = s.clone();
                }
                Op::DelService(key) => {
                    let i = find(&mut self.0, *key).unwrap_or_else(|| panic!("ESRCH: {op}"));
                    self.0.remove(i);
                }
                Op::NewDest(key, d) | Op::SetDest(key, d) => {
                    let i = find(&mut self.0, *key).unwrap_or_else(|| panic!("ESRCH: {op}"));
                    let dests = &mut self.0[i].dests;
                    let at = dests.iter().position(|x| x.key == d.key);
                    match (op, at) {
                        (Op::NewDest(..), None) => dests.push(d.clone()),
                        (Op::SetDest(..), Some(j)) => dests[j] = d.clone(),
                        _ => panic!("kernel refuses {op}"),
                    }
                }
                Op::DelDest(key, dk) => {
                    let i = find(&mut self.0, *key).unwrap_or_else(|| panic!("ESRCH: {op}"));
                    let j = self.0[i]
                        .dests
                        .iter()
                        .position(|x| x.key == *dk)
                        .unwrap_or_else(|| panic!("ENOENT: {op}"));
                    self.0[i].dests.remove(j);
                }
            }
        }

        /// `ipvsadm -Ln`-like lines, services in key order.
        fn listing(&self) -> Vec<String> {
            let mut services = self.0.clone();
            services.sort_by_key(|s| s.service.key);
            let mut out = Vec::new();
            for s in services {
                out.push(format!("{} {}", s.service.key, s.service.scheduler));
                let mut dests = s.dests.clone();
                dests.sort_by_key(|d| d.key);
                for d in dests {
                    out.push(format!("  -> {} {}", d.key, d.weight));
                }
            }
            out
        }
    }

    /// The node and the executor around one core: commands are carried
    /// out against [`Kernel`], dumps answered at once (nested) unless
    /// `hold_dumps`, and everything else rendered as one line each.
    struct Sim {
        core: DirectorCore,
        kernel: Kernel,
        hold_dumps: bool,
        dumps_held: usize,
        lines: Vec<String>,
        op_logs: usize,
    }

    impl Sim {
        fn start(vss: Vec<PlanVirtualServer>, owned: Ownership, kernel: Kernel) -> Sim {
            let (core, cmds) = DirectorCore::new(vss, owned, at(0));
            let mut sim = Sim {
                core,
                kernel,
                hold_dumps: false,
                dumps_held: 0,
                lines: Vec::new(),
                op_logs: 0,
            };
            sim.run(cmds, 0);
            sim
        }

        fn run(&mut self, cmds: Vec<Command>, ms: u64) {
            let mut queue: VecDeque<Command> = cmds.into();
            while let Some(cmd) = queue.pop_front() {
                let line = match cmd {
                    Command::IpvsDump if self.hold_dumps => {
                        self.dumps_held += 1;
                        "dump (held)".to_string()
                    }
                    Command::IpvsDump => {
                        let answer = self.core.on_ipvs_dumped(Ok(self.kernel.0.clone()), at(ms));
                        queue.extend(answer);
                        "dump".to_string()
                    }
                    Command::IpvsApply { ops } => {
                        for op in &ops {
                            self.kernel.apply(op);
                        }
                        let ops: Vec<String> = ops.iter().map(Op::to_string).collect();
                        format!("apply {}", ops.join("; "))
                    }
                    Command::StartProbe { rs, .. } => format!("start {}/{}", rs.vs, rs.rs),
                    Command::AbortProbe { rs } => format!("abort {}/{}", rs.vs, rs.rs),
                    Command::Log { event, .. } if event == "ipvs_op" => {
                        self.op_logs += 1;
                        continue;
                    }
                    Command::Log { event, fields } => {
                        let text = ["message", "note", "error", "transition"]
                            .iter()
                            .find_map(|k| fields.get(*k).and_then(Value::as_str))
                            .map_or_else(|| fields.to_string(), str::to_string);
                        format!("log {event}: {text}")
                    }
                    other => panic!("the director core never emits {other:?}"),
                };
                self.lines.push(line);
            }
        }

        /// Answers the held dump(s) with the kernel as it is now.
        fn answer_dump(&mut self, ms: u64) {
            assert!(self.dumps_held > 0, "no dump asked for");
            self.dumps_held = 0;
            let cmds = self.core.on_ipvs_dumped(Ok(self.kernel.0.clone()), at(ms));
            self.lines.push("answer".into());
            self.run(cmds, ms);
        }

        fn tick(&mut self, ms: u64) -> &mut Self {
            let cmds = self.core.tick(at(ms));
            self.run(cmds, ms);
            self
        }

        fn probe(&mut self, ms: u64, rs: RsId, ok: bool) -> &mut Self {
            let result = if ok { Ok(()) } else { Err("refused".into()) };
            let cmds = self.core.on_probe_done(rs, result, at(ms));
            self.run(cmds, ms);
            self
        }

        fn role(&mut self, ms: u64, router: &str, state: State) -> &mut Self {
            let cmds = self.core.set_master(router, state, at(ms));
            self.run(cmds, ms);
            self
        }

        fn reload(&mut self, ms: u64, vss: Vec<PlanVirtualServer>) -> &mut Self {
            let cmds = self.core.reload(vss, at(ms));
            self.run(cmds, ms);
            self
        }

        fn take(&mut self) -> Vec<String> {
            std::mem::take(&mut self.lines)
        }
    }

    fn web_listing(w1: u32, w2: u32) -> Vec<String> {
        vec![
            "TCP 10.0.0.1:80 rr".to_string(),
            format!("  -> 10.0.1.1:80 {w1}"),
            format!("  -> 10.0.1.2:80 {w2}"),
        ]
    }

    #[test]
    fn first_start_creates_and_owns_every_planned_service() {
        let mut sim = Sim::start(vec![web()], Ownership::default(), Kernel::default());
        assert_eq!(
            sim.take(),
            vec![
                "dump",
                "apply NEW_SERVICE TCP 10.0.0.1:80 (scheduler rr); \
                 NEW_DEST TCP 10.0.0.1:80 -> 10.0.1.1:80 weight 1; \
                 NEW_DEST TCP 10.0.0.1:80 -> 10.0.1.2:80 weight 1",
            ]
        );
        assert_eq!(sim.op_logs, 3, "one ipvs_op log per operation");
        assert_eq!(sim.kernel.listing(), web_listing(1, 1));
        assert_eq!(sim.core.ownership().services.len(), 1);
        assert_eq!(sim.core.ownership().dests.len(), 2);
        assert_eq!(sim.core.next_deadline(), Some(at(0)), "first checks due");
    }

    #[test]
    fn restart_with_ledger_sets_only_the_drift() {
        let first = Sim::start(vec![web()], Ownership::default(), Kernel::default());
        let ledger = first.core.ownership().clone();
        let mut kernel = first.kernel.clone();
        kernel.0[0].dests[1].weight = 7; // changed while we were down
        let mut sim = Sim::start(vec![web()], ledger.clone(), kernel);
        assert_eq!(
            sim.take(),
            vec![
                "dump",
                "apply SET_DEST TCP 10.0.0.1:80 -> 10.0.1.2:80 weight 1"
            ]
        );
        assert_eq!(sim.core.ownership(), &ledger);
        assert_eq!(sim.core.counters().key_conflicts, 0);
    }

    #[test]
    fn foreign_service_on_a_planned_key_is_untouched_and_reported_once() {
        let mut foreign = Sim::start(vec![web()], Ownership::default(), Kernel::default()).kernel;
        foreign.0[0].service.scheduler = "wlc".into();
        let mut plan = vec![web(), gated()];
        plan[1].only_on_master_of = Some("vr1".into());
        let mut sim = Sim::start(plan, Ownership::default(), foreign.clone());
        assert_eq!(
            sim.take(),
            vec![
                "dump",
                "log ipvs_note: IPVS service TCP 10.0.0.1:80 exists but was not created by \
                 vigild; virtual server `web` is not programmed and the service is left \
                 untouched (delete it, e.g. with ipvsadm, to let vigild program it)",
            ]
        );
        assert_eq!(sim.kernel.listing(), foreign.listing());
        assert!(sim.core.ownership().services.is_empty());
        // Another reconciliation: the conflict is not logged again.
        sim.role(10, "vr1", State::Master);
        assert_eq!(
            sim.take(),
            vec![
                "dump",
                "apply NEW_SERVICE TCP 10.0.0.2:80 (scheduler rr); \
                 NEW_DEST TCP 10.0.0.2:80 -> 10.0.2.1:80 weight 1"
            ]
        );
        // Health changes of the foreign service's real servers touch nothing.
        sim.tick(20).probe(30, id(0, 0), false);
        assert_eq!(
            sim.take(),
            vec![
                "start 0/0",
                "start 0/1",
                "log health: virtual server web: real server 10.0.1.1:80 down (refused)"
            ]
        );
        assert_eq!(sim.core.counters().key_conflicts, 1);
        assert_eq!(sim.kernel.listing()[..3], foreign.listing()[..]);
    }

    #[test]
    fn mastership_programs_and_removes_a_gated_service() {
        let mut sim = Sim::start(vec![gated()], Ownership::default(), Kernel::default());
        assert_eq!(sim.take(), vec!["dump"], "undecided: nothing created");
        sim.role(1, "vr1", State::Initialize);
        assert!(sim.take().is_empty(), "still undecided: no dump");
        sim.role(2, "vr1", State::Master);
        assert_eq!(
            sim.take(),
            vec![
                "dump",
                "apply NEW_SERVICE TCP 10.0.0.2:80 (scheduler rr); \
                 NEW_DEST TCP 10.0.0.2:80 -> 10.0.2.1:80 weight 1"
            ]
        );
        sim.role(3, "other", State::Backup);
        assert!(sim.take().is_empty(), "no service follows `other`");
        sim.role(4, "vr1", State::Backup);
        assert_eq!(
            sim.take(),
            vec!["dump", "apply DEL_SERVICE TCP 10.0.0.2:80"]
        );
        assert!(sim.core.ownership().services.is_empty());
        sim.role(5, "vr1", State::Fault);
        assert!(sim.take().is_empty(), "backup -> fault: same role");
    }

    #[test]
    fn restarted_master_holds_its_gated_service_until_the_router_decides() {
        let mut first = Sim::start(vec![gated()], Ownership::default(), Kernel::default());
        first.role(1, "vr1", State::Master);
        let ledger = first.core.ownership().clone();
        assert_eq!(ledger.services.len(), 1);
        // Crash and restart: the router starts in Initialize.
        let mut sim = Sim::start(vec![gated()], ledger.clone(), first.kernel.clone());
        sim.role(0, "vr1", State::Initialize);
        assert_eq!(sim.take(), vec!["dump"], "held: no delete, no re-create");
        assert_eq!(sim.kernel.listing(), first.kernel.listing());
        assert_eq!(sim.core.ownership(), &ledger, "still ours while held");
        assert_eq!(sim.core.status()["virtual_servers"][0]["presence"], "hold");
        sim.role(3000, "vr1", State::Master);
        assert_eq!(sim.take(), vec!["dump"], "master again: nothing to change");
        // Had it come back as backup, the service would go.
        let mut backup = Sim::start(vec![gated()], ledger, first.kernel.clone());
        backup.role(3000, "vr1", State::Backup);
        assert_eq!(
            backup.take(),
            vec!["dump", "dump", "apply DEL_SERVICE TCP 10.0.0.2:80"]
        );
    }

    #[test]
    fn quorum_loss_switches_to_the_sorry_server_and_back() {
        let mut v = web();
        v.quorum = 2;
        v.sorry_server = Some(rs("10.0.9.9", 1));
        let mut sim = Sim::start(vec![v], Ownership::default(), Kernel::default());
        sim.take();
        sim.tick(0).probe(10, id(0, 0), false);
        assert_eq!(
            sim.take(),
            vec![
                "start 0/0",
                "start 0/1",
                "log health: virtual server web: real server 10.0.1.1:80 down (refused)",
                "log health: virtual server web: quorum lost (alive weight 1 < quorum 2)",
                "apply SET_DEST TCP 10.0.0.1:80 -> 10.0.1.1:80 weight 0; \
                 NEW_DEST TCP 10.0.0.1:80 -> 10.0.9.9:80 weight 1; \
                 SET_DEST TCP 10.0.0.1:80 -> 10.0.1.2:80 weight 0",
            ]
        );
        assert!(
            sim.core.ownership().dests.len() == 3,
            "the sorry server is ours"
        );
        sim.probe(20, id(0, 1), true)
            .tick(1010)
            .probe(1020, id(0, 0), true);
        assert_eq!(
            sim.take(),
            vec![
                "start 0/0",
                "log health: virtual server web: real server 10.0.1.1:80 up",
                "log health: virtual server web: quorum regained (alive weight 2, quorum 2)",
                "apply SET_DEST TCP 10.0.0.1:80 -> 10.0.1.1:80 weight 1; \
                 SET_DEST TCP 10.0.0.1:80 -> 10.0.1.2:80 weight 1; \
                 DEL_DEST TCP 10.0.0.1:80 -> 10.0.9.9:80",
            ]
        );
        assert_eq!(sim.kernel.listing(), web_listing(1, 1));
        assert_eq!(sim.core.ownership().dests.len(), 2);
    }

    #[test]
    fn health_changes_wait_for_a_pending_dump_and_the_timeouts_abort() {
        let mut sim = Sim::start(vec![web()], Ownership::default(), Kernel::default());
        sim.hold_dumps = true;
        sim.take();
        sim.tick(0);
        sim.reload(5, vec![web()]); // asks for a dump, held
        sim.probe(10, id(0, 0), false);
        assert_eq!(
            sim.take(),
            vec![
                "start 0/0",
                "start 0/1",
                "dump (held)",
                "log health: virtual server web: real server 10.0.1.1:80 down (refused)",
            ],
            "no operation while the dump is pending"
        );
        sim.answer_dump(20);
        assert_eq!(
            sim.take(),
            vec![
                "answer",
                "apply SET_DEST TCP 10.0.0.1:80 -> 10.0.1.1:80 weight 0"
            ]
        );
        // 0/1 never answers: the scheduler's own timeout aborts it.
        sim.tick(500);
        assert_eq!(
            sim.take(),
            vec![
                "abort 0/1",
                "log health: virtual server web: real server 10.0.1.2:80 down (no answer within 500 ms)",
                "log health: virtual server web: quorum lost (alive weight 0 < quorum 1)",
                "apply SET_DEST TCP 10.0.0.1:80 -> 10.0.1.2:80 weight 0",
            ]
        );
        assert_eq!(sim.core.counters().checks_timed_out, 1);
        // The late answer of the aborted check is counted, not used.
        sim.probe(600, id(0, 1), true);
        assert!(sim.take().is_empty());
        assert_eq!(sim.core.counters().stale_results, 1);
    }

    #[test]
    fn reload_keeps_a_down_server_down() {
        let mut sim = Sim::start(vec![web()], Ownership::default(), Kernel::default());
        sim.tick(0)
            .probe(10, id(0, 0), false)
            .probe(10, id(0, 1), true);
        assert_eq!(sim.kernel.listing(), web_listing(0, 1));
        sim.take();
        let mut heavier = web();
        heavier.real_servers[1].weight = 5;
        sim.reload(20, vec![heavier]);
        assert_eq!(
            sim.take(),
            vec![
                "dump",
                "apply SET_DEST TCP 10.0.0.1:80 -> 10.0.1.2:80 weight 5"
            ],
            "the dead server does not get its weight back"
        );
        assert_eq!(sim.kernel.listing(), web_listing(0, 5));
        assert_eq!(sim.core.scheduler().is_up(id(0, 0)), Some(false));
    }

    #[test]
    fn reload_aborts_checks_that_do_not_carry_over_and_deletes_dropped_services() {
        let b = vs("b", "10.0.0.3", &["10.0.3.1"]);
        let mut sim = Sim::start(
            vec![web(), b.clone()],
            Ownership::default(),
            Kernel::default(),
        );
        sim.tick(0);
        sim.take();
        // `web` dropped: b's check (0/1/0 -> now 0/0) moves; web's go.
        sim.reload(10, vec![b]);
        assert_eq!(
            sim.take(),
            vec![
                "abort 0/0",
                "abort 0/1",
                "abort 1/0",
                "dump",
                "apply DEL_SERVICE TCP 10.0.0.1:80"
            ]
        );
        assert_eq!(sim.core.counters().checks_aborted, 3);
        sim.tick(10);
        assert_eq!(sim.take(), vec!["start 0/0"], "restarted under its new id");
        assert_eq!(sim.core.ownership().services.len(), 1);
    }

    #[test]
    fn plan_and_health_errors_are_logged_when_loaded() {
        let mut bad = web();
        bad.scheduler_flags = vec![vigil_schema::ipvs::SchedulerFlag::ShPort];
        bad.health.as_mut().unwrap().check = PlanCheck::Command { command: vec![] };
        let mut sim = Sim::start(vec![bad], Ownership::default(), Kernel::default());
        let lines = sim.take();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[0],
            "log health_config_error: virtual server `web`: empty check command; not health-checked"
        );
        assert!(
            lines[1]
                .starts_with("log ipvs_plan_error: scheduler flag `sh-port` needs scheduler `sh`"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "dump");
        assert!(sim.kernel.0.is_empty(), "held: never created");
        let c = sim.core.counters();
        assert_eq!((c.health_config_errors, c.plan_errors), (1, 1));
    }

    #[test]
    fn failed_dump_is_retried_and_unanswered_one_asked_again() {
        let (mut core, cmds) = DirectorCore::new(vec![web()], Ownership::default(), at(0));
        assert_eq!(cmds, vec![Command::IpvsDump]);
        let cmds = core.on_ipvs_dumped(Err("Operation not permitted".into()), at(1));
        assert!(matches!(&cmds[..], [Command::Log { event, fields }]
                if event == "ipvs_error" && fields["error"] == "Operation not permitted"));
        assert_eq!(core.next_deadline(), Some(at(0)), "first checks");
        core.tick(at(0));
        assert_eq!(core.next_deadline(), Some(at(500)), "check timeouts");
        // Health changes while out of sync send nothing.
        let cmds = core.on_probe_done(id(0, 0), Err("refused".into()), at(2));
        assert!(
            !cmds.iter().any(|c| matches!(c, Command::IpvsApply { .. })),
            "{cmds:?}"
        );
        assert!(!core.tick(at(999)).contains(&Command::IpvsDump));
        assert!(
            core.tick(at(1001)).contains(&Command::IpvsDump),
            "retried after 1 s"
        );
        // Failing again: the wait doubles.
        let cmds = core.on_ipvs_dumped(Err("still".into()), at(1001));
        assert!(
            matches!(&cmds[..], [Command::Log { fields, .. }] if fields["retry_in_ms"] == 2000)
        );
        assert!(!core.tick(at(3000)).contains(&Command::IpvsDump));
        assert!(core.tick(at(3001)).contains(&Command::IpvsDump));
        // Never answered: asked again after DUMP_ANSWER_TIMEOUT.
        assert!(!core.tick(at(8000)).contains(&Command::IpvsDump));
        assert!(core.tick(at(8001)).contains(&Command::IpvsDump));
        let c = core.counters();
        assert_eq!(
            (c.dump_errors, c.dumps_unanswered, c.dumps_requested),
            (2, 1, 4)
        );
        // An answer nobody waits for is ignored: the second one here.
        assert!(!core.on_ipvs_dumped(Ok(vec![]), at(8002)).is_empty());
        assert!(core.on_ipvs_dumped(Ok(vec![]), at(8003)).is_empty());
        assert_eq!(core.counters().stale_dumps, 1);
        // A success resets the wait.
        assert!(
            core.reload(vec![web()], at(9000))
                .contains(&Command::IpvsDump)
        );
        let cmds = core.on_ipvs_dumped(Err("again".into()), at(9001));
        assert!(
            matches!(&cmds[..], [Command::Log { fields, .. }] if fields["retry_in_ms"] == 1000)
        );
        assert!(core.tick(at(10001)).contains(&Command::IpvsDump));
        assert!(!core.on_ipvs_dumped(Ok(vec![]), at(10002)).is_empty());
        assert_eq!(core.status()["sync"], "in_sync");
    }

    #[test]
    fn shutdown_aborts_checks_and_deletes_owned_services_but_kept_ones() {
        let mut kept = vs("kept", "10.0.0.4", &["10.0.4.1"]);
        kept.keep_on_stop = true;
        let mut sim = Sim::start(vec![web(), kept], Ownership::default(), Kernel::default());
        sim.tick(0);
        sim.take();
        let cmds = sim.core.shutdown(at(10));
        sim.run(cmds, 10);
        assert_eq!(
            sim.take(),
            vec![
                "abort 0/0",
                "abort 0/1",
                "abort 1/0",
                r#"log ipvs_stop: {"deleted":1,"kept":["TCP 10.0.0.4:80"]}"#,
                "apply DEL_SERVICE TCP 10.0.0.1:80",
            ]
        );
        assert_eq!(
            sim.core.ownership().services.len(),
            1,
            "the kept service stays in the ledger"
        );
        assert_eq!(sim.core.ownership().dests.len(), 1);
        assert_eq!(sim.core.next_deadline(), None);
        // Everything after the stop is ignored.
        sim.probe(20, id(0, 0), true);
        sim.role(20, "vr1", State::Master);
        sim.tick(5000);
        let late = sim.core.on_ipvs_dumped(Ok(vec![]), at(20));
        assert!(late.is_empty() && sim.take().is_empty());
        assert!(sim.core.shutdown(at(30)).is_empty(), "once");
        assert_eq!(sim.core.status()["sync"], "stopped");
    }

    #[test]
    fn nothing_to_do_without_services_or_ledger() {
        let (core, cmds) = DirectorCore::new(vec![], Ownership::default(), at(0));
        assert!(cmds.is_empty());
        assert_eq!(core.next_deadline(), None);
        // A ledger alone is enough reason to look: its services are deleted.
        let old = Sim::start(vec![web()], Ownership::default(), Kernel::default());
        let mut sim = Sim::start(vec![], old.core.ownership().clone(), old.kernel.clone());
        assert_eq!(
            sim.take(),
            vec!["dump", "apply DEL_SERVICE TCP 10.0.0.1:80"]
        );
        assert!(sim.core.ownership().services.is_empty());
    }

    #[test]
    fn unknown_real_server_results_are_counted() {
        let (mut core, _) = DirectorCore::new(vec![web()], Ownership::default(), at(0));
        assert!(core.on_probe_done(id(7, 0), Ok(()), at(1)).is_empty());
        assert!(
            core.on_probe_done(id(0, 9), Err("x".into()), at(1))
                .is_empty()
        );
        assert_eq!(core.counters().stale_results, 2);
        assert_eq!(core.counters().checks_failed, 0);
    }

    #[test]
    fn status_reports_health_presence_and_ownership() {
        let mut sim = Sim::start(
            vec![web(), gated()],
            Ownership::default(),
            Kernel::default(),
        );
        sim.tick(0).probe(10, id(0, 1), false);
        sim.role(20, "vr1", State::Backup);
        let s = sim.core.status();
        let web = &s["virtual_servers"][0];
        assert_eq!(web["service"], "TCP 10.0.0.1:80");
        assert_eq!(web["presence"], "active");
        assert_eq!(web["owned"], true);
        assert_eq!(web["real_servers"][1]["up"], false);
        assert_eq!(s["virtual_servers"][1]["presence"], "inactive");
        assert_eq!(s["virtual_servers"][1]["owned"], false);
        assert_eq!(s["routers"]["vr1"], "not_master");
        assert_eq!(s["owned"]["services"], 1);
        assert_eq!(s["counters"]["checks_started"], 2);
        assert_eq!(s["counters"]["checks_failed"], 1);
    }
}
