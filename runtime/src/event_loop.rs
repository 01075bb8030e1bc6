//! The daemon: one thread, one mio loop, turning I/O into state-machine
//! inputs and actions into syscalls.
//!
//! Sources registered with mio: the signalfd, the rtnetlink link monitor and
//! one raw VRRP socket per (interface, family). Timers are deadlines in a
//! heap ([`TimerHeap`]) whose head is the poll timeout. Each router is a
//! sans-IO [`Router`]; this file is the only place that both sees a router's
//! [`Action`]s and owns the sockets that carry them out.
//!
//! Lifecycle:
//! * start: open the interfaces, remove stale copies of our VIPs (left by a
//!   crash: we have claimed nothing yet), register sources, tell systemd
//!   `READY=1`, feed `Startup` (and `Fault` for an interface without carrier);
//! * SIGTERM/SIGINT: every router resigns (priority-0 advert, VIPs removed), exit 0;
//! * SIGHUP: reload the plan; unchanged routers keep running, changed ones
//!   are restarted, removed ones resign;
//! * SIGUSR1: state and counters as one JSON line on stderr.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use serde::Serialize;
use serde_json::json;
use vigil_schema::plan::{Family, PlanRouter};

use crate::arbitration::driver::Defences;
use crate::control::ControlServer;
use crate::health::director::{Director, FIRST_PROBE_TOKEN};
use crate::log;
use crate::net::arp_socket::ArpSocket;
use crate::net::na_socket::NaSocket;
use crate::net::vrrp_socket::{VRRP_GROUP_V4, VRRP_GROUP_V6, VrrpSocket};
use crate::netlink::addr::{self, Change, IfAddr};
use crate::netlink::link::{self, LinkInfo, LinkMonitor};
use crate::netlink::{NlConn, NlError};
use crate::plan_load::{LoadedPlan, load_plan};
use crate::signals::{Request, Signals};
use crate::timers::{RouterId, TimerHeap};
use crate::vrrp::rx::{Received, RxError, decode};
use crate::vrrp::{Action, Alarm, Input, Router, RouterConfig, State, Stats};
use crate::wire::{IpMeta, MacAddr, arp, ndisc};

const TOKEN_SIGNALS: Token = Token(0);
const TOKEN_LINKS: Token = Token(1);
const FIRST_SOCKET_TOKEN: usize = 2;
/// The status socket, then its connections (below the defences' tokens).
const TOKEN_CONTROL: Token = Token(1 << 22);

/// Failures of the I/O shell itself, counted for the SIGUSR1 dump.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShellCounters {
    pub advert_send_errors: u64,
    pub garp_send_errors: u64,
    pub vip_add_errors: u64,
    pub vip_remove_errors: u64,
    pub recv_errors: u64,
    /// Datagrams without a usable IP header or ancillary data.
    pub malformed_ip: u64,
    pub netlink_errors: u64,
    pub reloads: u64,
    pub reload_errors: u64,
}

/// One interface the plan's routers run on.
#[derive(Debug)]
struct Iface {
    info: LinkInfo,
    v4: Option<(VrrpSocket, Token)>,
    v6: Option<(VrrpSocket, Token)>,
    arp: Option<ArpSocket>,
    na: Option<NaSocket>,
}

/// One running router.
#[derive(Debug)]
struct Slot {
    plan: PlanRouter,
    router: Router,
    /// The interface had no carrier when last seen.
    link_down: bool,
}

/// Why the daemon could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The running daemon.
pub struct Daemon {
    poll: Poll,
    clock: std::time::Instant,
    nl: NlConn,
    links: LinkMonitor,
    signals: Signals,
    timers: TimerHeap,
    ifaces: BTreeMap<String, Iface>,
    tokens: HashMap<Token, (String, Family)>,
    next_token: usize,
    routers: BTreeMap<RouterId, Slot>,
    next_id: RouterId,
    loaded: LoadedPlan,
    plan_path: PathBuf,
    host: String,
    unattributed: Stats,
    counters: ShellCounters,
    buf: Vec<u8>,
    /// Split-brain defences: arbitration, fencing, trackers, notify hooks.
    defences: Defences,
    /// The status socket (`vigild status`), if listening.
    control: Option<ControlServer>,
    /// IPVS and health checks; `None` when the plan has no virtual servers.
    director: Option<Director>,
}

fn io_err(what: &str, e: impl std::fmt::Display) -> StartError {
    StartError(format!("{what}: {e}"))
}

/// Builds the state machine of a plan router.
fn build_router(loaded: &LoadedPlan, plan: &PlanRouter) -> Result<Router, String> {
    let config = RouterConfig::from_plan(plan, loaded.plan.startup_delay_ms)
        .map_err(|e| format!("router `{}`: {e}", plan.name))?;
    let password = loaded.passwords.get(&plan.name).map(|p| {
        let mut pw = [0u8; 8];
        pw[..p.len()].copy_from_slice(p);
        pw
    });
    Ok(Router::new(config, password))
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Initialize => "initialize",
        State::Backup => "backup",
        State::Master => "master",
        State::Fault => "fault",
    }
}

impl Daemon {
    /// Opens everything the plan needs and removes stale VIPs.
    pub fn start(plan_path: &Path, host: &str, loaded: LoadedPlan) -> Result<Daemon, StartError> {
        // Build every state machine first: a bad plan fails before any I/O.
        let mut built = Vec::new();
        for r in &loaded.plan.routers {
            built.push((r.clone(), build_router(&loaded, r).map_err(StartError)?));
        }
        let signals = Signals::open().map_err(|e| io_err("signalfd", e))?;
        let nl = NlConn::open().map_err(|e| io_err("rtnetlink", e))?;
        let links = LinkMonitor::open().map_err(|e| io_err("rtnetlink link monitor", e))?;
        let poll = Poll::new().map_err(|e| io_err("epoll", e))?;
        let registry = poll.registry();
        registry
            .register(
                &mut SourceFd(&signals.as_raw_fd()),
                TOKEN_SIGNALS,
                Interest::READABLE,
            )
            .map_err(|e| io_err("register signalfd", e))?;
        registry
            .register(
                &mut SourceFd(&links.as_raw_fd()),
                TOKEN_LINKS,
                Interest::READABLE,
            )
            .map_err(|e| io_err("register link monitor", e))?;
        let defences = Defences::new(&loaded.plan.topology_hash);
        let mut d = Daemon {
            defences,
            control: None,
            poll,
            clock: std::time::Instant::now(),
            nl,
            links,
            signals,
            timers: TimerHeap::default(),
            ifaces: BTreeMap::new(),
            tokens: HashMap::new(),
            next_token: FIRST_SOCKET_TOKEN,
            routers: BTreeMap::new(),
            next_id: 1,
            loaded,
            plan_path: plan_path.to_path_buf(),
            host: host.to_string(),
            unattributed: Stats::default(),
            counters: ShellCounters::default(),
            buf: vec![0; 65536],
            director: None,
        };
        if !d.loaded.plan.virtual_servers.is_empty() {
            let vss = d.loaded.plan.virtual_servers.clone();
            let director =
                Director::start(vss, &d.loaded.plan.topology_hash, std::time::Instant::now())
                    .map_err(|e| io_err("IPVS", e))?;
            d.director = Some(director);
        }
        for (plan, _) in &built {
            d.ensure_sockets(plan).map_err(StartError)?;
        }
        d.remove_stale_vips();
        for (plan, router) in built {
            d.add_router(plan, router);
        }
        Ok(d)
    }

    fn now(&self) -> crate::vrrp::Instant {
        crate::vrrp::Instant::from_micros(self.clock.elapsed().as_micros() as u64)
    }

    fn hash(&self) -> &str {
        &self.loaded.plan.topology_hash
    }

    fn log(&self, event: &str, fields: serde_json::Value) {
        log::event(event, &self.loaded.plan.topology_hash, fields);
    }

    /// Opens the interface and the VRRP socket a router needs.
    fn ensure_sockets(&mut self, plan: &PlanRouter) -> Result<(), String> {
        let multicast = plan.unicast_peers.is_empty();
        self.ensure_socket(plan, &plan.interface, multicast)?;
        // Heartbeat paths carry unicast adverts only.
        for hb in &plan.heartbeat_paths {
            self.ensure_socket(plan, &hb.interface, false)?;
        }
        Ok(())
    }

    /// Opens interface `ifname` and its VRRP socket of the router's family.
    fn ensure_socket(
        &mut self,
        plan: &PlanRouter,
        ifname: &str,
        multicast: bool,
    ) -> Result<(), String> {
        if !self.ifaces.contains_key(ifname) {
            let info = link::get_by_name(&mut self.nl, ifname)
                .map_err(|e| format!("router `{}`: interface `{}`: {e}", plan.name, ifname))?;
            self.ifaces.insert(
                ifname.to_string(),
                Iface {
                    info,
                    v4: None,
                    v6: None,
                    arp: None,
                    na: None,
                },
            );
        }
        let iface = self.ifaces.get_mut(ifname).expect("inserted above");
        let slot = match plan.family {
            Family::Ipv4 => &mut iface.v4,
            Family::Ipv6 => &mut iface.v6,
        };
        match slot {
            Some((sock, _)) => {
                if multicast {
                    sock.ensure_joined()
                        .map_err(|e| format!("join VRRP group on {}: {e}", ifname))?;
                }
            }
            None => {
                let sock = VrrpSocket::open(plan.family, ifname, iface.info.ifindex, multicast)
                    .map_err(|e| {
                        format!("router `{}`: VRRP socket on {}: {e}", plan.name, ifname)
                    })?;
                let token = Token(self.next_token);
                self.next_token += 1;
                self.poll
                    .registry()
                    .register(&mut SourceFd(&sock.as_raw_fd()), token, Interest::READABLE)
                    .map_err(|e| format!("register VRRP socket: {e}"))?;
                *slot = Some((sock, token));
                self.tokens.insert(token, (ifname.to_string(), plan.family));
            }
        }
        Ok(())
    }

    /// Removes copies of our VIPs present before we claimed anything: a
    /// previous run that crashed left them, and two holders would answer ARP.
    fn remove_stale_vips(&mut self) {
        let plans: Vec<PlanRouter> = self.loaded.plan.routers.clone();
        for (name, iface) in &self.ifaces {
            let present = match addr::dump(&mut self.nl, iface.info.ifindex) {
                Ok(p) => p,
                Err(e) => {
                    self.counters.netlink_errors += 1;
                    log::event(
                        "error",
                        self.hash(),
                        json!({"what": "dump addresses", "interface": name, "error": e.to_string()}),
                    );
                    continue;
                }
            };
            // An owner's VIPs are the host's own addresses: never stale.
            for r in plans.iter().filter(|r| &r.interface == name && !r.owner) {
                for v in &r.vips {
                    if present.iter().any(|a| a.address == v.address) {
                        let a = IfAddr {
                            address: v.address,
                            prefix_len: v.prefix_len,
                            ifindex: iface.info.ifindex,
                            label: v.label.clone(),
                        };
                        let res = addr::remove(&mut self.nl, &a);
                        log::event(
                            "stale_vip_removed",
                            &self.loaded.plan.topology_hash,
                            json!({"router": r.name, "interface": name, "address": v.address.to_string(), "ok": res.is_ok()}),
                        );
                    }
                }
            }
        }
    }

    /// Starts a router: `Fault` first if its interface has no carrier (the
    /// machine remembers it), then `Startup`.
    fn add_router(&mut self, plan: PlanRouter, router: Router) {
        let id = self.next_id;
        self.next_id += 1;
        let link_down = self
            .ifaces
            .get(&plan.interface)
            .is_none_or(|i| !i.info.is_up());
        self.routers.insert(
            id,
            Slot {
                plan,
                router,
                link_down,
            },
        );
        // Defences first: the initial veto, trackers and the link fault.
        let now = self.now();
        let plan = self.routers[&id].plan.clone();
        let registry = self.poll.registry();
        let initial = self
            .defences
            .add_router(id, &plan, link_down, &mut self.nl, registry, now);
        for input in initial {
            self.feed(id, input);
        }
        self.feed(id, Input::Startup);
    }

    /// Resigns and forgets a router.
    fn remove_router(&mut self, id: RouterId) {
        self.feed(id, Input::Shutdown);
        self.defences.remove_router(id, self.poll.registry());
        self.timers.cancel_all(id);
        self.routers.remove(&id);
    }

    /// Feeds one input to a router and carries out its actions.
    fn feed(&mut self, id: RouterId, input: Input) {
        let now = self.now();
        let Some(slot) = self.routers.get_mut(&id) else {
            return;
        };
        let input_kind = input.clone();
        let actions = slot.router.handle(input, now);
        for a in &actions {
            self.execute(id, a.clone());
        }
        // Split-brain defences see the actions after they were carried out
        // (a `master` hook finds the VIPs up), then their inputs are fed.
        self.defences.note_input(id, &input_kind, now);
        let mut follow = Vec::new();
        for a in &actions {
            follow.extend(self.defences.on_action(id, a, now));
        }
        for (rid, input) in follow {
            self.feed(rid, input);
        }
    }

    fn execute(&mut self, id: RouterId, action: Action) {
        let Some(slot) = self.routers.get(&id) else {
            return;
        };
        let hash = self.loaded.plan.topology_hash.clone();
        match action {
            Action::SendAdvert {
                priority,
                advert_interval,
            } => {
                let repr = slot.router.advert_repr(priority, advert_interval);
                let cfg = slot.router.config();
                let src = cfg.source_address;
                let dsts: Vec<IpAddr> = if cfg.unicast_peers.is_empty() {
                    vec![match cfg.family {
                        Family::Ipv4 => IpAddr::V4(VRRP_GROUP_V4),
                        Family::Ipv6 => IpAddr::V6(VRRP_GROUP_V6),
                    }]
                } else {
                    cfg.unicast_peers.clone()
                };
                let Some(iface) = self.ifaces.get(&cfg.interface) else {
                    return;
                };
                let sock = match cfg.family {
                    Family::Ipv4 => iface.v4.as_ref(),
                    Family::Ipv6 => iface.v6.as_ref(),
                };
                let Some((sock, _)) = sock else { return };
                // Heartbeat paths: the same advert, unicast over each extra link.
                let mut sends: Vec<(&VrrpSocket, IpAddr, IpAddr)> =
                    dsts.into_iter().map(|d| (sock, src, d)).collect();
                for (hb_if, hb_src, hb_dst) in Defences::heartbeat_destinations(&slot.plan) {
                    let hb = self.ifaces.get(&hb_if).and_then(|i| match cfg.family {
                        Family::Ipv4 => i.v4.as_ref(),
                        Family::Ipv6 => i.v6.as_ref(),
                    });
                    if let Some((hb_sock, _)) = hb {
                        sends.push((hb_sock, hb_src, hb_dst));
                    }
                }
                for (sock, src, dst) in sends {
                    let res = repr
                        .to_bytes(src, dst)
                        .map_err(|e| io::Error::other(e.to_string()))
                        .and_then(|mut b| {
                            if cfg.family == Family::Ipv6 && b.len() >= 8 {
                                // IPV6_CHECKSUM: the kernel fills it in.
                                b[6] = 0;
                                b[7] = 0;
                            }
                            sock.send(&b, src, dst)
                        });
                    if let Err(e) = res {
                        self.counters.advert_send_errors += 1;
                        log::event(
                            "error",
                            &hash,
                            json!({"router": cfg.name, "what": "send advert", "to": dst.to_string(), "error": e.to_string()}),
                        );
                    }
                }
            }
            Action::AddVips {
                addresses,
                accept: _,
            } => {
                // Accept mode needs no kernel change here: without nftables
                // rules (vrrp_strict) Linux accepts traffic to any local address.
                let vips = self.vip_addrs(id, &addresses);
                for a in vips {
                    match addr::add(&mut self.nl, &a) {
                        Ok(Change::Done | Change::AlreadyDone) => {}
                        Err(e) => self.vip_error("add VIP", id, &a, e),
                    }
                }
            }
            Action::RemoveVips { addresses } => {
                let vips = self.vip_addrs(id, &addresses);
                for a in vips {
                    match addr::remove(&mut self.nl, &a) {
                        Ok(_) => {}
                        Err(e) => self.vip_error("remove VIP", id, &a, e),
                    }
                }
            }
            Action::SendGarp { addresses } => {
                let ifname = slot.plan.interface.clone();
                let name = slot.plan.name.clone();
                if let Err(e) = self.send_garps(&ifname, &addresses) {
                    self.counters.garp_send_errors += 1;
                    log::event(
                        "error",
                        &hash,
                        json!({"router": name, "what": "send GARP/NA", "error": e.to_string()}),
                    );
                }
            }
            Action::ArmTimer { kind, at } => self.timers.arm(id, kind, at),
            Action::CancelTimer { kind } => self.timers.cancel(id, kind),
            Action::StateChanged { from, to, reason } => {
                if let Some(d) = self.director.as_mut()
                    && let Err(e) = d.set_master(&slot.plan.name, to == State::Master)
                {
                    log::event(
                        "error",
                        &hash,
                        json!({"what": "IPVS sync", "error": e.to_string()}),
                    );
                }
                let reason = serde_json::to_value(reason).unwrap_or_default();
                log::event(
                    "state_change",
                    &hash,
                    json!({"router": slot.plan.name, "vrid": slot.plan.vrid, "interface": slot.plan.interface,
                           "from": state_name(from), "to": state_name(to), "reason": reason}),
                );
            }
            Action::Alarm(alarm) => {
                let detail = match &alarm {
                    Alarm::DualMaster { peer, priority } => {
                        json!({"kind": "dual_master", "peer": peer.to_string(), "priority": priority})
                    }
                    Alarm::MasterVetoed => json!({"kind": "master_vetoed"}),
                    Alarm::ReloadRefused => json!({"kind": "reload_refused"}),
                };
                log::event(
                    "alarm",
                    &hash,
                    json!({"router": slot.plan.name, "alarm": detail}),
                );
            }
        }
    }

    fn vip_error(&mut self, what: &str, id: RouterId, a: &IfAddr, e: NlError) {
        if what.starts_with("add") {
            self.counters.vip_add_errors += 1;
        } else {
            self.counters.vip_remove_errors += 1;
        }
        let name = self
            .routers
            .get(&id)
            .map(|s| s.plan.name.clone())
            .unwrap_or_default();
        self.log("error", json!({"router": name, "what": what, "address": a.address.to_string(), "error": e.to_string()}));
    }

    /// The plan's prefix and label for each address of an action.
    fn vip_addrs(&self, id: RouterId, addresses: &[IpAddr]) -> Vec<IfAddr> {
        let Some(slot) = self.routers.get(&id) else {
            return Vec::new();
        };
        let Some(iface) = self.ifaces.get(&slot.plan.interface) else {
            return Vec::new();
        };
        addresses
            .iter()
            .map(|addr| {
                let v = slot.plan.vips.iter().find(|v| v.address == *addr);
                IfAddr {
                    address: *addr,
                    prefix_len: v.map_or(if addr.is_ipv4() { 32 } else { 128 }, |v| v.prefix_len),
                    ifindex: iface.info.ifindex,
                    label: v.and_then(|v| v.label.clone()),
                }
            })
            .collect()
    }

    fn send_garps(&mut self, ifname: &str, addresses: &[IpAddr]) -> io::Result<()> {
        let Some(iface) = self.ifaces.get_mut(ifname) else {
            return Ok(());
        };
        let mac = MacAddr(<[u8; 6]>::try_from(iface.info.mac.as_slice()).unwrap_or([0; 6]));
        for a in addresses {
            match a {
                IpAddr::V4(v4) => {
                    if iface.arp.is_none() {
                        iface.arp = Some(ArpSocket::sender(iface.info.ifindex)?);
                    }
                    let frame = arp::Repr {
                        operation: arp::Operation::Request,
                        mac,
                        address: *v4,
                    }
                    .to_bytes();
                    iface
                        .arp
                        .as_ref()
                        .expect("opened above")
                        .send_broadcast(&frame)?;
                }
                IpAddr::V6(v6) => {
                    if iface.na.is_none() {
                        iface.na = Some(NaSocket::open(ifname, iface.info.ifindex)?);
                    }
                    let all_nodes: Ipv6Addr = crate::net::na_socket::ALL_NODES;
                    let mut msg = ndisc::Repr::unsolicited(*v6, mac, true).to_bytes(*v6, all_nodes);
                    // The kernel computes ICMPv6 checksums on raw sockets.
                    msg[2] = 0;
                    msg[3] = 0;
                    iface
                        .na
                        .as_ref()
                        .expect("opened above")
                        .send_all_nodes(&msg, *v6)?;
                }
            }
        }
        Ok(())
    }

    /// Runs until SIGTERM/SIGINT; returns after every router resigned.
    pub fn run(&mut self) -> io::Result<()> {
        sd_notify_ready();
        self.log(
            "started",
            json!({"host": self.host, "routers": self.routers.values().map(|s| s.plan.name.clone()).collect::<Vec<_>>(), "pid": std::process::id()}),
        );
        let mut events = Events::with_capacity(64);
        loop {
            let next = [
                self.timers.next_deadline(),
                self.defences.next_deadline(),
                self.control.as_ref().and_then(ControlServer::next_deadline),
            ]
            .into_iter()
            .flatten()
            .min();
            let mut timeout = next.map(|at| {
                let now = self.now();
                // Round up so we never wake just before the deadline and spin.
                let us = at.as_micros().saturating_sub(now.as_micros());
                Duration::from_millis(us.div_ceil(1000))
            });
            if let Some(at) = self.director.as_ref().and_then(Director::next_deadline) {
                let d = at.saturating_duration_since(std::time::Instant::now());
                let d = Duration::from_millis(d.as_micros().div_ceil(1000) as u64);
                timeout = Some(timeout.map_or(d, |t| t.min(d)));
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let mut shutdown = false;
            let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
            for token in tokens {
                match token {
                    TOKEN_SIGNALS => {
                        for req in self.signals.drain()? {
                            match req {
                                Request::Shutdown => shutdown = true,
                                Request::Reload => self.reload(),
                                Request::Dump => self.dump(),
                            }
                        }
                    }
                    TOKEN_LINKS => self.on_link_events(),
                    t if self.control.as_ref().is_some_and(|c| c.owns(t)) => self.on_control(t),
                    t if self.defences.owns(t) => {
                        let now = self.now();
                        for (id, input) in self.defences.on_readable(t, now) {
                            self.feed(id, input);
                        }
                    }
                    t if t.0 >= FIRST_PROBE_TOKEN => {
                        if let Some(d) = self.director.as_mut() {
                            d.on_event(self.poll.registry(), t, std::time::Instant::now());
                        }
                    }
                    t => self.on_readable(t),
                }
            }
            if shutdown {
                self.shutdown();
                return Ok(());
            }
            let now = self.now();
            while let Some((id, kind)) = self.timers.pop_due(now) {
                self.feed(id, Input::Timer { kind });
            }
            for (id, input) in self.defences.poll(self.now()) {
                self.feed(id, input);
            }
            if let Some(c) = self.control.as_mut() {
                c.poll(self.poll.registry(), now);
            }
            if let Some(d) = self.director.as_mut() {
                let now = std::time::Instant::now();
                if d.next_deadline().is_some_and(|at| at <= now) {
                    d.on_timer(self.poll.registry(), now);
                }
            }
        }
    }

    /// Every router resigns.
    pub fn shutdown(&mut self) {
        self.log("shutdown", json!({}));
        let ids: Vec<RouterId> = self.routers.keys().copied().collect();
        for id in ids {
            self.remove_router(id);
        }
        if let Some(d) = self.director.as_mut() {
            d.shutdown(self.poll.registry());
        }
        // `stop` hooks run to completion (each bounded by its timeout).
        let clock = self.clock;
        self.defences
            .finish_hooks(|| crate::vrrp::Instant::from_micros(clock.elapsed().as_micros() as u64));
    }

    fn on_readable(&mut self, token: Token) {
        let Some((ifname, family)) = self.tokens.get(&token).cloned() else {
            return;
        };
        loop {
            let Some(iface) = self.ifaces.get(&ifname) else {
                return;
            };
            let sock = match family {
                Family::Ipv4 => iface.v4.as_ref(),
                Family::Ipv6 => iface.v6.as_ref(),
            };
            let Some((sock, _)) = sock else { return };
            let meta = match sock.recv(&mut self.buf) {
                Ok(None) => return,
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(_))) => {
                    self.counters.malformed_ip += 1;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.counters.recv_errors += 1;
                    self.log("error", json!({"what": "receive VRRP", "interface": ifname, "error": e.to_string()}));
                    return;
                }
            };
            let ip = IpMeta {
                src: meta.src,
                dst: meta.dst,
                ttl: meta.ttl,
            };
            let payload = &self.buf[meta.offset..meta.offset + meta.len];
            let received = decode(&ip, payload);
            let vrid = match &received {
                Received::Advert(r) => Some(r.vrid),
                Received::Error { vrid, .. } => *vrid,
            };
            let id = vrid.and_then(|v| {
                self.routers
                    .iter()
                    .find(|(_, s)| {
                        (s.plan.interface == ifname
                            || s.plan.heartbeat_paths.iter().any(|p| p.interface == ifname))
                            && s.plan.family == family
                            && s.plan.vrid == v
                    })
                    .map(|(id, _)| *id)
            });
            match (received, id) {
                (Received::Advert(repr), Some(id)) => {
                    let input = self.routers[&id].router.classify(&ip, &repr);
                    self.feed(id, input);
                }
                (Received::Error { reason, .. }, Some(id)) => {
                    self.feed(id, Input::RxError { reason })
                }
                (Received::Advert(_), None) => self.unattributed.record(RxError::UnknownVrid),
                (Received::Error { reason, .. }, None) => self.unattributed.record(reason),
            }
        }
    }

    fn on_link_events(&mut self) {
        let infos = match self.links.drain() {
            Ok(i) => i,
            Err(NlError::Overrun) => {
                // Notifications were lost: ask for the current state instead.
                self.counters.netlink_errors += 1;
                let mut names: Vec<String> = self.ifaces.keys().cloned().collect();
                names.extend(self.defences.tracked_interfaces());
                names
                    .iter()
                    .filter_map(|n| link::get_by_name(&mut self.nl, n).ok())
                    .collect()
            }
            Err(e) => {
                self.counters.netlink_errors += 1;
                self.log(
                    "error",
                    json!({"what": "link notifications", "error": e.to_string()}),
                );
                return;
            }
        };
        for info in infos {
            for (id, input) in self.defences.on_link(&info, self.now()) {
                self.feed(id, input);
            }
            let Some((name, iface)) = self
                .ifaces
                .iter_mut()
                .find(|(_, i)| i.info.ifindex == info.ifindex)
            else {
                continue;
            };
            let name = name.clone();
            let was_up = iface.info.is_up();
            if info.exists && !info.mac.is_empty() {
                iface.info.mac = info.mac.clone();
            }
            iface.info.admin_up = info.admin_up;
            iface.info.lower_up = info.lower_up;
            iface.info.exists = info.exists;
            let up = iface.info.is_up();
            if up != was_up {
                self.log("link", json!({"interface": name, "up": up}));
            }
            let ids: Vec<RouterId> = self
                .routers
                .iter()
                .filter(|(_, s)| s.plan.interface == name && s.link_down == up)
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                if let Some(s) = self.routers.get_mut(&id) {
                    s.link_down = !up;
                }
                for input in self.defences.set_link(id, !up) {
                    self.feed(id, input);
                }
            }
        }
    }

    /// SIGHUP: load the plan again and apply the difference.
    fn reload(&mut self) {
        self.counters.reloads += 1;
        let new = match load_plan(&self.plan_path, Some(&self.host)) {
            Ok(p) => p,
            Err(e) => {
                self.counters.reload_errors += 1;
                self.log("reload_failed", json!({"error": e.to_string()}));
                return;
            }
        };
        // Check every new router before touching a running one.
        let mut built = BTreeMap::new();
        for r in &new.plan.routers {
            match build_router(&new, r) {
                Ok(router) => {
                    built.insert(r.name.clone(), (r.clone(), router));
                }
                Err(e) => {
                    self.counters.reload_errors += 1;
                    self.log("reload_failed", json!({"error": e}));
                    return;
                }
            }
        }
        let old_hash = self.loaded.plan.topology_hash.clone();
        let same_passwords =
            |name: &str, loaded: &LoadedPlan| loaded.passwords.get(name) == new.passwords.get(name);
        let mut kept = Vec::new();
        let mut restarted = Vec::new();
        let mut removed = Vec::new();
        let ids: Vec<RouterId> = self.routers.keys().copied().collect();
        for id in ids {
            let slot = &self.routers[&id];
            let name = slot.plan.name.clone();
            match built.get(&name) {
                Some((p, _)) if *p == slot.plan && same_passwords(&name, &self.loaded) => {
                    built.remove(&name);
                    kept.push(name);
                }
                Some(_) => {
                    self.remove_router(id);
                    restarted.push(name);
                }
                None => {
                    self.remove_router(id);
                    removed.push(name);
                }
            }
        }
        self.loaded = new;
        self.defences.set_plan_hash(&self.loaded.plan.topology_hash);
        let mut added = Vec::new();
        for (name, (plan, router)) in built {
            if let Err(e) = self.ensure_sockets(&plan) {
                self.counters.reload_errors += 1;
                self.log(
                    "error",
                    json!({"what": "reload", "router": name, "error": e}),
                );
                continue;
            }
            if !restarted.contains(&name) {
                added.push(name.clone());
            }
            self.add_router(plan, router);
        }
        let vss = self.loaded.plan.virtual_servers.clone();
        let now = std::time::Instant::now();
        let synced = match self.director.as_mut() {
            Some(d) => {
                d.set_plan_hash(&self.loaded.plan.topology_hash);
                d.reload(self.poll.registry(), vss, now)
            }
            None if vss.is_empty() => Ok(()),
            None => Director::start(vss, &self.loaded.plan.topology_hash, now)
                .map(|d| self.director = Some(d)),
        };
        if let Err(e) = synced {
            self.counters.reload_errors += 1;
            self.log(
                "error",
                json!({"what": "reload IPVS", "error": e.to_string()}),
            );
        }
        self.log(
            "reloaded",
            json!({"previous_plan": old_hash, "kept": kept, "restarted": restarted, "removed": removed, "added": added}),
        );
    }

    /// SIGUSR1: one JSON line with every router's state and counters.
    fn dump(&self) {
        let routers: Vec<serde_json::Value> = self
            .routers
            .iter()
            .map(|(id, s)| {
                json!({
                    "router": s.plan.name,
                    "interface": s.plan.interface,
                    "vrid": s.plan.vrid,
                    "state": state_name(s.router.state()),
                    "priority": s.router.priority(),
                    "master_adver_interval_cs": s.router.master_adver_interval().0,
                    "link_down": s.link_down,
                    "stats": s.router.stats(),
                    "defences": self.defences.status(*id),
                })
            })
            .collect();
        self.log(
            "dump",
            json!({"host": self.host, "routers": routers, "unattributed": self.unattributed, "shell": self.counters, "timers": self.timers.len(),
                   "director": self.director.as_ref().map(|d| &d.counters)}),
        );
    }

    /// Listens on the status socket. Without it the daemon still runs
    /// (another daemon may own the path); the log says why.
    pub fn listen_control(&mut self, path: &Path) {
        match ControlServer::bind(
            path,
            self.poll.registry(),
            TOKEN_CONTROL,
            TOKEN_CONTROL.0 + 1,
        ) {
            Ok(c) => {
                self.log(
                    "control_socket",
                    json!({"path": path.display().to_string()}),
                );
                self.control = Some(c);
            }
            Err(e) => self.log(
                "error",
                json!({"what": "status socket", "path": path.display().to_string(), "error": e.to_string()}),
            ),
        }
    }

    /// The status document `vigild status` prints.
    pub fn status_document(&self) -> serde_json::Value {
        let now = self.now();
        let routers: Vec<serde_json::Value> = self
            .routers
            .iter()
            .map(|(id, s)| {
                let stats = serde_json::to_value(s.router.stats()).unwrap_or_default();
                self.defences
                    .status_row(*id, s.router.state(), s.router.priority(), stats, now)
            })
            .collect();
        json!({"host": self.host, "plan": self.hash(), "pid": std::process::id(),
               "routers": routers, "shell": self.counters, "defences": self.defences.counters,
               "unattributed": self.unattributed})
    }

    fn on_control(&mut self, token: Token) {
        let now = self.now();
        let is_listener = self.control.as_ref().is_some_and(|c| c.is_listener(token));
        let doc = if is_listener {
            serde_json::to_vec(&self.status_document()).unwrap_or_default()
        } else {
            Vec::new()
        };
        let Some(c) = self.control.as_mut() else {
            return;
        };
        if is_listener {
            c.accept(self.poll.registry(), &doc, now);
        } else {
            c.flush(self.poll.registry(), token);
        }
    }

    /// Each router's name and state (for tests and `--check-plan` style summaries).
    pub fn states(&self) -> Vec<(String, State)> {
        self.routers
            .values()
            .map(|s| (s.plan.name.clone(), s.router.state()))
            .collect()
    }
}

/// Tells systemd the daemon is ready, if it runs under `Type=notify`.
pub fn sd_notify_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let _ = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|a| sock.send_to_addr(b"READY=1", &a))
    } else {
        sock.send_to(b"READY=1", &path)
    };
}
