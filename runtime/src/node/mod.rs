//! The whole daemon as one sans-IO node: `Node::handle(Event, now) -> Vec<Command>`.
//!
//! The node owns every decision `vigild` makes: the routers (the RFC cores
//! of [`crate::vrrp`]), their guards (arbitration, fence gate, trackers,
//! fault sources, notify queue: [`member`]), sync groups, the addresses
//! this daemon added (the [`Ledger`]), and the reload diff. It reads no
//! clock, opens no socket and starts no process: the I/O shell
//! (`event_loop.rs`) turns file descriptors, signals and child exits into
//! [`Event`]s and carries out the [`Command`]s that come back, in order.
//! Recording `(now, event)` pairs is enough to replay a whole daemon, and
//! running several nodes on a simulated network and clock is a
//! deterministic simulation of a cluster (`crate::sim`).
//!
//! # The shell's contract
//! * Feed [`Event::Start`] once, then everything else; feed [`Event::Tick`]
//!   whenever `now >= next_deadline()`.
//! * Answer the commands that ask for it: address changes with
//!   [`Event::AddressResult`], processes with [`Event::ProcessExited`],
//!   probes with [`Event::ProbeDone`], IPVS dumps with [`Event::IpvsDumped`].
//!   Answers may be fed at once (nested) or later.
//! * Keep sockets by (interface, family) as [`Command::OpenVrrp`] /
//!   [`Command::CloseVrrp`] say; re-open on a new ifindex when told.
//!
//! # Rules that live here
//! * **Addresses**: only addresses this daemon added (the kernel answered
//!   "added", not "already there") are recorded, persisted and ever
//!   removed, with the prefix and label they were added with. At start, a
//!   recorded address still present is stale (a crash left it) and is
//!   removed as the kernel lists it; a plan VIP present but never added by
//!   us is left alone and reported. An owner's VIP is the host's own
//!   address: adding it finds it there, so it is never removed.
//! * **Sync groups** (docs/topology.md): a fault of one member (its link,
//!   a `fault` tracker, isolation) holds every member of the group in
//!   FAULT; the demotions of all members' trackers add up and every member
//!   advertises its configured priority lowered by that sum. So whatever
//!   moves one router of the group moves all of them.
//! * **Reload in place**: a router whose identity (interface, family,
//!   version, VRID, password) is unchanged gets [`Input::PlanReload`]: no
//!   resignation, no VIP moves; its guards are rebuilt only where their
//!   plan changed. Identity changes resign first. A router whose interface
//!   is missing is kept in FAULT and follows the interface when it appears.
//! * **Interfaces come and go**: links are followed by name; a new ifindex
//!   re-opens the sockets; a missing or carrier-less interface is a FAULT
//!   of the routers on it, never a refusal to run.

pub mod director;
pub mod event;
pub mod member;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use vigil_schema::plan::{Family, Plan, PlanRouter};

pub use event::{
    AddrOutcome, Address, Command, Event, HttpReply, LEDGER_FORMAT, Ledger, Link, ProcId,
};

use self::director::DirectorCore;
use self::member::{Member, build_router};
use crate::arbitration::{ArbAction, Arbiter, Verdict};
use crate::health::scheduler::{CheckKind, RsId};
use crate::hooks::process::Outcome;
use crate::hooks::{HookRun, NotifyQueue, hooks_for, state_name};
use crate::lease::LeaseAction;
use crate::timers::{RouterId, TimerHeap};
use crate::track::TrackAction;
use crate::vrrp::rx::{Received, RxError, decode};
use crate::vrrp::{Action, Alarm, Input, Instant, Reason, State, Stats};
use crate::wire::vrrp::{MULTICAST_V4, MULTICAST_V6};

/// Self-fence commands have no timeout in the plan; they get this one.
pub const SELF_FENCE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a child process is for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ProcKind {
    Hook(&'static str),
    Fence,
    SelfFence,
    Tracker(usize),
    /// A health check that runs a command.
    Check(RsId),
}

/// A command health check has no timeout of its own in the runner: the
/// health scheduler aborts it at its deadline (`AbortProbe` -> `Kill`).
/// This only bounds a check nobody aborted.
pub const CHECK_SAFETY_TIMEOUT: Duration = Duration::from_secs(3600);

/// The node's own counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeCounters {
    pub vip_add_errors: u64,
    pub vip_remove_errors: u64,
    pub echo_send_errors: u64,
    pub spawn_errors: u64,
    pub hooks_run: u64,
    pub hooks_failed: u64,
    pub hooks_timed_out: u64,
    pub reloads: u64,
    pub reload_errors: u64,
    pub stale_addresses_removed: u64,
    pub foreign_addresses_left: u64,
    /// HTTP answers no lease request is waiting for (late, after a timeout).
    pub http_unclaimed: u64,
}

/// The whole daemon's decisions.
#[derive(Debug)]
pub struct Node {
    host: String,
    plan: Plan,
    passwords: BTreeMap<String, Vec<u8>>,
    members: BTreeMap<RouterId, Member>,
    by_name: BTreeMap<String, RouterId>,
    /// (interface, family, VRID) -> router, for received adverts (the
    /// router's own interface and its heartbeat paths).
    by_key: HashMap<(String, Family, u8), RouterId>,
    next_id: RouterId,
    links: BTreeMap<String, Link>,
    /// Open VRRP sockets: (interface, family) -> (ifindex, multicast).
    sockets: BTreeMap<(String, Family), (u32, bool)>,
    /// Open echo sockets: router -> ifindex of its interface.
    echo: BTreeMap<String, u32>,
    timers: TimerHeap,
    procs: BTreeMap<ProcId, (RouterId, ProcKind)>,
    next_proc: ProcId,
    /// Notify queues, kept after a router is removed until its hooks ran.
    hooks: BTreeMap<RouterId, (String, NotifyQueue)>,
    ledger: Ledger,
    /// Stale addresses whose removal was asked at start.
    stale: BTreeSet<Address>,
    director: Option<DirectorCore>,
    unattributed: Stats,
    pub counters: NodeCounters,
    started: bool,
    stopping: bool,
    now: Instant,
    out: Vec<Command>,
    queue: VecDeque<(RouterId, Input)>,
    /// Last HTTP request id handed out (lease requests).
    http_ids: u64,
    /// Revocations sent for routers already removed: request -> router.
    revokes: BTreeMap<u64, String>,
}

impl Node {
    /// A node for `plan` (checked by `plan_load`); nothing happens until
    /// [`Event::Start`].
    pub fn new(host: &str, plan: Plan, passwords: BTreeMap<String, Vec<u8>>) -> Node {
        Node {
            host: host.to_string(),
            plan,
            passwords,
            members: BTreeMap::new(),
            by_name: BTreeMap::new(),
            by_key: HashMap::new(),
            next_id: 1,
            links: BTreeMap::new(),
            sockets: BTreeMap::new(),
            echo: BTreeMap::new(),
            timers: TimerHeap::default(),
            procs: BTreeMap::new(),
            next_proc: 1,
            hooks: BTreeMap::new(),
            ledger: Ledger {
                format: LEDGER_FORMAT,
                ..Ledger::default()
            },
            stale: BTreeSet::new(),
            director: None,
            unattributed: Stats::default(),
            counters: NodeCounters::default(),
            started: false,
            stopping: false,
            now: Instant::ZERO,
            out: Vec::new(),
            queue: VecDeque::new(),
            http_ids: 0,
            revokes: BTreeMap::new(),
        }
    }

    /// Checks every router of a plan without running anything.
    pub fn check_plan(plan: &Plan, passwords: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
        for r in &plan.routers {
            build_router(r, plan.startup_delay_ms, passwords.get(&r.name))?;
        }
        Ok(())
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The routers, in plan order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// The director core, when the plan has virtual servers.
    pub fn director(&self) -> Option<&DirectorCore> {
        self.director.as_ref()
    }

    /// Counters of packets no router could take.
    pub fn unattributed(&self) -> &Stats {
        &self.unattributed
    }

    pub fn plan_hash(&self) -> &str {
        &self.plan.topology_hash
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Every interface the node wants link notifications for.
    pub fn interfaces(&self) -> BTreeSet<String> {
        interfaces_of(&self.plan)
    }

    /// Each router's name and state.
    pub fn states(&self) -> Vec<(String, State)> {
        self.members
            .values()
            .map(|m| (m.plan.name.clone(), m.state()))
            .collect()
    }

    /// The state of one router.
    pub fn state_of(&self, router: &str) -> Option<State> {
        self.by_name
            .get(router)
            .and_then(|id| self.members.get(id))
            .map(Member::state)
    }

    /// Children the node still waits for (hooks, fences, trackers).
    pub fn processes_pending(&self) -> usize {
        self.procs.len()
    }

    /// Hooks still running or queued (the shell waits for them at exit).
    pub fn hooks_pending(&self) -> bool {
        self.procs
            .values()
            .any(|(_, k)| matches!(k, ProcKind::Hook(_)))
    }

    /// The earliest instant [`Event::Tick`] has work.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let routers = self.timers.next_deadline();
        let guards = self
            .members
            .values()
            .filter_map(Member::next_deadline)
            .min();
        let director = self.director.as_ref().and_then(DirectorCore::next_deadline);
        [routers, guards, director].into_iter().flatten().min()
    }

    /// Handles one event at `now`; returns the commands, in order.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Command> {
        self.now = self.now.max(now);
        match event {
            Event::Start {
                links,
                addresses,
                ledger,
            } => self.start(links, addresses, ledger),
            Event::Link(link) => self.on_link(link),
            Event::Vrrp {
                interface,
                family,
                ip,
                payload,
            } => self.on_vrrp(&interface, family, &ip, &payload),
            Event::AddressResult {
                address,
                added,
                outcome,
            } => self.on_address_result(address, added, outcome),
            Event::EchoReply { router, from, seq } => {
                if let Some(&id) = self.by_name.get(&router) {
                    let now = self.now;
                    let actions = self
                        .members
                        .get_mut(&id)
                        .and_then(|m| m.arbiter.as_mut())
                        .map(|a| a.on_reply(from, seq, now))
                        .unwrap_or_default();
                    self.arb_actions(id, actions);
                }
            }
            Event::EchoSendFailed { router, target } => {
                self.counters.echo_send_errors += 1;
                if let Some(&id) = self.by_name.get(&router) {
                    let now = self.now;
                    let actions = self
                        .members
                        .get_mut(&id)
                        .and_then(|m| m.arbiter.as_mut())
                        .map(|a| a.on_send_error(target, now))
                        .unwrap_or_default();
                    self.arb_actions(id, actions);
                }
            }
            Event::ProcessExited {
                proc,
                pid,
                outcome,
                elapsed_ms,
                error,
            } => self.on_process_exited(proc, pid, outcome, elapsed_ms, error),
            Event::ProbeDone { rs, result } => {
                let now = self.now;
                if let Some(d) = self.director.as_mut() {
                    let cmds = d.on_probe_done(rs, result, now);
                    self.director_out(cmds);
                }
                self.persist_ipvs();
            }
            Event::IpvsDumped { result } => {
                let now = self.now;
                if let Some(d) = self.director.as_mut() {
                    let cmds = d.on_ipvs_dumped(result, now);
                    self.director_out(cmds);
                }
                self.persist_ipvs();
            }
            Event::HttpResponse { req, result } => self.on_http(req, result),
            Event::Tick => self.tick(),
            Event::Reload { plan, passwords } => self.reload(*plan, passwords),
            Event::ReloadFailed { error } => {
                self.counters.reload_errors += 1;
                self.log("reload_failed", json!({"error": error}));
            }
            Event::Shutdown => self.shutdown(),
        }
        self.drain();
        std::mem::take(&mut self.out)
    }

    fn log(&mut self, event: &str, fields: Value) {
        self.out.push(Command::log(event, fields));
    }

    // --- start -------------------------------------------------------------

    fn start(&mut self, links: Vec<Link>, addresses: Vec<Address>, ledger: Option<Ledger>) {
        if self.started {
            self.log("error", json!({"what": "start", "error": "started twice"}));
            return;
        }
        self.started = true;
        for l in links {
            self.links.insert(l.name.clone(), l);
        }
        let previous = ledger.unwrap_or_default();
        if previous.format != LEDGER_FORMAT && previous != Ledger::default() {
            self.log(
                "error",
                json!({"what": "ledger", "error": format!("unknown ledger format {}; nothing re-adopted", previous.format)}),
            );
        }
        self.clean_stale_addresses(&previous, &addresses);
        if previous.format == LEDGER_FORMAT {
            self.ledger.ipvs = previous.ipvs.clone();
            self.clean_stale_vmacs(&previous);
        }
        self.adopt_vmacs();
        for name in self.interfaces() {
            if !self.links.get(&name).is_some_and(|l| l.exists) {
                self.log(
                    "interface_missing",
                    json!({"interface": name, "effect": "its routers stay in FAULT until it appears"}),
                );
            }
        }
        let routers = self.plan.routers.clone();
        for r in routers {
            self.add_member(r);
        }
        self.ensure_sockets();
        // Also with no virtual server left: what the ledger owns goes.
        if !self.plan.virtual_servers.is_empty() || !self.ledger.ipvs.services.is_empty() {
            let (d, cmds) = DirectorCore::new(
                self.plan.virtual_servers.clone(),
                self.ledger.ipvs.clone(),
                self.now,
            );
            self.director = Some(d);
            self.director_out(cmds);
        }
        self.write_ledger();
        self.out.push(Command::Ready);
        let ids: Vec<RouterId> = self.members.keys().copied().collect();
        for id in ids {
            self.queue.push_back((id, Input::Startup));
        }
        let names: Vec<String> = self.by_name.keys().cloned().collect();
        self.log("started", json!({"host": self.host, "routers": names}));
    }

    /// Virtual MAC interfaces a previous run created that this plan does
    /// not want: deleted (if they still carry the virtual MAC).
    fn clean_stale_vmacs(&mut self, previous: &Ledger) {
        for name in &previous.vmacs {
            let wanted = self
                .plan
                .routers
                .iter()
                .any(|r| r.vmac.as_ref().is_some_and(|v| v.interface == *name));
            if wanted || !self.links.get(name).is_some_and(|l| l.exists) {
                continue;
            }
            let mac = self.links[name]
                .mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            if !mac.starts_with("00:00:5e:00:0") {
                continue;
            }
            self.log(
                "vmac_stale",
                json!({"interface": name, "mac": mac, "action": "delete"}),
            );
            self.out.push(Command::DeleteVmac {
                interface: name.clone(),
                mac,
            });
        }
    }

    /// Records the plan's virtual MAC interfaces that exist (created by the
    /// shell, or left by a previous run and reused) as ours.
    fn adopt_vmacs(&mut self) {
        let mut changed = false;
        for r in &self.plan.routers {
            let Some(v) = &r.vmac else { continue };
            if self.links.get(&v.interface).is_some_and(|l| l.exists)
                && !self.ledger.vmacs.contains(&v.interface)
            {
                self.ledger.vmacs.push(v.interface.clone());
                changed = true;
            }
        }
        if changed && self.started {
            self.write_ledger();
        }
    }

    /// Removes the addresses a previous run added and left behind; reports
    /// plan VIPs present that no run of ours added.
    fn clean_stale_addresses(&mut self, previous: &Ledger, present: &[Address]) {
        // The host's own addresses as the plan knows them (an owner's VIP is
        // one): never removed, whatever a record says.
        let own: BTreeSet<IpAddr> = self
            .plan
            .routers
            .iter()
            .flat_map(|r| {
                std::iter::once(r.source_address)
                    .chain(r.heartbeat_paths.iter().map(|h| h.source_address))
                    .chain(
                        r.owner
                            .then(|| r.vips.iter().map(|v| v.address))
                            .into_iter()
                            .flatten(),
                    )
            })
            .collect();
        for a in present {
            let recorded = |list: &[Address]| {
                list.iter()
                    .any(|l| l.interface == a.interface && l.address == a.address)
            };
            // An add that was under way when the previous run ended: the
            // kernel may have made it without the answer being recorded.
            let ours = recorded(&previous.addresses)
                || (recorded(&previous.adding) && !own.contains(&a.address));
            if ours {
                // Logged as `stale_vip_removed` with the kernel's answer.
                self.stale.insert(a.clone());
                self.ledger.addresses.push(a.clone());
                self.out.push(Command::RemoveAddress(a.clone()));
                continue;
            }
            let planned = self.plan.routers.iter().find(|r| {
                !r.owner
                    && Self::vip_interface(r) == a.interface
                    && r.vips.iter().any(|v| v.address == a.address)
            });
            if let Some(r) = planned {
                self.counters.foreign_addresses_left += 1;
                let router = r.name.clone();
                self.log(
                    "alarm",
                    json!({"router": router, "alarm": {"kind": "vip_present_not_ours", "interface": a.interface,
                        "address": a.address.to_string(),
                        "detail": "the address is configured but this daemon did not add it (no record in its ledger); it is left alone, and while it stays another host may answer ARP for it too"}}),
                );
            }
        }
    }

    // --- members -----------------------------------------------------------

    fn link_up(links: &BTreeMap<String, Link>, name: &str) -> bool {
        links.get(name).is_some_and(|l| l.exists && l.up)
    }

    fn add_member(&mut self, plan: PlanRouter) -> Option<RouterId> {
        let router = match build_router(
            &plan,
            self.plan.startup_delay_ms,
            self.passwords.get(&plan.name),
        ) {
            Ok(r) => r,
            Err(e) => {
                self.log(
                    "error",
                    json!({"router": plan.name, "what": "router", "error": e}),
                );
                return None;
            }
        };
        // A router added by a reload, or whose virtual MAC interface went:
        // (re)create it (the shell creates those of the plan before the start).
        if let Some(v) = &plan.vmac
            && !self.links.get(&v.interface).is_some_and(|l| l.exists)
            && Self::link_up(&self.links, &plan.interface)
        {
            self.out.push(Command::CreateVmac {
                interface: v.interface.clone(),
                parent: plan.interface.clone(),
                mac: v.mac.clone(),
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        let links = &self.links;
        let member = Member::new(plan, router, self.now, |i| Self::link_up(links, i));
        for t in member.trackers.list() {
            if t.state == crate::track::TrackState::Down {
                let fields = json!({"router": member.plan.name, "tracker": t.name, "state": "down", "at": "start"});
                self.out.push(Command::log("tracker", fields));
            }
        }
        if member.faults.link {
            let fields = json!({"router": member.plan.name, "interface": member.plan.interface, "up": false, "at": "start"});
            self.out.push(Command::log("link", fields));
        }
        self.by_name.insert(member.plan.name.clone(), id);
        self.members.insert(id, member);
        self.reindex();
        let start = self
            .members
            .get_mut(&id)
            .and_then(|m| m.arbiter.as_mut())
            .map(|a| a.start())
            .unwrap_or_default();
        self.arb_actions(id, start);
        self.resync(id);
        Some(id)
    }

    /// Resigns a router and forgets it (its hooks still run to the end).
    fn remove_member(&mut self, id: RouterId) {
        self.feed(id, Input::Shutdown);
        self.drain();
        let Some(m) = self.members.remove(&id) else {
            return;
        };
        // After the VIPs are gone: give the key back at once.
        if let Some(mut lease) = m.lease.clone() {
            let actions = lease.shutdown(self.now, &mut self.http_ids);
            for a in &actions {
                if let LeaseAction::Request { req, .. } = a {
                    self.revokes.insert(*req, m.plan.name.clone());
                }
            }
            self.lease_out(&m.plan.name, actions);
        }
        self.by_name.remove(&m.plan.name);
        self.timers.cancel_all(id);
        if let Some(v) = &m.plan.vmac {
            // Its VIPs were removed above (`Input::Shutdown`).
            self.out.push(Command::DeleteVmac {
                interface: v.interface.clone(),
                mac: v.mac.clone(),
            });
            self.ledger.vmacs.retain(|n| *n != v.interface);
            self.write_ledger();
        }
        let kill: Vec<ProcId> = self
            .procs
            .iter()
            .filter(|(_, (r, k))| *r == id && !matches!(k, ProcKind::Hook(_)))
            .map(|(p, _)| *p)
            .collect();
        for p in kill {
            self.procs.remove(&p);
            self.out.push(Command::Kill { proc: p });
        }
        self.reindex();
        // The group loses a member: the others' shared fault and demotion change.
        if let Some(g) = m.plan.sync_group.clone() {
            let others: Vec<RouterId> = self.group_members(&g);
            if let Some(first) = others.first() {
                self.resync(*first);
            }
        }
    }

    fn reindex(&mut self) {
        self.by_key.clear();
        for (id, m) in &self.members {
            self.by_key.insert(
                (
                    Self::rx_interface(&m.plan).to_string(),
                    m.plan.family,
                    m.plan.vrid,
                ),
                *id,
            );
            for hb in &m.plan.heartbeat_paths {
                self.by_key
                    .insert((hb.interface.clone(), m.plan.family, m.plan.vrid), *id);
            }
        }
    }

    /// The priority a member's guards allow: configured, lowered by its
    /// (or its sync group's) down `demote` trackers.
    fn effective_priority(&self, id: RouterId) -> Option<u8> {
        let m = self.members.get(&id)?;
        let demotion = match &m.plan.sync_group {
            Some(g) => self
                .group_members(g)
                .iter()
                .filter_map(|i| self.members.get(i))
                .map(|o| o.trackers.demotion())
                .sum(),
            None => m.trackers.demotion(),
        };
        Some(m.trackers.priority_with(demotion))
    }

    fn group_members(&self, group: &str) -> Vec<RouterId> {
        self.members
            .iter()
            .filter(|(_, m)| m.plan.sync_group.as_deref() == Some(group))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Brings a member's core (and every member of its sync group) in line
    /// with the guards.
    fn resync(&mut self, id: RouterId) {
        let Some(group) = self.members.get(&id).map(|m| m.plan.sync_group.clone()) else {
            return;
        };
        let ids = match &group {
            Some(g) => self.group_members(g),
            None => vec![id],
        };
        // Own faults first (the tracker part is derived inside sync()).
        for i in &ids {
            if let Some(m) = self.members.get_mut(i) {
                m.faults.tracker = m.trackers.fault();
            }
        }
        let faulty: Vec<(RouterId, String)> = ids
            .iter()
            .filter_map(|i| self.members.get(i).map(|m| (*i, m)))
            .filter(|(_, m)| m.faults.own())
            .map(|(i, m)| (i, m.plan.name.clone()))
            .collect();
        let demotion: u32 = ids
            .iter()
            .filter_map(|i| self.members.get(i))
            .map(|m| m.trackers.demotion())
            .sum();
        for i in ids {
            let Some(m) = self.members.get_mut(&i) else {
                continue;
            };
            let (group_fault, group_demotion) = if group.is_some() {
                (faulty.iter().any(|(f, _)| *f != i), demotion)
            } else {
                (false, m.trackers.demotion())
            };
            let was = m.faults.sync_group;
            let inputs = m.sync(group_fault, group_demotion, self.now);
            if group.is_some() && was != group_fault {
                let by: Vec<&str> = faulty.iter().map(|(_, n)| n.as_str()).collect();
                let fields = json!({"router": m.plan.name, "sync_group": group, "fault": group_fault, "because_of": by});
                self.out.push(Command::log("sync_group", fields));
            }
            for input in inputs {
                self.queue.push_back((i, input));
            }
        }
    }

    /// Feeds queued inputs until none is left.
    fn drain(&mut self) {
        while let Some((id, input)) = self.queue.pop_front() {
            self.feed(id, input);
        }
    }

    /// Feeds one input to a router and carries out its actions.
    fn feed(&mut self, id: RouterId, input: Input) {
        let now = self.now;
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if let Input::AdvertReceived { src, priority, .. } = &input {
            // With one peer, an advert over a heartbeat path names the
            // peer's primary address, as the status shows it.
            let via_path = m.plan.heartbeat_paths.iter().any(|p| p.peers.contains(src));
            let from = match m.plan.peers.as_slice() {
                [peer] if via_path => peer.address,
                _ => *src,
            };
            m.last_advert = Some((from, *priority, now));
        }
        // A backup defers to a master unless it resigns (priority 0) or is
        // one this router preempts (RFC 5798 6.4.2).
        let defers = matches!(&input, Input::AdvertReceived { priority, .. }
            if *priority != 0 && !(m.plan.preempt && *priority < m.router.priority()));
        let actions = m.router.handle(input, now);
        for a in &actions {
            self.execute(id, a);
        }
        for a in &actions {
            self.after_action(id, a);
        }
        if defers {
            self.decided_backup(id);
        }
    }

    /// An undecided router (Backup since it started) heard a master it
    /// defers to: it is a backup now for the director too, and the
    /// services that follow it go.
    fn decided_backup(&mut self, id: RouterId) {
        let now = self.now;
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if !m.undecided || m.state() != State::Backup {
            return;
        }
        m.undecided = false;
        if let Some(d) = self.director.as_mut() {
            let cmds = d.set_master(&m.plan.name, State::Backup, now);
            self.director_out(cmds);
        }
    }

    /// Where a router's VIPs live: its virtual MAC interface, or its own.
    fn vip_interface(plan: &PlanRouter) -> &str {
        plan.vmac.as_ref().map_or(&plan.interface, |v| &v.interface)
    }

    /// Where a router's adverts are received. With a virtual MAC and
    /// multicast, on the macvlan: a frame whose source is a local macvlan's
    /// MAC (every member's adverts carry the same virtual MAC) is handed to
    /// that macvlan only, never to its parent.
    fn rx_interface(plan: &PlanRouter) -> &str {
        match &plan.vmac {
            Some(v) if plan.unicast_peers.is_empty() => &v.interface,
            _ => &plan.interface,
        }
    }

    fn vip_address(plan: &PlanRouter, addr: IpAddr) -> Address {
        let v = plan.vips.iter().find(|v| v.address == addr);
        Address {
            interface: Self::vip_interface(plan).to_string(),
            address: addr,
            prefix_len: v.map_or(if addr.is_ipv4() { 32 } else { 128 }, |v| v.prefix_len),
            label: v.and_then(|v| v.label.clone()),
        }
    }

    /// The commands of one router action.
    fn execute(&mut self, id: RouterId, action: &Action) {
        let Some(m) = self.members.get(&id) else {
            return;
        };
        match action {
            Action::SendAdvert {
                priority,
                advert_interval,
            } => {
                let repr = m.router.advert_repr(*priority, *advert_interval);
                let plan = &m.plan;
                let mut sends: Vec<(String, IpAddr, IpAddr)> = if plan.unicast_peers.is_empty() {
                    let group = match plan.family {
                        Family::Ipv4 => IpAddr::V4(MULTICAST_V4),
                        Family::Ipv6 => IpAddr::V6(MULTICAST_V6),
                    };
                    vec![(
                        Self::vip_interface(plan).to_string(),
                        plan.source_address,
                        group,
                    )]
                } else {
                    plan.unicast_peers
                        .iter()
                        .map(|p| {
                            (
                                Self::vip_interface(plan).to_string(),
                                plan.source_address,
                                *p,
                            )
                        })
                        .collect()
                };
                // Heartbeat paths: the same advert, unicast over each extra link.
                for hb in &plan.heartbeat_paths {
                    for peer in &hb.peers {
                        sends.push((hb.interface.clone(), hb.source_address, *peer));
                    }
                }
                let family = plan.family;
                let mut cmds = Vec::new();
                for (interface, src, dst) in sends {
                    match repr.to_bytes(src, dst) {
                        Ok(bytes) => cmds.push(Command::SendVrrp {
                            interface,
                            family,
                            src,
                            dst,
                            bytes,
                        }),
                        Err(e) => cmds.push(Command::log(
                            "error",
                            json!({"router": plan.name, "what": "build advert", "error": e.to_string()}),
                        )),
                    }
                }
                self.out.extend(cmds);
            }
            Action::AddVips { addresses, .. } => {
                // Accept mode needs no kernel change: without nftables rules
                // Linux accepts traffic to any local address.
                let adds: Vec<Address> = addresses
                    .iter()
                    .map(|a| Self::vip_address(&m.plan, *a))
                    .collect();
                // Write-ahead: the intent is on record before the kernel
                // changes anything (see `clean_stale_addresses`).
                let before = self.ledger.adding.len();
                for a in &adds {
                    if !self.ledger.addresses.contains(a) && !self.ledger.adding.contains(a) {
                        self.ledger.adding.push(a.clone());
                    }
                }
                if self.ledger.adding.len() != before {
                    self.write_ledger();
                }
                self.out.extend(adds.into_iter().map(Command::AddAddress));
            }
            Action::RemoveVips { addresses } => {
                let interface = Self::vip_interface(&m.plan).to_string();
                let name = m.plan.name.clone();
                for a in addresses {
                    match self
                        .ledger
                        .addresses
                        .iter()
                        .find(|l| l.interface == interface && l.address == *a)
                    {
                        Some(l) => self.out.push(Command::RemoveAddress(l.clone())),
                        None => self.out.push(Command::log(
                            "vip_kept",
                            json!({"router": name, "address": a.to_string(), "reason": "not added by this daemon"}),
                        )),
                    }
                }
            }
            Action::SendGarp { addresses } => {
                let cmd = Command::SendGarp {
                    interface: Self::vip_interface(&m.plan).to_string(),
                    addresses: addresses.clone(),
                };
                self.out.push(cmd);
            }
            Action::ArmTimer { kind, at } => self.timers.arm(id, *kind, *at),
            Action::CancelTimer { kind } => self.timers.cancel(id, *kind),
            Action::StateChanged { from, to, reason } => {
                let reason = serde_json::to_value(reason).unwrap_or_default();
                let fields = json!({"router": m.plan.name, "vrid": m.plan.vrid, "interface": m.plan.interface,
                       "from": state_name(*from), "to": state_name(*to), "reason": reason});
                self.out.push(Command::log("state_change", fields));
            }
            Action::Alarm(alarm) => {
                let detail = match alarm {
                    Alarm::DualMaster { peer, priority } => {
                        json!({"kind": "dual_master", "peer": peer.to_string(), "priority": priority})
                    }
                    Alarm::MasterVetoed => json!({"kind": "master_vetoed"}),
                    Alarm::ReloadRefused => json!({"kind": "reload_refused"}),
                };
                let fields = json!({"router": m.plan.name, "alarm": detail});
                self.out.push(Command::log("alarm", fields));
            }
        }
    }

    /// The guards' reaction to an action, after it was carried out (a
    /// `master` hook finds the VIPs up).
    fn after_action(&mut self, id: RouterId, action: &Action) {
        let now = self.now;
        match action {
            Action::StateChanged { from, to, reason } => {
                let Some(m) = self.members.get_mut(&id) else {
                    return;
                };
                m.counters.transitions[member::state_index(*to)][reason.index()] += 1;
                let runs = hooks_for(
                    &m.plan.notify,
                    &m.plan,
                    &self.plan.topology_hash,
                    *from,
                    *to,
                );
                let name = m.plan.name.clone();
                let mut start_fence = false;
                let mut resync = false;
                if *to == State::Master {
                    let silent = matches!(reason, Reason::MasterDown | Reason::VetoLifted);
                    if let Some(f) = m.fence.as_mut() {
                        start_fence = f.became_master(silent);
                    }
                    resync = true;
                }
                let next = self
                    .hooks
                    .entry(id)
                    .or_insert_with(|| (name.clone(), NotifyQueue::default()))
                    .1
                    .push(runs);
                // Backup right after start is not a decision yet.
                m.undecided = *from == State::Initialize && *to == State::Backup;
                let told = m.director_state();
                if let Some(d) = self.director.as_mut() {
                    let cmds = d.set_master(&name, told, now);
                    self.director_out(cmds);
                }
                if resync {
                    self.resync(id);
                }
                if let Some(run) = next {
                    self.start_hook(id, run);
                }
                if start_fence {
                    self.start_fence(id);
                }
            }
            Action::Alarm(Alarm::MasterVetoed) => {
                let Some(m) = self.members.get_mut(&id) else {
                    return;
                };
                let reachable = m
                    .arbiter
                    .as_ref()
                    .is_none_or(|a| a.verdict() == Verdict::Reachable);
                if m.fence
                    .as_mut()
                    .is_some_and(|f| f.takeover_wanted(reachable))
                {
                    self.start_fence(id);
                }
            }
            _ => {}
        }
    }

    /// The director's commands; command health checks go through the one
    /// process runner (`Spawn`/`Kill`/`ProcessExited`) like hooks and
    /// trackers, the others to the shell's probe executor.
    fn director_out(&mut self, cmds: Vec<Command>) {
        for cmd in cmds {
            match cmd {
                Command::StartProbe {
                    rs,
                    kind: CheckKind::Command { argv, env },
                } => {
                    self.kill_check(rs);
                    self.spawn(0, ProcKind::Check(rs), argv, env, CHECK_SAFETY_TIMEOUT);
                }
                Command::AbortProbe { rs } if self.kill_check(rs) => {}
                other => self.out.push(other),
            }
        }
    }

    /// Kills the running command check of `rs`; false when there is none.
    fn kill_check(&mut self, rs: RsId) -> bool {
        let procs: Vec<ProcId> = self
            .procs
            .iter()
            .filter(|(_, (_, k))| *k == ProcKind::Check(rs))
            .map(|(p, _)| *p)
            .collect();
        for p in &procs {
            self.procs.remove(p);
            self.out.push(Command::Kill { proc: *p });
        }
        !procs.is_empty()
    }

    // --- processes ---------------------------------------------------------

    fn spawn(
        &mut self,
        id: RouterId,
        kind: ProcKind,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        timeout: Duration,
    ) -> ProcId {
        let proc = self.next_proc;
        self.next_proc += 1;
        self.procs.insert(proc, (id, kind));
        self.out.push(Command::Spawn {
            proc,
            argv,
            env,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        });
        proc
    }

    fn start_hook(&mut self, id: RouterId, run: HookRun) {
        self.counters.hooks_run += 1;
        let name = self.hooks.get(&id).map(|h| h.0.clone());
        let state = run.env.get(1).map(|e| e.1.clone());
        let proc = self.spawn(id, ProcKind::Hook(run.hook), run.argv, run.env, run.timeout);
        self.log(
            "hook_started",
            json!({"router": name, "hook": run.hook, "proc": proc, "state": state}),
        );
    }

    fn fence_env(m: &Member, hash: &str) -> Vec<(String, String)> {
        let peers: Vec<String> = m.plan.peers.iter().map(|p| p.address.to_string()).collect();
        let hosts: Vec<String> = m.plan.peers.iter().map(|p| p.host.clone()).collect();
        vec![
            ("VIGIL_ROUTER".into(), m.plan.name.clone()),
            ("VIGIL_VRID".into(), m.plan.vrid.to_string()),
            ("VIGIL_INTERFACE".into(), m.plan.interface.clone()),
            ("VIGIL_PLAN_HASH".into(), hash.into()),
            ("VIGIL_PEERS".into(), peers.join(" ")),
            ("VIGIL_PEER_HOSTS".into(), hosts.join(" ")),
        ]
    }

    fn start_fence(&mut self, id: RouterId) {
        let Some(m) = self.members.get(&id) else {
            return;
        };
        let Some(f) = m.plan.arbitration.as_ref().and_then(|a| a.fence.clone()) else {
            return;
        };
        let env = Self::fence_env(m, &self.plan.topology_hash);
        let name = m.plan.name.clone();
        let proc = self.spawn(
            id,
            ProcKind::Fence,
            f.command,
            env,
            Duration::from_millis(f.timeout_ms),
        );
        self.log(
            "fence_started",
            json!({"router": name, "proc": proc, "required": f.required}),
        );
    }

    fn on_process_exited(
        &mut self,
        proc: ProcId,
        pid: u32,
        outcome: Option<Outcome>,
        elapsed_ms: u64,
        error: Option<String>,
    ) {
        let Some((id, kind)) = self.procs.remove(&proc) else {
            return;
        };
        let ok = outcome.as_ref().is_some_and(Outcome::success);
        let mut result = match &outcome {
            Some(o) => serde_json::to_value(o).unwrap_or_default(),
            None => json!({"outcome": "spawn_failed", "error": error}),
        };
        if outcome.is_none() {
            self.counters.spawn_errors += 1;
        } else {
            result["pid"] = pid.into();
            result["elapsed_ms"] = elapsed_ms.into();
        }
        let name = self
            .members
            .get(&id)
            .map(|m| m.plan.name.clone())
            .or_else(|| self.hooks.get(&id).map(|h| h.0.clone()));
        match kind {
            ProcKind::Hook(hook) => {
                if !ok {
                    self.counters.hooks_failed += 1;
                }
                if outcome == Some(Outcome::TimedOut) {
                    self.counters.hooks_timed_out += 1;
                }
                self.log(
                    "hook",
                    json!({"router": name, "hook": hook, "ok": ok, "result": result}),
                );
                let next = self.hooks.get_mut(&id).and_then(|h| h.1.finished());
                match next {
                    Some(run) => self.start_hook(id, run),
                    None if !self.members.contains_key(&id) => {
                        self.hooks.remove(&id);
                    }
                    None => {}
                }
            }
            ProcKind::Fence => {
                let now = self.now;
                let Some(m) = self.members.get_mut(&id) else {
                    return;
                };
                let Some(f) = m.fence.as_mut() else { return };
                f.on_exit(ok, now);
                let required = f.required;
                self.log(
                    "fence",
                    json!({"router": name, "ok": ok, "required": required, "result": result}),
                );
                if !ok {
                    self.log(
                        "alarm",
                        json!({"router": name, "alarm": {"kind": "fence_failed", "required": required, "result": result}}),
                    );
                }
                self.resync(id);
            }
            ProcKind::SelfFence => {
                self.log(
                    "self_fence",
                    json!({"router": name, "ok": ok, "result": result}),
                );
            }
            ProcKind::Tracker(index) => {
                let Some(m) = self.members.get_mut(&id) else {
                    return;
                };
                let actions = m.trackers.on_result(index, ok);
                self.track_actions(id, actions);
            }
            ProcKind::Check(rs) => {
                let result = match (&outcome, ok) {
                    (_, true) => Ok(()),
                    (Some(o), false) => Err(format!("check command failed: {}", result_text(o))),
                    (None, false) => Err(format!(
                        "cannot run the check command: {}",
                        error.as_deref().unwrap_or("unknown error")
                    )),
                };
                let now = self.now;
                if let Some(d) = self.director.as_mut() {
                    let cmds = d.on_probe_done(rs, result, now);
                    self.director_out(cmds);
                }
                self.persist_ipvs();
            }
        }
    }

    fn arb_actions(&mut self, id: RouterId, actions: Vec<ArbAction>) {
        let mut queue: VecDeque<ArbAction> = actions.into();
        let mut resync = false;
        while let Some(a) = queue.pop_front() {
            let Some(m) = self.members.get_mut(&id) else {
                return;
            };
            let name = m.plan.name.clone();
            match a {
                ArbAction::SendEcho { target, seq } => {
                    if self.echo.contains_key(&name) {
                        self.out.push(Command::SendEcho {
                            router: name,
                            target,
                            seq,
                        });
                    } else {
                        // No socket (interface missing): the probe is lost.
                        let now = self.now;
                        if let Some(a) = m.arbiter.as_mut() {
                            queue.extend(a.on_send_error(target, now));
                        }
                    }
                }
                ArbAction::VerdictChanged { from, to } => {
                    self.log(
                        "arbitration",
                        json!({"router": name, "from": from, "to": to}),
                    );
                    resync = true;
                }
                ArbAction::AllowMaster(_) => resync = true,
                ArbAction::Isolated(on) => {
                    m.faults.isolated = on;
                    self.log("isolated", json!({"router": name, "isolated": on}));
                    resync = true;
                }
                ArbAction::SelfFence => {
                    let argv = m
                        .plan
                        .arbitration
                        .as_ref()
                        .and_then(|a| a.self_fence.clone())
                        .unwrap_or_default();
                    let env = Self::fence_env(m, &self.plan.topology_hash);
                    let proc = self.spawn(id, ProcKind::SelfFence, argv, env, SELF_FENCE_TIMEOUT);
                    self.log("self_fence_started", json!({"router": name, "proc": proc}));
                }
            }
        }
        if resync {
            self.resync(id);
        }
    }

    /// An HTTP answer: for the lease core that sent the request.
    fn on_http(&mut self, req: u64, result: Result<HttpReply, String>) {
        let now = self.now;
        if let Some(router) = self.revokes.remove(&req) {
            let ok = result.as_ref().is_ok_and(|r| r.status == 200);
            let error = match &result {
                Ok(r) if r.status != 200 => Some(format!("HTTP {}", r.status)),
                Ok(_) => None,
                Err(e) => Some(e.clone()),
            };
            self.log(
                "lease_revoked",
                json!({"router": router, "ok": ok, "error": error}),
            );
            return;
        }
        let owner = self
            .members
            .iter()
            .find(|(_, m)| m.lease.as_ref().is_some_and(|l| l.owns(req)))
            .map(|(id, _)| *id);
        let Some(id) = owner else {
            self.counters.http_unclaimed += 1;
            return;
        };
        let reply = match &result {
            Ok(r) => Ok((r.status, r.body.as_str())),
            Err(e) => Err(e.as_str()),
        };
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        let Some(lease) = m.lease.as_mut() else {
            return;
        };
        let actions = lease.on_reply(req, reply, now, &mut self.http_ids);
        self.lease_actions(id, actions);
    }

    /// Carries out a lease core's actions.
    fn lease_actions(&mut self, id: RouterId, actions: Vec<LeaseAction>) {
        let Some(name) = self.members.get(&id).map(|m| m.plan.name.clone()) else {
            return;
        };
        let mut resync = false;
        for a in &actions {
            if let LeaseAction::Holding { on, why } = a {
                let state = self
                    .members
                    .get(&id)
                    .and_then(|m| m.lease.as_ref())
                    .map(|l| l.state(self.now));
                self.log(
                    "lease",
                    json!({"router": name, "holding": on, "state": state, "why": why}),
                );
                resync = true;
            }
        }
        self.lease_out(&name, actions);
        if resync {
            self.resync(id);
        }
    }

    /// The requests and log lines of a lease core's actions.
    fn lease_out(&mut self, router: &str, actions: Vec<LeaseAction>) {
        for a in actions {
            match a {
                LeaseAction::Request {
                    req,
                    endpoint,
                    path,
                    body,
                    timeout_ms,
                } => self.out.push(Command::HttpRequest {
                    req,
                    endpoint,
                    path: path.to_string(),
                    body,
                    timeout_ms,
                }),
                LeaseAction::Log { what, mut fields } => {
                    if let Some(o) = fields.as_object_mut() {
                        o.insert("router".into(), json!(router));
                    }
                    self.log(what, fields);
                }
                LeaseAction::Holding { .. } => {}
            }
        }
    }

    fn track_actions(&mut self, id: RouterId, actions: Vec<TrackAction>) {
        let mut resync = false;
        for a in actions {
            let Some(m) = self.members.get_mut(&id) else {
                return;
            };
            match a {
                TrackAction::Run {
                    index,
                    argv,
                    timeout,
                } => {
                    let env = vec![
                        ("VIGIL_ROUTER".to_string(), m.plan.name.clone()),
                        (
                            "VIGIL_TRACKER".to_string(),
                            m.trackers.list()[index].name.clone(),
                        ),
                    ];
                    self.spawn(id, ProcKind::Tracker(index), argv, env, timeout);
                }
                TrackAction::Changed { index, state } => {
                    let t = &m.trackers.list()[index];
                    let fields = json!({"router": m.plan.name, "tracker": t.name, "state": state,
                        "effective_priority": m.trackers.effective_priority()});
                    self.log("tracker", fields);
                    resync = true;
                }
            }
        }
        if resync {
            self.resync(id);
        }
    }

    // --- addresses ---------------------------------------------------------

    fn on_address_result(&mut self, address: Address, added: bool, outcome: AddrOutcome) {
        let before = self.ledger.clone();
        if added {
            self.ledger.adding.retain(|a| *a != address);
        }
        match (&outcome, added) {
            (AddrOutcome::Done, true) => {
                if !self.ledger.addresses.contains(&address) {
                    self.ledger.addresses.push(address.clone());
                    self.ledger.addresses.sort();
                }
                // The router may have left MASTER (or the node stopped)
                // before this answer came: the address is ours now, and
                // nobody claims it.
                let claimed = self.members.values().any(|m| {
                    m.state() == State::Master
                        && Self::vip_interface(&m.plan) == address.interface
                        && m.plan.vips.iter().any(|v| v.address == address.address)
                });
                if !claimed {
                    self.log(
                        "vip_withdrawn",
                        json!({"interface": address.interface, "address": address.address.to_string(),
                               "reason": "added after its router stopped being master"}),
                    );
                    self.out.push(Command::RemoveAddress(address.clone()));
                }
            }
            (AddrOutcome::Unchanged, true) => {
                // Already there: the host's own address (an owner), or one
                // added by someone else. Never ours to remove.
            }
            (AddrOutcome::Done | AddrOutcome::Unchanged, false) => {
                self.ledger.addresses.retain(|l| {
                    !(l.interface == address.interface && l.address == address.address)
                });
            }
            (AddrOutcome::Failed { .. }, _) => {
                if added {
                    self.counters.vip_add_errors += 1;
                } else {
                    self.counters.vip_remove_errors += 1;
                }
            }
        }
        let what = if added { "add" } else { "remove" };
        let ok = !matches!(outcome, AddrOutcome::Failed { .. });
        if !added && self.stale.remove(&address) {
            if ok {
                self.counters.stale_addresses_removed += 1;
            }
            self.log(
                "stale_vip_removed",
                json!({"interface": address.interface, "address": address.address.to_string(),
                       "prefix_len": address.prefix_len, "label": address.label, "ok": ok, "outcome": outcome}),
            );
        }
        self.log(
            if ok { "address" } else { "error" },
            json!({"what": format!("{what} address"), "interface": address.interface, "address": address.address.to_string(),
                   "prefix_len": address.prefix_len, "label": address.label, "outcome": outcome}),
        );
        if self.ledger != before {
            self.write_ledger();
        }
    }

    fn write_ledger(&mut self) {
        self.ledger.format = LEDGER_FORMAT;
        self.out.push(Command::WriteLedger(self.ledger.clone()));
    }

    fn persist_ipvs(&mut self) {
        if let Some(d) = self.director.as_ref()
            && *d.ownership() != self.ledger.ipvs
        {
            self.ledger.ipvs = d.ownership().clone();
            self.write_ledger();
        }
    }

    // --- links and sockets -------------------------------------------------

    fn on_link(&mut self, link: Link) {
        let name = link.name.clone();
        let previous = self.links.get(&name).cloned();
        let was_up = Self::link_up(&self.links, &name);
        if link.exists {
            let mut l = link.clone();
            if l.mac.is_empty()
                && let Some(p) = &previous
            {
                l.mac = p.mac.clone();
            }
            self.links.insert(name.clone(), l);
        } else {
            // Only the interface of that index is gone (a rename may have
            // reused the name already).
            if previous.as_ref().is_some_and(|p| p.ifindex == link.ifindex) {
                self.links.insert(name.clone(), link.clone());
            } else {
                return;
            }
            // Its addresses went with it.
            let before = self.ledger.addresses.len();
            self.ledger.addresses.retain(|a| a.interface != name);
            if self.ledger.addresses.len() != before {
                self.write_ledger();
            }
        }
        if link.exists {
            self.adopt_vmacs();
        }
        let up = Self::link_up(&self.links, &name);
        if !self.interfaces().contains(&name) {
            // Not one of ours: only trackers care.
        } else if up != was_up || previous.as_ref().map(|p| p.ifindex) != Some(link.ifindex) {
            self.log(
                "link",
                json!({"interface": name, "up": up, "exists": link.exists, "ifindex": link.ifindex}),
            );
        }
        // Trackers watching it.
        let ids: Vec<RouterId> = self.members.keys().copied().collect();
        for id in &ids {
            let Some(m) = self.members.get_mut(id) else {
                continue;
            };
            let actions = m.trackers.on_link(&name, up);
            if !actions.is_empty() {
                self.track_actions(*id, actions);
            }
        }
        self.ensure_sockets();
        // The routers on it.
        for id in ids {
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            let vmac = m.plan.vmac.as_ref().map(|v| v.interface.as_str());
            if m.plan.interface != name && vmac != Some(name.as_str()) {
                continue;
            }
            let up = Self::link_up(&self.links, &m.plan.interface)
                && vmac.is_none_or(|v| Self::link_up(&self.links, v));
            // The parent is back (or new) without its virtual MAC interface.
            if let Some(v) = &m.plan.vmac
                && name == m.plan.interface
                && link.exists
                && !self.links.get(&v.interface).is_some_and(|l| l.exists)
                && !self.stopping
            {
                self.out.push(Command::CreateVmac {
                    interface: v.interface.clone(),
                    parent: m.plan.interface.clone(),
                    mac: v.mac.clone(),
                });
            }
            if m.faults.link == up {
                m.faults.link = !up;
                // What the arbiter concluded while the link was down or
                // gone says nothing about the link now: start afresh
                // (unknown, which vetoes mastership) and probe at once,
                // rather than holding an isolation FAULT until the next
                // probe is due.
                if up
                    && m.arbiter
                        .as_ref()
                        .is_some_and(|a| a.verdict() != Verdict::Reachable)
                    && let Some(plan) = m.plan.arbitration.as_ref()
                {
                    let mut fresh = Arbiter::new(plan, self.now);
                    let start = fresh.start();
                    m.arbiter = Some(fresh);
                    m.faults.isolated = false;
                    self.arb_actions(id, start);
                }
                self.resync(id);
            }
        }
    }

    /// Opens, re-opens and closes sockets to match the routers and links.
    fn ensure_sockets(&mut self) {
        let mut want: BTreeMap<(String, Family), (u32, bool)> = BTreeMap::new();
        let mut want_echo: BTreeMap<String, (String, IpAddr, u32)> = BTreeMap::new();
        for m in self.members.values() {
            let p = &m.plan;
            let mut ifs = vec![(
                Self::rx_interface(p).to_string(),
                p.unicast_peers.is_empty(),
            )];
            ifs.extend(
                p.heartbeat_paths
                    .iter()
                    .map(|h| (h.interface.clone(), false)),
            );
            // Adverts leave from the virtual MAC interface (received there
            // too with multicast, on the router's own with unicast).
            ifs.extend(p.vmac.as_ref().map(|v| (v.interface.clone(), false)));
            for (i, multicast) in ifs {
                let Some(l) = self.links.get(&i).filter(|l| l.exists) else {
                    continue;
                };
                let e = want.entry((i, p.family)).or_insert((l.ifindex, false));
                e.1 |= multicast;
            }
            if p.arbitration
                .as_ref()
                .is_some_and(|a| !a.reference_ips.is_empty())
                && let Some(l) = self.links.get(&p.interface).filter(|l| l.exists)
            {
                want_echo.insert(
                    p.name.clone(),
                    (p.interface.clone(), p.source_address, l.ifindex),
                );
            }
        }
        let have = std::mem::take(&mut self.sockets);
        for (key, (ifindex, _)) in &have {
            if want.get(key).is_none_or(|(i, _)| i != ifindex) {
                self.out.push(Command::CloseVrrp {
                    interface: key.0.clone(),
                    family: key.1,
                });
            }
        }
        for (key, (ifindex, multicast)) in &want {
            if have.get(key) != Some(&(*ifindex, *multicast)) {
                self.out.push(Command::OpenVrrp {
                    interface: key.0.clone(),
                    ifindex: *ifindex,
                    family: key.1,
                    multicast: *multicast,
                });
            }
        }
        self.sockets = want;
        let have_echo = std::mem::take(&mut self.echo);
        for (router, ifindex) in &have_echo {
            if want_echo.get(router).is_none_or(|w| w.2 != *ifindex) {
                self.out.push(Command::CloseEcho {
                    router: router.clone(),
                });
            }
        }
        for (router, (interface, source, ifindex)) in want_echo {
            if have_echo.get(&router) != Some(&ifindex) {
                self.out.push(Command::OpenEcho {
                    router: router.clone(),
                    interface,
                    source,
                });
            }
            self.echo.insert(router, ifindex);
        }
    }

    // --- packets -----------------------------------------------------------

    fn on_vrrp(
        &mut self,
        interface: &str,
        family: Family,
        ip: &crate::wire::IpMeta,
        payload: &[u8],
    ) {
        let received = decode(ip, payload);
        let vrid = match &received {
            Received::Advert(r) => Some(r.vrid),
            Received::Error { vrid, .. } => *vrid,
        };
        let id = vrid.and_then(|v| {
            self.by_key
                .get(&(interface.to_string(), family, v))
                .copied()
        });
        match (received, id) {
            (Received::Advert(repr), Some(id)) => {
                let input = self.members[&id].router.classify(ip, &repr);
                self.queue.push_back((id, input));
            }
            (Received::Error { reason, .. }, Some(id)) => {
                self.queue.push_back((id, Input::RxError { reason }));
            }
            (Received::Advert(_), None) => self.unattributed.record(RxError::UnknownVrid),
            (Received::Error { reason, .. }, None) => self.unattributed.record(reason),
        }
    }

    // --- time --------------------------------------------------------------

    fn tick(&mut self) {
        let now = self.now;
        while let Some((id, kind)) = self.timers.pop_due(now) {
            if kind == crate::vrrp::TimerKind::MasterDown
                && let Some(m) = self.members.get_mut(&id)
                && m.state() == State::Backup
            {
                m.counters.master_down_expiries += 1;
            }
            self.feed(id, Input::Timer { kind });
            self.drain();
        }
        let ids: Vec<RouterId> = self.members.keys().copied().collect();
        for id in ids {
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            let arb = match m.arbiter.as_mut() {
                Some(a) if a.next_deadline() <= now => a.poll(now),
                _ => Vec::new(),
            };
            self.arb_actions(id, arb);
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            let track = m.trackers.poll(now);
            self.track_actions(id, track);
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            if m.fence.as_mut().is_some_and(|f| f.poll(now)) {
                self.resync(id);
            }
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            let lease = match m.lease.as_mut() {
                Some(l) if l.next_deadline() <= now => l.poll(now, &mut self.http_ids),
                _ => Vec::new(),
            };
            self.lease_actions(id, lease);
            self.drain();
        }
        if let Some(d) = self.director.as_mut() {
            let cmds = d.tick(now);
            self.director_out(cmds);
        }
        self.persist_ipvs();
    }

    // --- reload ------------------------------------------------------------

    fn reload(&mut self, new: Plan, passwords: BTreeMap<String, Vec<u8>>) {
        self.counters.reloads += 1;
        if let Err(e) = Self::check_plan(&new, &passwords) {
            self.counters.reload_errors += 1;
            self.log("reload_failed", json!({"error": e}));
            return;
        }
        let old_hash = self.plan.topology_hash.clone();
        let old_passwords = std::mem::replace(&mut self.passwords, passwords);
        let new_routers: BTreeMap<String, PlanRouter> = new
            .routers
            .iter()
            .map(|r| (r.name.clone(), r.clone()))
            .collect();
        self.plan = new;
        let (mut kept, mut reloaded, mut restarted, mut removed, mut added) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let ids: Vec<RouterId> = self.members.keys().copied().collect();
        for id in ids {
            let m = &self.members[&id];
            let name = m.plan.name.clone();
            let Some(p) = new_routers.get(&name) else {
                self.remove_member(id);
                removed.push(name);
                continue;
            };
            if *p == m.plan && old_passwords.get(&name) == self.passwords.get(&name) {
                kept.push(name);
                continue;
            }
            let built = build_router(p, self.plan.startup_delay_ms, self.passwords.get(&name));
            let same = built
                .as_ref()
                .is_ok_and(|r| m.router.config().same_identity(r.config()))
                && old_passwords.get(&name) == self.passwords.get(&name);
            if !same {
                self.remove_member(id);
                self.add_member(p.clone());
                restarted.push(name);
                continue;
            }
            let Ok(router) = built else { continue };
            let mut config = Box::new(router.config().clone());
            let was_master = m.state() == State::Master;
            let old_vips: Vec<Address> = m
                .plan
                .vips
                .iter()
                .map(|v| Self::vip_address(&m.plan, v.address))
                .collect();
            // The new plan first: the VIPs the core adds take its prefixes.
            let now = self.now;
            let links = &self.links;
            if let Some(m) = self.members.get_mut(&id) {
                m.reloaded(p.clone(), now, |i| Self::link_up(links, i));
            }
            // The core takes the priority its guards allow: a demoted
            // master must not advertise its configured priority for an
            // instant (that resets the master-down timer of the backup
            // that should preempt it).
            if let Some(priority) = self.effective_priority(id) {
                config.priority = priority;
            }
            self.feed(id, Input::PlanReload { config });
            self.drain();
            // Same address, new prefix or label: replace it in place.
            if was_master {
                let plan = self.members[&id].plan.clone();
                for v in &plan.vips {
                    let want = Self::vip_address(&plan, v.address);
                    let had = old_vips.iter().find(|o| o.address == v.address);
                    if had.is_some_and(|h| *h != want) {
                        if let Some(l) = self
                            .ledger
                            .addresses
                            .iter()
                            .find(|l| l.interface == want.interface && l.address == want.address)
                            .cloned()
                        {
                            self.out.push(Command::RemoveAddress(l));
                        }
                        self.out.push(Command::AddAddress(want));
                    }
                }
            }
            let start = self
                .members
                .get_mut(&id)
                .and_then(|m| m.arbiter.as_mut())
                .filter(|a| a.targets().iter().all(|t| t.sent == 0))
                .map(|a| a.start())
                .unwrap_or_default();
            self.arb_actions(id, start);
            self.resync(id);
            reloaded.push(name);
        }
        for (name, p) in &new_routers {
            if !self.by_name.contains_key(name) {
                if let Some(id) = self.add_member(p.clone()) {
                    self.queue.push_back((id, Input::Startup));
                }
                if !restarted.contains(name) {
                    added.push(name.clone());
                }
            }
        }
        for name in &restarted {
            if let Some(&id) = self.by_name.get(name) {
                self.queue.push_back((id, Input::Startup));
            }
        }
        self.reindex();
        self.ensure_sockets();
        // Groups may have changed: resync everyone.
        let ids: Vec<RouterId> = self.members.keys().copied().collect();
        for id in ids {
            self.resync(id);
        }
        let now = self.now;
        let vss = self.plan.virtual_servers.clone();
        match self.director.as_mut() {
            Some(d) => {
                let cmds = d.reload(vss, now);
                self.director_out(cmds);
            }
            None if vss.is_empty() => {}
            None => {
                let (mut d, cmds) = DirectorCore::new(vss, self.ledger.ipvs.clone(), now);
                self.director_out(cmds);
                let mut all = Vec::new();
                for m in self.members.values() {
                    all.extend(d.set_master(&m.plan.name, m.director_state(), now));
                }
                self.director_out(all);
                self.director = Some(d);
            }
        }
        self.log(
            "reloaded",
            json!({"previous_plan": old_hash, "kept": kept, "reloaded": reloaded, "restarted": restarted, "removed": removed, "added": added}),
        );
    }

    // --- shutdown ----------------------------------------------------------

    fn shutdown(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        self.log("shutdown", json!({}));
        let ids: Vec<RouterId> = self.members.keys().copied().collect();
        for id in ids {
            self.remove_member(id);
        }
        self.ensure_sockets();
        let now = self.now;
        if let Some(d) = self.director.as_mut() {
            let cmds = d.shutdown(now);
            self.director_out(cmds);
        }
        self.persist_ipvs();
        self.out.push(Command::Stopped);
    }

    // --- status ------------------------------------------------------------

    /// The status document `vigild status` prints.
    pub fn status_document(&self, now: Instant) -> Value {
        let routers: Vec<Value> = self
            .members
            .iter()
            .map(|(id, m)| {
                let pending = self.hooks.get(id).map_or(0, |h| h.1.pending());
                m.status_row(now, pending)
            })
            .collect();
        json!({"host": self.host, "plan": self.plan.topology_hash,
               "routers": routers, "node": self.counters,
               "unattributed": self.unattributed,
               "addresses_added": self.ledger.addresses,
               "director": self.director.as_ref().map(DirectorCore::status)})
    }
}

/// Every interface a plan's routers use or track.
pub fn interfaces_of(plan: &Plan) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for r in &plan.routers {
        all.insert(r.interface.clone());
        all.extend(r.vmac.as_ref().map(|v| v.interface.clone()));
        all.extend(r.heartbeat_paths.iter().map(|h| h.interface.clone()));
        all.extend(r.trackers.iter().filter_map(|t| match &t.kind {
            vigil_schema::plan::PlanTrackerKind::Interface { interface } => Some(interface.clone()),
            vigil_schema::plan::PlanTrackerKind::Command { .. } => None,
        }));
    }
    all
}

fn result_text(o: &Outcome) -> String {
    match o {
        Outcome::Exited { code } => format!("exit status {code}"),
        Outcome::Signaled { signal } => format!("killed by signal {signal}"),
        Outcome::TimedOut => "timed out".into(),
    }
}
