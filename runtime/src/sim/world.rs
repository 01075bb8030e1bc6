//! The engine: one event queue ordered by (time, sequence), the hosts'
//! nodes and kernels, the network between them, and the scenario's faults.
//!
//! Each step takes the earliest of: the queue's head, or a node whose
//! [`Node::next_deadline`] has come (fed [`Event::Tick`]). Queue items win a
//! tie with ticks, lower host indexes win ties between ticks. Whatever a
//! node returns is carried out at once (kernel changes apply in the same
//! instant; answers, packets and process exits are queued), then the
//! invariants are checked.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use vigil_schema::plan::{Family, Plan, PlanRouter, PlanTrackerKind};

use crate::health::scheduler::RsId;
use crate::hooks::process::Outcome;
use crate::node::{Command, Event, Ledger, Link, Node, ProcId};
use crate::vrrp::{Instant, State};
use crate::wire::IpMeta;

use super::invariants::{Invariant, RouterInfo, Violation};
use super::kernel::Kernel;
use super::record::{FaultRecord, HolderChange, Record, Transition};
use super::rng::Rng;
use super::scenario::{Cut, Fault, NetProfile, Scenario};
use super::topology::{SimHost, SimTopology};
use super::trace::{Trace, TraceItem, fmt_time};

/// Ticks at one instant after which a node is declared stuck.
const MAX_TICKS_AT_ONE_INSTANT: u32 = 64;

/// Something queued for a time.
#[derive(Clone, Debug)]
pub(super) enum Item {
    /// A host's first start.
    Boot {
        host: usize,
    },
    Fault(Fault),
    /// An answer or notification for one life of a host's daemon.
    ToNode {
        host: usize,
        life: u64,
        event: Event,
    },
    /// A VRRP packet arriving on a host's interface.
    Packet {
        host: usize,
        interface: String,
        family: Family,
        ip: IpMeta,
        payload: Vec<u8>,
    },
    /// An echo reply arriving for a router's echo socket.
    EchoReply {
        host: usize,
        life: u64,
        router: String,
        from: IpAddr,
        seq: u16,
    },
    /// A child process ends.
    ProcDone {
        host: usize,
        life: u64,
        proc: ProcId,
        outcome: Outcome,
        elapsed: Duration,
        /// A successful fence of this router: power off the peers it fences.
        fence_of: Option<String>,
    },
    /// A health check ends.
    ProbeDone {
        host: usize,
        life: u64,
        rs: RsId,
        token: u64,
        result: Result<(), String>,
    },
}

#[derive(Debug)]
struct Queued {
    at: Instant,
    seq: u64,
    item: Item,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// One simulated host.
#[derive(Debug)]
pub(super) struct HostSim {
    pub(super) spec: SimHost,
    /// The plan in force (changes with reloads).
    pub(super) plan: Plan,
    pub(super) node: Option<Node>,
    /// Incremented whenever a daemon starts or dies: answers for an earlier
    /// life are dropped.
    pub(super) life: u64,
    pub(super) powered: bool,
    pub(super) kernel: Kernel,
    pub(super) ledger: Option<Ledger>,
    pub(super) wake: Option<Instant>,
    pub(super) started_at: Instant,
    /// Open VRRP sockets: (interface, family) -> (ifindex, multicast).
    pub(super) sockets: BTreeMap<(String, Family), (u32, bool)>,
    /// Open echo sockets: router -> interface.
    pub(super) echo: BTreeMap<String, String>,
    /// Running children: proc -> a token the exit must match.
    pub(super) procs: BTreeMap<ProcId, u64>,
    probes: BTreeMap<RsId, u64>,
    pub(super) fence_fails: bool,
    pub(super) tracker_fails: BTreeSet<String>,
    ticks_at: (Instant, u32),
    /// Answers go out in order (one netlink socket): the last one's time.
    last_answer: Instant,
    /// Address changes asked for and not yet answered, by (interface, address).
    pub(super) in_flight: BTreeMap<(String, IpAddr), u32>,
    /// The daemon said `Stopped`: it exits once its answers are in.
    stopping: bool,
}

/// The network's current condition.
#[derive(Clone, Debug, Default)]
pub(super) struct NetState {
    pub(super) profile: NetProfile,
    pub(super) cuts: BTreeMap<String, Cut>,
    pub(super) dark: BTreeSet<IpAddr>,
    pub(super) rs_down: BTreeSet<IpAddr>,
    /// The lease store (etcd), with its own outages and partitions.
    pub(super) store: super::store::Store,
}

/// A failed run: the seed, the broken invariant and what led to it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub seed: u64,
    pub scenario: String,
    pub violation: Violation,
    /// The last events and commands, one per line.
    pub trace: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "simulation failed: seed {} scenario `{}`",
            self.seed, self.scenario
        )?;
        writeln!(
            f,
            "invariant {} broken at {}: {}",
            self.violation.invariant.name(),
            fmt_time(self.violation.at),
            self.violation.detail
        )?;
        writeln!(f, "  ({})", self.violation.invariant.rule())?;
        writeln!(
            f,
            "last events (<- into a node, -> out of it, ** the world):"
        )?;
        f.write_str(&self.trace)
    }
}

/// A deterministic simulation of a cluster of [`Node`]s.
#[derive(Debug)]
pub struct Sim {
    pub(super) topo: SimTopology,
    pub(super) scenario: Scenario,
    pub(super) seed: u64,
    pub(super) rng: Rng,
    pub(super) now: Instant,
    end: Instant,
    seq: u64,
    queue: BinaryHeap<Reverse<Queued>>,
    pub(super) hosts: Vec<HostSim>,
    pub(super) net: NetState,
    trace: Trace,
    pub(super) record: Record,
    /// The last time anything changed the world (a fault, a crash, a fence).
    pub(super) last_disturbance: Instant,
    /// Derived from the plans: per router.
    pub(super) routers: BTreeMap<String, RouterInfo>,
    /// Per router: since when two or more members are master.
    pub(super) dual_since: BTreeMap<String, Instant>,
    /// Per router: since when no member is master.
    pub(super) none_since: BTreeMap<String, Instant>,
    /// Per (host, sync group): since when its members disagree.
    pub(super) split_since: BTreeMap<(usize, String), Instant>,
    /// Per (host, virtual server): since when IPVS disagrees with mastership.
    pub(super) ipvs_since: BTreeMap<(usize, String), Instant>,
    /// Sends per (host, interface, vrid, destination) in the current window.
    pub(super) sends: BTreeMap<(usize, String, u8, IpAddr), VecDeque<Instant>>,
    pub(super) echoes: BTreeMap<(usize, String, IpAddr), VecDeque<Instant>>,
    /// A state changed or a daemon came or went since the last cluster check.
    pub(super) states_changed: bool,
    /// Hosts whose addresses or states changed since their last check.
    pub(super) host_dirty: BTreeSet<usize>,
    holders_dirty: bool,
    holders: BTreeMap<IpAddr, Vec<String>>,
    /// Stop at the first violation (tests) or record them all (`vigil simulate`).
    pub stop_at_violation: bool,
    /// Invariants switched off by the caller.
    pub(super) disabled: BTreeSet<Invariant>,
    failure: Option<Failure>,
    steps: u64,
}

impl Sim {
    /// A simulation of `topo` under `scenario`; every host boots and starts
    /// its daemon at time zero.
    pub fn new(topo: SimTopology, scenario: Scenario, seed: u64) -> Result<Sim, String> {
        topo.check()?;
        let hosts: Vec<HostSim> = topo
            .hosts
            .iter()
            .map(|h| HostSim {
                spec: h.clone(),
                plan: h.plan.clone(),
                node: None,
                life: 0,
                powered: false,
                kernel: Kernel::default(),
                ledger: None,
                wake: None,
                started_at: Instant::ZERO,
                sockets: BTreeMap::new(),
                echo: BTreeMap::new(),
                procs: BTreeMap::new(),
                probes: BTreeMap::new(),
                fence_fails: false,
                tracker_fails: BTreeSet::new(),
                ticks_at: (Instant::ZERO, 0),
                last_answer: Instant::ZERO,
                in_flight: BTreeMap::new(),
                stopping: false,
            })
            .collect();
        let end = Instant::ZERO + scenario.duration;
        let mut sim = Sim {
            rng: Rng::new(seed),
            seed,
            now: Instant::ZERO,
            end,
            seq: 0,
            queue: BinaryHeap::new(),
            hosts,
            net: NetState {
                profile: scenario.network.clone(),
                ..NetState::default()
            },
            trace: Trace::new(300),
            record: Record::default(),
            last_disturbance: Instant::ZERO,
            routers: BTreeMap::new(),
            dual_since: BTreeMap::new(),
            none_since: BTreeMap::new(),
            split_since: BTreeMap::new(),
            ipvs_since: BTreeMap::new(),
            sends: BTreeMap::new(),
            echoes: BTreeMap::new(),
            states_changed: true,
            host_dirty: BTreeSet::new(),
            holders_dirty: true,
            holders: BTreeMap::new(),
            stop_at_violation: true,
            disabled: BTreeSet::new(),
            failure: None,
            steps: 0,
            topo,
            scenario,
        };
        sim.rebuild_router_info();
        for h in 0..sim.hosts.len() {
            let at = Instant::ZERO
                + match sim.scenario.boot.get(&sim.hosts[h].spec.name) {
                    Some(d) => *d,
                    None => sim.scenario.start_gap * u32::try_from(h).unwrap_or(u32::MAX),
                };
            sim.push(at, Item::Boot { host: h });
        }
        for e in sim.scenario.sorted_events() {
            sim.push(Instant::ZERO + e.at, Item::Fault(e.fault));
        }
        Ok(sim)
    }

    /// Keep the last `n` trace entries (default 300).
    pub fn set_trace_len(&mut self, n: usize) {
        self.trace.set_capacity(n);
    }

    /// Do not check this invariant.
    pub fn disable(&mut self, invariant: Invariant) {
        self.disabled.insert(invariant);
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn end(&self) -> Instant {
        self.end
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    pub fn record(&self) -> &Record {
        &self.record
    }

    pub fn topology(&self) -> &SimTopology {
        &self.topo
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The first violation, when [`Sim::stop_at_violation`] stopped the run.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// The node of a host, while its daemon runs.
    pub fn node(&self, host: &str) -> Option<&Node> {
        self.host_index(host)
            .and_then(|h| self.hosts[h].node.as_ref())
    }

    /// A host's kernel.
    pub fn kernel(&self, host: &str) -> Option<&Kernel> {
        self.host_index(host).map(|h| &self.hosts[h].kernel)
    }

    /// The ledger a host's daemon last wrote (what a restart gets back).
    pub fn ledger(&self, host: &str) -> Option<&Ledger> {
        self.host_index(host)
            .and_then(|h| self.hosts[h].ledger.as_ref())
    }

    /// A router's state on a host (None: no daemon, or no such router).
    pub fn state(&self, host: &str, router: &str) -> Option<State> {
        self.node(host).and_then(|n| n.state_of(router))
    }

    /// The hosts whose kernel carries `vip` now, sorted.
    pub fn holders(&self, vip: IpAddr) -> Vec<String> {
        let mut out: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| h.kernel.addresses.iter().any(|a| a.address == vip))
            .map(|h| h.spec.name.clone())
            .collect();
        out.sort();
        out
    }

    /// The hosts on which `router` is master now.
    pub fn masters(&self, router: &str) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|h| {
                h.node
                    .as_ref()
                    .is_some_and(|n| n.state_of(router) == Some(State::Master))
            })
            .map(|h| h.spec.name.clone())
            .collect()
    }

    pub(super) fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.spec.name == name)
    }

    pub(super) fn host_names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.spec.name.clone()).collect()
    }

    /// The trace so far, rendered.
    pub fn trace(&self) -> String {
        self.trace.render(&self.host_names())
    }

    pub(super) fn push(&mut self, at: Instant, item: Item) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            item,
        }));
    }

    pub(super) fn note(&mut self, host: Option<usize>, text: String) {
        self.trace.push(self.now, host, TraceItem::World(text));
    }

    // --- running -------------------------------------------------------------

    /// Runs to the scenario's end; `Err` on the first violation when
    /// [`Sim::stop_at_violation`] is set.
    pub fn run(&mut self) -> Result<(), Failure> {
        let end = self.end;
        self.run_until(end)
    }

    /// Runs until `t` (or the scenario's end, whichever is first).
    pub fn run_until(&mut self, t: Instant) -> Result<(), Failure> {
        let limit = t.min(self.end);
        loop {
            if let Some(f) = &self.failure {
                return Err(f.clone());
            }
            let head = self.queue.peek().map(|Reverse(q)| q.at);
            let tick = self
                .hosts
                .iter()
                .enumerate()
                .filter_map(|(i, h)| h.wake.map(|w| (w.max(self.now), i)))
                .min();
            let next = match (head, tick) {
                (Some(q), Some((w, _))) => q.min(w),
                (Some(q), None) => q,
                (None, Some((w, _))) => w,
                (None, None) => break,
            };
            if next > limit {
                break;
            }
            self.now = self.now.max(next);
            self.steps += 1;
            match (head, tick) {
                (Some(q), Some((w, _))) if q <= w => self.pop_item(),
                (Some(_), None) => self.pop_item(),
                (_, Some((_, h))) => self.tick(h),
                (None, None) => break,
            }
        }
        self.now = self.now.max(limit);
        match &self.failure {
            Some(f) => Err(f.clone()),
            None => Ok(()),
        }
    }

    /// Runs for `d` more.
    pub fn run_for(&mut self, d: Duration) -> Result<(), Failure> {
        let t = self.now + d;
        self.run_until(t)
    }

    fn pop_item(&mut self) {
        let Some(Reverse(q)) = self.queue.pop() else {
            return;
        };
        match q.item {
            Item::Boot { host } => {
                let name = self.hosts[host].spec.name.clone();
                self.note(Some(host), format!("{name} boots"));
                self.last_disturbance = self.now;
                self.start_daemon(host);
            }
            Item::Fault(f) => self.apply_fault(f),
            Item::ToNode { host, life, event } => {
                if self.hosts[host].life != life {
                    return;
                }
                if let Event::AddressResult { address, .. } = &event {
                    self.host_dirty.insert(host);
                    let key = (address.interface.clone(), address.address);
                    let h = &mut self.hosts[host];
                    if let Some(n) = h.in_flight.get_mut(&key) {
                        *n -= 1;
                        if *n == 0 {
                            h.in_flight.remove(&key);
                        }
                    }
                }
                self.deliver(host, event);
                let h = &self.hosts[host];
                if h.stopping && h.in_flight.is_empty() {
                    self.daemon_gone(host, "stopped");
                    self.check_stopped(host);
                }
            }
            Item::Packet {
                host,
                interface,
                family,
                ip,
                payload,
            } => {
                let h = &self.hosts[host];
                let Some(link) = h.kernel.link(&interface).filter(|l| l.up) else {
                    return;
                };
                let open = match h.sockets.get(&(interface.clone(), family)) {
                    Some((ifindex, multicast)) => {
                        *ifindex == link.ifindex && (*multicast || !ip.dst.is_multicast())
                    }
                    None => false,
                };
                if open && h.node.is_some() {
                    self.deliver(
                        host,
                        Event::Vrrp {
                            interface,
                            family,
                            ip,
                            payload,
                        },
                    );
                }
            }
            Item::EchoReply {
                host,
                life,
                router,
                from,
                seq,
            } => {
                let h = &self.hosts[host];
                if h.life == life && h.echo.contains_key(&router) {
                    self.deliver(host, Event::EchoReply { router, from, seq });
                }
            }
            Item::ProcDone {
                host,
                life,
                proc,
                outcome,
                elapsed,
                fence_of,
            } => {
                if self.hosts[host].life != life || self.hosts[host].procs.remove(&proc).is_none() {
                    return;
                }
                if let Some(router) = fence_of {
                    self.fence_succeeded(host, &router);
                }
                if self.hosts[host].life != life {
                    return;
                }
                let pid = 10_000 + u32::try_from(proc % 50_000).unwrap_or(0);
                self.deliver(
                    host,
                    Event::ProcessExited {
                        proc,
                        pid,
                        outcome: Some(outcome),
                        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                        error: None,
                    },
                );
            }
            Item::ProbeDone {
                host,
                life,
                rs,
                token,
                result,
            } => {
                let h = &mut self.hosts[host];
                if h.life == life && h.probes.get(&rs) == Some(&token) {
                    h.probes.remove(&rs);
                    self.deliver(host, Event::ProbeDone { rs, result });
                }
            }
        }
    }

    fn tick(&mut self, h: usize) {
        let now = self.now;
        let host = &mut self.hosts[h];
        if host.ticks_at.0 == now {
            host.ticks_at.1 += 1;
        } else {
            host.ticks_at = (now, 1);
        }
        if host.ticks_at.1 > MAX_TICKS_AT_ONE_INSTANT {
            host.wake = None;
            let detail = format!(
                "{} was ticked {MAX_TICKS_AT_ONE_INSTANT} times at one instant and still reports a deadline at or before it",
                host.spec.name
            );
            self.violate(Invariant::TimeAdvances, None, detail);
            return;
        }
        self.deliver(h, Event::Tick);
    }

    /// Feeds one event to a host's node and carries out its commands.
    fn deliver(&mut self, h: usize, event: Event) {
        let now = self.now;
        let Some(node) = self.hosts[h].node.as_mut() else {
            return;
        };
        self.trace.push(now, Some(h), TraceItem::In(event.clone()));
        let cmds = node.handle(event, now);
        self.apply(h, cmds);
        self.after_step(h);
    }

    fn after_step(&mut self, h: usize) {
        let wake = self.hosts[h].node.as_mut().and_then(Node::next_deadline);
        self.hosts[h].wake = wake;
        if self.holders_dirty {
            self.refresh_holders();
        }
        if self.host_dirty.remove(&h) {
            self.check_host(h);
        }
        if self.states_changed || self.watching() {
            self.states_changed = false;
            self.check_cluster();
        }
    }

    // --- commands --------------------------------------------------------------

    pub(super) fn answer_delay(&mut self) -> Duration {
        let (lo, hi) = self.scenario.timing.answer_delay;
        self.rng.duration(lo, hi)
    }

    pub(super) fn answer(&mut self, h: usize, delay: Duration, event: Event) {
        let life = self.hosts[h].life;
        let at = (self.now + delay).max(self.hosts[h].last_answer);
        self.hosts[h].last_answer = at;
        if let Event::AddressResult { address, .. } = &event {
            *self.hosts[h]
                .in_flight
                .entry((address.interface.clone(), address.address))
                .or_default() += 1;
        }
        self.push(
            at,
            Item::ToNode {
                host: h,
                life,
                event,
            },
        );
    }

    fn apply(&mut self, h: usize, cmds: Vec<Command>) {
        let now = self.now;
        let mut stopped = false;
        for c in cmds {
            self.trace.push(now, Some(h), TraceItem::Out(c.clone()));
            match c {
                Command::OpenVrrp {
                    interface,
                    ifindex,
                    family,
                    multicast,
                } => {
                    self.hosts[h]
                        .sockets
                        .insert((interface, family), (ifindex, multicast));
                }
                Command::CloseVrrp { interface, family } => {
                    self.hosts[h].sockets.remove(&(interface, family));
                }
                Command::SendVrrp {
                    interface,
                    family,
                    src,
                    dst,
                    bytes,
                } => self.send_vrrp(h, &interface, family, src, dst, bytes),
                Command::AddAddress(a) => {
                    let outcome = self.hosts[h].kernel.add_address(&a);
                    self.kernel_changed(h);
                    let d = self.answer_delay();
                    self.answer(
                        h,
                        d,
                        Event::AddressResult {
                            address: a,
                            added: true,
                            outcome,
                        },
                    );
                }
                Command::RemoveAddress(a) => {
                    self.check_removal(h, &a);
                    let outcome = self.hosts[h].kernel.remove_address(&a);
                    self.kernel_changed(h);
                    let d = self.answer_delay();
                    self.answer(
                        h,
                        d,
                        Event::AddressResult {
                            address: a,
                            added: false,
                            outcome,
                        },
                    );
                }
                Command::SendGarp { .. } => {}
                Command::OpenEcho {
                    router, interface, ..
                } => {
                    self.hosts[h].echo.insert(router, interface);
                }
                Command::CloseEcho { router } => {
                    self.hosts[h].echo.remove(&router);
                }
                Command::SendEcho {
                    router,
                    target,
                    seq,
                } => self.send_echo(h, router, target, seq),
                Command::Spawn {
                    proc,
                    argv,
                    env,
                    timeout_ms,
                } => self.spawn(h, proc, &argv, &env, timeout_ms),
                Command::Kill { proc } => {
                    if self.hosts[h].procs.remove(&proc).is_some() {
                        let life = self.hosts[h].life;
                        self.hosts[h].procs.insert(proc, u64::MAX);
                        self.push(
                            now,
                            Item::ProcDone {
                                host: h,
                                life,
                                proc,
                                outcome: Outcome::Signaled { signal: 9 },
                                elapsed: Duration::ZERO,
                                fence_of: None,
                            },
                        );
                    }
                }
                Command::StartProbe { rs, .. } => {
                    let down = self.hosts[h]
                        .plan
                        .virtual_servers
                        .get(rs.vs)
                        .and_then(|v| v.real_servers.get(rs.rs))
                        .is_some_and(|r| self.net.rs_down.contains(&r.address));
                    self.seq += 1;
                    let token = self.seq;
                    let life = self.hosts[h].life;
                    self.hosts[h].probes.insert(rs, token);
                    let at = now + self.scenario.timing.probe_runtime;
                    let result = if down {
                        Err("connection refused".to_string())
                    } else {
                        Ok(())
                    };
                    self.push(
                        at,
                        Item::ProbeDone {
                            host: h,
                            life,
                            rs,
                            token,
                            result,
                        },
                    );
                }
                Command::AbortProbe { rs } => {
                    self.hosts[h].probes.remove(&rs);
                }
                Command::HttpRequest {
                    req,
                    path,
                    body,
                    timeout_ms,
                    ..
                } => {
                    let name = self.hosts[h].spec.name.clone();
                    if self.net.store.reachable(&name) {
                        let (status, body) = self.net.store.handle(now, &path, &body);
                        self.answer(
                            h,
                            Duration::from_millis(1),
                            Event::HttpResponse {
                                req,
                                result: Ok(crate::node::HttpReply { status, body }),
                            },
                        );
                    } else {
                        self.answer(
                            h,
                            Duration::from_millis(timeout_ms),
                            Event::HttpResponse {
                                req,
                                result: Err("timed out".into()),
                            },
                        );
                    }
                }
                Command::IpvsDump => {
                    let table = self.hosts[h].kernel.ipvs.clone();
                    let d = self.answer_delay();
                    self.answer(h, d, Event::IpvsDumped { result: Ok(table) });
                }
                Command::IpvsApply { ops } => {
                    self.states_changed = true;
                    let errors = self.hosts[h].kernel.apply_ipvs(&ops);
                    if !errors.is_empty() {
                        self.note(Some(h), format!("ipvs errors: {}", errors.join("; ")));
                    }
                }
                Command::WriteLedger(l) => self.hosts[h].ledger = Some(l),
                Command::Log { event, fields } => self.on_log(h, &event, &fields),
                Command::Ready => {}
                // The simulated kernel has no macvlans: simulated plans do
                // not use virtual MACs (namespace tests cover them).
                Command::CreateVmac { .. } | Command::DeleteVmac { .. } => {}
                Command::Stopped => stopped = true,
            }
        }
        if stopped {
            // The shell exits once the kernel has answered what it asked.
            self.hosts[h].stopping = true;
            if self.hosts[h].in_flight.is_empty() {
                self.daemon_gone(h, "stopped");
                self.check_stopped(h);
            }
        }
    }

    // --- faults ------------------------------------------------------------------

    pub(super) fn apply_fault(&mut self, fault: Fault) {
        let host = fault.host().and_then(|n| self.host_index(n));
        let text = match (&fault, host) {
            (Fault::Restart { host: name }, Some(h)) if !self.hosts[h].powered => {
                format!("{name} boots; vigild starts")
            }
            _ => fault.describe(),
        };
        self.trace
            .push(self.now, host, TraceItem::World(text.clone()));
        self.record.faults.push(FaultRecord {
            at: self.now,
            description: text,
        });
        self.last_disturbance = self.now;
        let unknown = |s: &mut Sim, what: &str| s.note(None, format!("unknown {what}: ignored"));
        match fault {
            Fault::Crash { host } => match self.host_index(&host) {
                Some(h) => self.daemon_gone(h, "crash"),
                None => unknown(self, "host"),
            },
            Fault::PowerOff { host } => match self.host_index(&host) {
                Some(h) => {
                    self.daemon_gone(h, "power off");
                    let host = &mut self.hosts[h];
                    host.powered = false;
                    host.kernel = Kernel::default();
                    host.ledger = None;
                    self.kernel_changed(h);
                    self.refresh_holders();
                    self.check_cluster();
                }
                None => unknown(self, "host"),
            },
            Fault::Restart { host } => match self.host_index(&host) {
                Some(h) => self.start_daemon(h),
                None => unknown(self, "host"),
            },
            Fault::Shutdown { host } => match self.host_index(&host) {
                Some(h) => self.deliver(h, Event::Shutdown),
                None => unknown(self, "host"),
            },
            Fault::LinkDown { host, interface } => self.carrier(&host, &interface, false),
            Fault::LinkUp { host, interface } => self.carrier(&host, &interface, true),
            Fault::LinkDelete { host, interface } => match self.host_index(&host) {
                Some(h) => {
                    let link = self.hosts[h].kernel.delete_link(&interface);
                    self.kernel_changed(h);
                    self.notify_link(h, link);
                    self.refresh_holders();
                }
                None => unknown(self, "host"),
            },
            Fault::LinkCreate { host, interface } => match self.host_index(&host) {
                Some(h) => {
                    let spec = self.hosts[h].spec.clone();
                    let link = self.hosts[h].kernel.create_link(&spec, &interface);
                    self.kernel_changed(h);
                    self.notify_link(h, link);
                    self.refresh_holders();
                }
                None => unknown(self, "host"),
            },
            Fault::Cut { id, cut } => {
                self.net.cuts.insert(id, cut);
            }
            Fault::Heal { id } => {
                self.net.cuts.remove(&id);
            }
            Fault::ReferenceDark { ip } => {
                self.net.dark.insert(ip);
            }
            Fault::ReferenceLight { ip } => {
                self.net.dark.remove(&ip);
            }
            Fault::FenceFails { host, fails } => match self.host_index(&host) {
                Some(h) => self.hosts[h].fence_fails = fails,
                None => unknown(self, "host"),
            },
            Fault::TrackerFails {
                host,
                tracker,
                fails,
            } => match self.host_index(&host) {
                Some(h) => {
                    if fails {
                        self.hosts[h].tracker_fails.insert(tracker);
                    } else {
                        self.hosts[h].tracker_fails.remove(&tracker);
                    }
                }
                None => unknown(self, "host"),
            },
            Fault::RealServerDown { address, down } => {
                if down {
                    self.net.rs_down.insert(address);
                } else {
                    self.net.rs_down.remove(&address);
                }
            }
            Fault::Network(p) => self.net.profile = p,
            Fault::StoreDown { down } => self.net.store.down = down,
            Fault::StoreCut { host, cut } => {
                if cut {
                    self.net.store.cut.insert(host);
                } else {
                    self.net.store.cut.remove(&host);
                }
            }
            Fault::Reload { host, plan } => match self.host_index(&host) {
                Some(h) => {
                    self.hosts[h].plan = (*plan).clone();
                    self.rebuild_router_info();
                    let passwords = self.hosts[h].spec.passwords.clone();
                    self.deliver(h, Event::Reload { plan, passwords });
                }
                None => unknown(self, "host"),
            },
        }
    }

    fn carrier(&mut self, host: &str, interface: &str, up: bool) {
        match self.host_index(host) {
            Some(h) => {
                let link = self.hosts[h].kernel.set_carrier(interface, up);
                self.notify_link(h, link);
            }
            None => self.note(None, "unknown host: ignored".into()),
        }
    }

    fn notify_link(&mut self, h: usize, link: Option<Link>) {
        let Some(link) = link else {
            self.note(Some(h), "no such interface: nothing changes".into());
            return;
        };
        let wanted = self.hosts[h]
            .node
            .as_ref()
            .is_some_and(|n| n.interfaces().contains(&link.name));
        if wanted {
            let d = self.scenario.timing.link_notify_delay;
            self.answer(h, d, Event::Link(link));
        }
    }

    fn start_daemon(&mut self, h: usize) {
        if self.hosts[h].node.is_some() {
            return;
        }
        if !self.hosts[h].powered {
            let spec = self.hosts[h].spec.clone();
            let host = &mut self.hosts[h];
            host.kernel = Kernel::boot(&spec);
            host.powered = true;
            self.kernel_changed(h);
        }
        let host = &mut self.hosts[h];
        let node = Node::new(
            &host.spec.name,
            host.plan.clone(),
            host.spec.passwords.clone(),
        );
        let interfaces = node.interfaces();
        let links: Vec<Link> = interfaces
            .iter()
            .filter_map(|i| host.kernel.link(i).cloned())
            .collect();
        let addresses = host.kernel.addresses_on(&interfaces);
        let ledger = host.ledger.clone();
        host.node = Some(node);
        host.life += 1;
        host.started_at = self.now;
        host.sockets.clear();
        host.echo.clear();
        host.procs.clear();
        host.probes.clear();
        self.deliver(
            h,
            Event::Start {
                links,
                addresses,
                ledger,
            },
        );
    }

    /// The daemon is gone (crashed, powered off, or exited).
    fn daemon_gone(&mut self, h: usize, why: &str) {
        let host = &mut self.hosts[h];
        let Some(node) = host.node.take() else {
            return;
        };
        self.states_changed = true;
        host.life += 1;
        host.wake = None;
        host.stopping = false;
        host.in_flight.clear();
        host.sockets.clear();
        host.echo.clear();
        host.procs.clear();
        host.probes.clear();
        let name = host.spec.name.clone();
        for (router, from) in node.states() {
            if why != "stopped" {
                self.record.transitions.push(Transition {
                    at: self.now,
                    host: name.clone(),
                    router,
                    from: state_label(from).into(),
                    to: "down".into(),
                    reason: why.into(),
                });
            }
        }
    }

    // --- bookkeeping -------------------------------------------------------------

    /// A host's addresses changed: VIP holders and its checks are due.
    fn kernel_changed(&mut self, h: usize) {
        self.holders_dirty = true;
        self.host_dirty.insert(h);
    }

    /// Whether a time-bound condition is pending (a dual master, no
    /// master, a split sync group): the cluster is checked at every step.
    fn watching(&self) -> bool {
        !self.dual_since.is_empty()
            || !self.none_since.is_empty()
            || !self.split_since.is_empty()
            || !self.ipvs_since.is_empty()
    }

    pub(super) fn refresh_holders(&mut self) {
        self.holders_dirty = false;
        let mut changes = Vec::new();
        for (name, info) in &self.routers {
            for vip in &info.vips {
                let mut now: Vec<String> = self
                    .hosts
                    .iter()
                    .filter(|h| h.kernel.addresses.iter().any(|a| a.address == *vip))
                    .map(|h| h.spec.name.clone())
                    .collect();
                now.sort();
                if self.holders.get(vip).is_none_or(|old| *old != now) {
                    changes.push(HolderChange {
                        at: self.now,
                        router: name.clone(),
                        vip: *vip,
                        holders: now,
                    });
                }
            }
        }
        for c in changes {
            self.holders.insert(c.vip, c.holders.clone());
            self.record.holders.push(c);
        }
    }

    pub(super) fn rebuild_router_info(&mut self) {
        let max_delay = self.net.profile.max_delay();
        let mut by_name: BTreeMap<String, Vec<(usize, PlanRouter, u64)>> = BTreeMap::new();
        for (h, host) in self.hosts.iter().enumerate() {
            for r in &host.plan.routers {
                by_name.entry(r.name.clone()).or_default().push((
                    h,
                    r.clone(),
                    host.plan.startup_delay_ms,
                ));
            }
        }
        self.routers = by_name
            .into_iter()
            .map(|(name, members)| {
                let info = RouterInfo::new(&name, &members, max_delay, &self.scenario);
                (name, info)
            })
            .collect();
    }

    /// The router a sent advert belongs to.
    pub(super) fn router_by_key(
        &self,
        h: usize,
        interface: &str,
        family: Family,
        vrid: u8,
    ) -> Option<String> {
        self.hosts[h]
            .plan
            .routers
            .iter()
            .find(|r| {
                r.family == family
                    && r.vrid == vrid
                    && (r.interface == interface
                        || r.heartbeat_paths.iter().any(|p| p.interface == interface))
            })
            .map(|r| r.name.clone())
    }

    pub(super) fn violate(&mut self, invariant: Invariant, router: Option<&str>, detail: String) {
        if self.disabled.contains(&invariant) {
            return;
        }
        let v = Violation {
            invariant,
            at: self.now,
            router: router.map(str::to_string),
            detail,
        };
        let seen = self
            .record
            .violations
            .iter()
            .any(|o| o.invariant == v.invariant && o.router == v.router);
        if !seen {
            self.record.violations.push(v.clone());
        }
        if self.stop_at_violation && self.failure.is_none() {
            self.note(
                None,
                format!("VIOLATION {}: {}", invariant.name(), v.detail),
            );
            self.failure = Some(Failure {
                seed: self.seed,
                scenario: self.scenario.name.clone(),
                violation: v,
                trace: self.trace(),
            });
        }
    }

    /// The command trackers of a member that hold it in FAULT, and whether
    /// any is failing per the scenario.
    pub(super) fn fault_trackers_failing(&self, h: usize, r: &PlanRouter) -> bool {
        r.trackers.iter().any(|t| {
            matches!(t.on_fail, vigil_schema::plan::PlanOnFail::Fault)
                && match &t.kind {
                    PlanTrackerKind::Interface { interface } => {
                        !self.hosts[h].kernel.link_up(interface)
                    }
                    PlanTrackerKind::Command { .. } => {
                        self.hosts[h].tracker_fails.contains(&t.name)
                    }
                }
        })
    }
}

/// The state's name as the timeline shows it.
pub fn state_label(s: State) -> &'static str {
    crate::hooks::state_name(s)
}
