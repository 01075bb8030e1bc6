//! The I/O shell: one thread, one mio loop. It turns file descriptors,
//! signals, child exits and the clock into [`Event`]s for the [`Node`] and
//! carries out the [`Command`]s that come back. It decides nothing: every
//! rule lives in `crate::node`.
//!
//! What it owns: the signalfd, the rtnetlink connection and link monitor,
//! one raw VRRP socket per (interface, family) and one ICMP echo socket per
//! arbitrating router (opened and re-opened when the node says), the GARP/NA
//! senders, the child-process runner, the IPVS connection and health
//! probes ([`HealthIo`]), the status socket, and the ledger file under the
//! state directory.
//!
//! Lifecycle:
//! * start: read the links and addresses of the plan's interfaces and the
//!   ledger, feed [`Event::Start`], tell systemd `READY=1` when the node says;
//! * SIGTERM/SIGINT: [`Event::Shutdown`], then wait for the hooks still
//!   running (each bounded by its timeout), exit 0;
//! * SIGHUP: read the plan again and feed [`Event::Reload`];
//! * SIGUSR1: the status document as one JSON line on stderr.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use serde::Serialize;
use serde_json::json;
use vigil_schema::plan::Family;

use crate::control::ControlServer;
use crate::health::executor::HealthIo;
use crate::hooks::process::{ProcId as RunnerId, ProcessRunner};
use crate::log;
use crate::metrics::http::MetricsServer;
use crate::net::arp_socket::ArpSocket;
use crate::net::http::{HttpClient, Request as HttpRequest};
use crate::net::icmp_socket::IcmpSocket;
use crate::net::na_socket::NaSocket;
use crate::net::vrrp_socket::VrrpSocket;
use crate::netlink::addr::{self, Change, IfAddr};
use crate::netlink::link::{self, LinkInfo, LinkMonitor};
use crate::netlink::{NlConn, NlError};
use crate::node::{AddrOutcome, Address, Command, Event, Ledger, Link, Node, ProcId};
use crate::plan_load::{LoadedPlan, load_plan};
use crate::signals::{Request, Signals};
use crate::vrrp::Instant;
use crate::wire::{IpMeta, MacAddr, arp, ndisc};

/// The loop's tokens: fixed ones, then one table for sockets the node asks
/// for, then the ranges the status socket and the health probes allocate
/// from (each component hands out tokens only inside its own range).
mod tokens {
    use mio::Token;
    pub const SIGNALS: Token = Token(0);
    pub const LINKS: Token = Token(1);
    pub const CONTROL: Token = Token(2);
    pub const METRICS: Token = Token(3);
    /// VRRP and ICMP sockets (the shell's own table).
    pub const FIRST_SOCKET: usize = 16;
    /// Status-socket connections.
    pub const FIRST_CONTROL_CLIENT: usize = 1 << 22;
    /// Metrics connections (`metrics::http::MAX_CONNECTIONS` of them).
    pub const FIRST_METRICS_CLIENT: usize = 1 << 23;
    /// HTTP requests (the lease store), above the metrics connections.
    pub const FIRST_HTTP: usize = (1 << 23) + (1 << 22);
    pub const HTTP_SPAN: usize = 1 << 20;
    /// Health probes.
    pub const FIRST_PROBE: usize = 1 << 24;
}

/// Failures of the shell's own I/O, counted for the status document.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShellCounters {
    pub advert_send_errors: u64,
    pub garp_send_errors: u64,
    pub socket_errors: u64,
    pub recv_errors: u64,
    /// Datagrams without a usable IP header or ancillary data.
    pub malformed_ip: u64,
    pub netlink_errors: u64,
    pub ledger_errors: u64,
    pub echo_recv_errors: u64,
}

/// What a socket token is for.
#[derive(Clone, Debug)]
enum Source {
    Vrrp(String, Family),
    Echo(String),
}

/// GARP/NA senders of one interface (opened on first use).
#[derive(Debug, Default)]
struct Announcer {
    ifindex: u32,
    arp: Option<ArpSocket>,
    na: Option<NaSocket>,
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

fn io_err(what: &str, e: impl std::fmt::Display) -> StartError {
    StartError(format!("{what}: {e}"))
}

/// Where the daemon keeps its ledger.
pub fn ledger_path(state_dir: &Path, host: &str) -> PathBuf {
    state_dir.join(format!("ledger-{host}.json"))
}

/// The running daemon.
pub struct Daemon {
    poll: Poll,
    clock: std::time::Instant,
    nl: NlConn,
    links: LinkMonitor,
    signals: Signals,
    node: Node,
    /// The links the shell knows (for GARP sources and lost notifications).
    ifaces: BTreeMap<String, LinkInfo>,
    sources: HashMap<Token, Source>,
    next_token: usize,
    vrrp: BTreeMap<(String, Family), (VrrpSocket, Token)>,
    echo: BTreeMap<String, (IcmpSocket, Token)>,
    echo_ident: u16,
    announcers: BTreeMap<String, Announcer>,
    procs: ProcessRunner,
    proc_ids: HashMap<RunnerId, ProcId>,
    health: Option<HealthIo>,
    control: Option<ControlServer>,
    metrics: Option<MetricsServer>,
    /// Where the metrics listener was asked to listen (bound or not).
    metrics_listen: Option<std::net::SocketAddr>,
    /// Unix time of the start, in seconds.
    start_time_s: f64,
    http: HttpClient,
    plan_path: PathBuf,
    host: String,
    ledger_file: PathBuf,
    record: Option<std::fs::File>,
    counters: ShellCounters,
    buf: Vec<u8>,
    stopped: bool,
}

impl Daemon {
    /// Opens the kernel interfaces, reads the links, addresses and ledger,
    /// and starts the node.
    pub fn start(
        plan_path: &Path,
        host: &str,
        loaded: LoadedPlan,
        state_dir: &Path,
        record: Option<&Path>,
    ) -> Result<Daemon, StartError> {
        Node::check_plan(&loaded.plan, &loaded.passwords).map_err(StartError)?;
        let signals = Signals::open().map_err(|e| io_err("signalfd", e))?;
        let nl = NlConn::open().map_err(|e| io_err("rtnetlink", e))?;
        let links = LinkMonitor::open().map_err(|e| io_err("rtnetlink link monitor", e))?;
        let poll = Poll::new().map_err(|e| io_err("epoll", e))?;
        poll.registry()
            .register(
                &mut SourceFd(&signals.as_raw_fd()),
                tokens::SIGNALS,
                Interest::READABLE,
            )
            .map_err(|e| io_err("register signalfd", e))?;
        poll.registry()
            .register(
                &mut SourceFd(&links.as_raw_fd()),
                tokens::LINKS,
                Interest::READABLE,
            )
            .map_err(|e| io_err("register link monitor", e))?;
        // Without virtual servers IPVS is opened on first use (a reload
        // may add some, a ledger may own services to delete).
        let health = Some(if loaded.plan.virtual_servers.is_empty() {
            HealthIo::new(tokens::FIRST_PROBE)
        } else {
            HealthIo::open(tokens::FIRST_PROBE).map_err(|e| io_err("IPVS", e))?
        });
        if let Err(e) = std::fs::create_dir_all(state_dir) {
            return Err(io_err(
                &format!("state directory {}", state_dir.display()),
                e,
            ));
        }
        let node = Node::new(host, loaded.plan, loaded.passwords);
        let mut d = Daemon {
            poll,
            clock: std::time::Instant::now(),
            nl,
            links,
            signals,
            node,
            ifaces: BTreeMap::new(),
            sources: HashMap::new(),
            next_token: tokens::FIRST_SOCKET,
            vrrp: BTreeMap::new(),
            echo: BTreeMap::new(),
            echo_ident: (std::process::id() as u16) << 6,
            announcers: BTreeMap::new(),
            procs: ProcessRunner::default(),
            proc_ids: HashMap::new(),
            health,
            control: None,
            metrics: None,
            metrics_listen: None,
            start_time_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            http: HttpClient::new(tokens::FIRST_HTTP, tokens::HTTP_SPAN),
            plan_path: plan_path.to_path_buf(),
            host: host.to_string(),
            ledger_file: ledger_path(state_dir, host),
            record: None,
            counters: ShellCounters::default(),
            buf: vec![0; 65536],
            stopped: false,
        };
        if let Some(path) = record {
            let f = std::fs::File::create(path)
                .map_err(|e| io_err(&format!("record file {}", path.display()), e))?;
            d.record = Some(f);
        }
        if let Some(info) = d.health.as_ref().and_then(HealthIo::info) {
            let v = info.version;
            d.log(
                "ipvs_ready",
                json!({"version": format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff),
                       "conn_tab_size": info.conn_tab_size}),
            );
        }
        d.listen_metrics();
        // The plan's virtual MAC interfaces exist before the routers start,
        // so that a router does not start in FAULT for want of one.
        let vmacs: Vec<(String, String, String)> = d
            .node
            .plan()
            .routers
            .iter()
            .filter_map(|r| {
                let v = r.vmac.as_ref()?;
                Some((v.interface.clone(), r.interface.clone(), v.mac.clone()))
            })
            .collect();
        for (interface, parent, mac) in vmacs {
            d.ensure_vmac(&interface, &parent, &mac);
        }
        // Their creation (down, then up) is already in the link monitor;
        // the links are read below as they are now.
        let _ = d.links.drain();
        let ledger = d.read_ledger();
        // Virtual MAC interfaces a previous run created are read too: the
        // node removes those this plan no longer wants.
        let extra: Vec<String> = ledger.as_ref().map(|l| l.vmacs.clone()).unwrap_or_default();
        let (links, addresses) = d.read_interfaces(&extra);
        d.feed(Event::Start {
            links,
            addresses,
            ledger,
        });
        Ok(d)
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.clock.elapsed().as_micros() as u64)
    }

    fn log(&self, event: &str, fields: serde_json::Value) {
        log::event(event, self.node.plan_hash(), fields);
    }

    fn to_link(info: &LinkInfo) -> Link {
        Link {
            name: info.name.clone(),
            ifindex: info.ifindex,
            mac: info.mac.clone(),
            up: info.is_up(),
            exists: info.exists,
        }
    }

    /// The plan's interfaces that exist now, and their addresses.
    fn read_interfaces(&mut self, extra: &[String]) -> (Vec<Link>, Vec<Address>) {
        let mut links = Vec::new();
        let mut addresses = Vec::new();
        let mut names = self.node.interfaces();
        names.extend(extra.iter().cloned());
        for name in names {
            let Ok(info) = link::get_by_name(&mut self.nl, &name) else {
                continue;
            };
            match addr::dump(&mut self.nl, info.ifindex) {
                Ok(list) => addresses.extend(list.into_iter().map(|a| Address {
                    interface: name.clone(),
                    address: a.address,
                    prefix_len: a.prefix_len,
                    label: a.label,
                })),
                Err(e) => {
                    self.counters.netlink_errors += 1;
                    self.log(
                        "error",
                        json!({"what": "dump addresses", "interface": name, "error": e.to_string()}),
                    );
                }
            }
            links.push(Self::to_link(&info));
            self.ifaces.insert(name, info);
        }
        (links, addresses)
    }

    fn read_ledger(&mut self) -> Option<Ledger> {
        match std::fs::read(&self.ledger_file) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(l) => Some(l),
                Err(e) => {
                    self.counters.ledger_errors += 1;
                    self.log(
                        "error",
                        json!({"what": "ledger", "path": self.ledger_file.display().to_string(),
                               "error": e.to_string(), "effect": "nothing a previous run added is removed or re-adopted"}),
                    );
                    None
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                self.counters.ledger_errors += 1;
                self.log(
                    "error",
                    json!({"what": "ledger", "path": self.ledger_file.display().to_string(), "error": e.to_string()}),
                );
                None
            }
        }
    }

    fn write_ledger(&mut self, ledger: &Ledger) {
        let tmp = self.ledger_file.with_extension("json.tmp");
        let res = serde_json::to_vec_pretty(ledger)
            .map_err(io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &self.ledger_file));
        if let Err(e) = res {
            self.counters.ledger_errors += 1;
            self.log(
                "error",
                json!({"what": "write ledger", "path": self.ledger_file.display().to_string(), "error": e.to_string()}),
            );
        }
    }

    /// Feeds one event and carries out everything that follows from it
    /// (answers to commands are fed back in the same turn).
    fn feed(&mut self, event: Event) {
        let mut pending = std::collections::VecDeque::from([event]);
        while let Some(event) = pending.pop_front() {
            let now = self.now();
            if let Some(f) = self.record.as_mut() {
                use std::io::Write;
                let line = json!({"at": now, "event": event});
                let _ = writeln!(f, "{line}");
            }
            for cmd in self.node.handle(event, now) {
                pending.extend(self.execute(cmd));
            }
        }
    }

    fn alloc_token(&mut self, source: Source) -> Token {
        let t = Token(self.next_token);
        self.next_token += 1;
        if self.next_token >= tokens::FIRST_CONTROL_CLIENT {
            self.next_token = tokens::FIRST_SOCKET;
        }
        self.sources.insert(t, source);
        t
    }

    /// Carries out one command; returns the answers to feed back.
    fn execute(&mut self, cmd: Command) -> Vec<Event> {
        let now = self.now();
        match cmd {
            Command::OpenVrrp {
                interface,
                ifindex,
                family,
                multicast,
            } => {
                let key = (interface.clone(), family);
                if let Some((sock, _)) = self.vrrp.get_mut(&key)
                    && sock.ifindex() == ifindex
                {
                    if multicast && let Err(e) = sock.ensure_joined() {
                        self.counters.socket_errors += 1;
                        self.log("error", json!({"what": "join VRRP group", "interface": interface, "error": e.to_string()}));
                    }
                    return Vec::new();
                }
                self.close_vrrp(&key);
                match VrrpSocket::open(family, &interface, ifindex, multicast) {
                    Ok(sock) => {
                        let token = self.alloc_token(Source::Vrrp(interface.clone(), family));
                        if let Err(e) = self.poll.registry().register(
                            &mut SourceFd(&sock.as_raw_fd()),
                            token,
                            Interest::READABLE,
                        ) {
                            self.counters.socket_errors += 1;
                            self.log("error", json!({"what": "register VRRP socket", "interface": interface, "error": e.to_string()}));
                        }
                        self.vrrp.insert(key, (sock, token));
                        self.log(
                            "socket",
                            json!({"what": "VRRP", "interface": interface, "ifindex": ifindex, "family": family, "multicast": multicast}),
                        );
                    }
                    Err(e) => {
                        self.counters.socket_errors += 1;
                        self.log(
                            "error",
                            json!({"what": "open VRRP socket", "interface": interface, "ifindex": ifindex, "error": e.to_string()}),
                        );
                    }
                }
            }
            Command::CloseVrrp { interface, family } => self.close_vrrp(&(interface, family)),
            Command::SendVrrp {
                interface,
                family,
                src,
                dst,
                mut bytes,
            } => {
                let res = match self.vrrp.get(&(interface.clone(), family)) {
                    Some((sock, _)) => {
                        if family == Family::Ipv6 && bytes.len() >= 8 {
                            // IPV6_CHECKSUM: the kernel fills it in.
                            bytes[6] = 0;
                            bytes[7] = 0;
                        }
                        sock.send(&bytes, src, dst)
                    }
                    None => Err(io::Error::other("no VRRP socket on this interface")),
                };
                if let Err(e) = res {
                    self.counters.advert_send_errors += 1;
                    self.log(
                        "error",
                        json!({"what": "send advert", "interface": interface, "to": dst.to_string(), "error": e.to_string()}),
                    );
                }
            }
            Command::AddAddress(a) => return vec![self.change_address(a, true)],
            Command::RemoveAddress(a) => return vec![self.change_address(a, false)],
            Command::SendGarp {
                interface,
                addresses,
            } => {
                if let Err(e) = self.send_garps(&interface, &addresses) {
                    self.counters.garp_send_errors += 1;
                    self.log(
                        "error",
                        json!({"what": "send GARP/NA", "interface": interface, "error": e.to_string()}),
                    );
                }
            }
            Command::OpenEcho {
                router,
                interface,
                source,
            } => {
                self.close_echo(&router);
                self.echo_ident = self.echo_ident.wrapping_add(1);
                match IcmpSocket::open(&interface, source, self.echo_ident) {
                    Ok(sock) => {
                        let token = self.alloc_token(Source::Echo(router.clone()));
                        if let Err(e) = self.poll.registry().register(
                            &mut SourceFd(&sock.as_raw_fd()),
                            token,
                            Interest::READABLE,
                        ) {
                            self.counters.socket_errors += 1;
                            self.log("error", json!({"router": router, "what": "register ICMP socket", "error": e.to_string()}));
                        }
                        self.echo.insert(router, (sock, token));
                    }
                    Err(e) => {
                        // Every probe is then lost: the verdict goes
                        // unreachable and the router claims nothing.
                        self.counters.socket_errors += 1;
                        self.log(
                            "error",
                            json!({"router": router, "what": "open ICMP socket", "error": e.to_string()}),
                        );
                    }
                }
            }
            Command::CloseEcho { router } => self.close_echo(&router),
            Command::SendEcho {
                router,
                target,
                seq,
            } => {
                let res = match self.echo.get(&router) {
                    Some((s, _)) => s.send_echo(target, seq),
                    None => Err(io::Error::other("no ICMP socket")),
                };
                if res.is_err() {
                    return vec![Event::EchoSendFailed { router, target }];
                }
            }
            Command::Spawn {
                proc,
                argv,
                env,
                timeout_ms,
            } => match self
                .procs
                .spawn(&argv, &env, Duration::from_millis(timeout_ms), now)
            {
                Ok((id, _pid)) => {
                    self.proc_ids.insert(id, proc);
                }
                Err(e) => {
                    return vec![Event::ProcessExited {
                        proc,
                        pid: 0,
                        outcome: None,
                        elapsed_ms: 0,
                        error: Some(e),
                    }];
                }
            },
            Command::Kill { proc } => {
                let ids: Vec<RunnerId> = self
                    .proc_ids
                    .iter()
                    .filter(|(_, p)| **p == proc)
                    .map(|(r, _)| *r)
                    .collect();
                for id in ids {
                    self.procs.kill(id);
                    self.proc_ids.remove(&id);
                }
            }
            Command::StartProbe { .. }
            | Command::AbortProbe { .. }
            | Command::IpvsDump
            | Command::IpvsApply { .. } => {
                let registry = self.poll.registry();
                return match self.health.as_mut() {
                    Some(h) => {
                        let (events, logs) = h.execute(&cmd, registry, now);
                        for (event, fields) in logs {
                            log::event(&event, self.node.plan_hash(), fields);
                        }
                        events
                    }
                    None => {
                        self.log("error", json!({"what": "IPVS", "error": "no IPVS connection (the plan had no virtual servers at start; restart vigild)"}));
                        match cmd {
                            Command::IpvsDump => vec![Event::IpvsDumped {
                                result: Err("no IPVS connection".into()),
                            }],
                            _ => Vec::new(),
                        }
                    }
                };
            }
            Command::CreateVmac {
                interface,
                parent,
                mac,
            } => {
                if let Some(info) = self.ensure_vmac(&interface, &parent, &mac) {
                    return vec![Event::Link(Self::to_link(&info))];
                }
            }
            Command::DeleteVmac { interface, mac } => self.delete_vmac(&interface, &mac),
            Command::WriteLedger(ledger) => self.write_ledger(&ledger),
            Command::Log { event, fields } => self.log(&event, fields),
            Command::Ready => {
                sd_notify_ready();
            }
            Command::HttpRequest {
                req,
                endpoint,
                path,
                body,
                timeout_ms,
            } => {
                let registry = self.poll.registry();
                let request = HttpRequest {
                    req,
                    endpoint,
                    path: &path,
                    body: &body,
                    timeout_ms,
                };
                if let Some(ev) = self.http.start(registry, now, request) {
                    return vec![ev];
                }
            }
            Command::Stopped => self.stopped = true,
        }
        Vec::new()
    }

    fn close_vrrp(&mut self, key: &(String, Family)) {
        if let Some((sock, token)) = self.vrrp.remove(key) {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&sock.as_raw_fd()));
            self.sources.remove(&token);
        }
    }

    fn close_echo(&mut self, router: &str) {
        if let Some((sock, token)) = self.echo.remove(router) {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&sock.as_raw_fd()));
            self.sources.remove(&token);
        }
    }

    /// Creates (or reuses) a virtual MAC interface; logs and returns `None`
    /// when that is not possible.
    fn ensure_vmac(&mut self, name: &str, parent: &str, mac: &str) -> Option<LinkInfo> {
        match self.try_vmac(name, parent, mac) {
            Ok((info, reused)) => {
                self.log(
                    "vmac",
                    json!({"interface": name, "parent": parent, "mac": mac, "ifindex": info.ifindex,
                           "action": if reused { "reused" } else { "created" }}),
                );
                self.ifaces.insert(name.to_string(), info.clone());
                Some(info)
            }
            Err(e) => {
                self.counters.netlink_errors += 1;
                self.log(
                    "error",
                    json!({"what": "virtual MAC interface", "interface": name, "parent": parent, "mac": mac,
                           "error": e, "effect": "the router stays in FAULT while it is missing"}),
                );
                None
            }
        }
    }

    fn try_vmac(
        &mut self,
        name: &str,
        parent: &str,
        mac: &str,
    ) -> Result<(LinkInfo, bool), String> {
        let hw = parse_mac(mac).ok_or_else(|| format!("bad MAC {mac}"))?;
        let parent_info =
            link::get_by_name(&mut self.nl, parent).map_err(|e| format!("parent {parent}: {e}"))?;
        let reused = match link::get_by_name(&mut self.nl, name) {
            Ok(existing) => {
                let (kind, lower) =
                    link::kind_and_parent(&mut self.nl, name).map_err(|e| e.to_string())?;
                if existing.mac != hw || kind != "macvlan" || lower != Some(parent_info.ifindex) {
                    return Err(format!(
                        "{name} exists and is not a macvlan on {parent} with {mac} (kind {kind:?}); left alone"
                    ));
                }
                true
            }
            Err(NlError::Kernel { errno, .. }) if errno == nix::libc::ENODEV => {
                link::create_macvlan(&mut self.nl, name, parent_info.ifindex, hw)
                    .map_err(|e| format!("create: {e}"))?;
                false
            }
            Err(e) => return Err(e.to_string()),
        };
        // Only the macvlan answers ARP for its VIPs (the parent would too,
        // with its own MAC), and the parent never asks with a VIP as the
        // sender (its ARP requests for traffic sourced from a VIP would
        // teach the neighbours the parent's MAC for it); an IPv4 virtual
        // MAC sends nothing of its own (no IPv6 link-local, router
        // solicitations or MLD from the backup).
        let mut sysctls = vec![
            (format!("net/ipv4/conf/{parent}/arp_ignore"), "1"),
            (format!("net/ipv4/conf/{parent}/arp_announce"), "2"),
            (format!("net/ipv4/conf/{name}/arp_ignore"), "1"),
            (format!("net/ipv4/conf/{name}/arp_announce"), "2"),
        ];
        if hw[4] == 1 {
            sysctls.push((format!("net/ipv6/conf/{name}/disable_ipv6"), "1"));
        } else {
            // Every member's macvlan has the same MAC: no link-local of its
            // own (it would be the same on every member and fail DAD).
            sysctls.push((format!("net/ipv6/conf/{name}/addr_gen_mode"), "1"));
        }
        for (key, value) in sysctls {
            let path = Path::new("/proc/sys").join(&key);
            if let Err(e) = std::fs::write(&path, value)
                && path.exists()
            {
                return Err(format!("{key} = {value}: {e}"));
            }
        }
        let info = link::get_by_name(&mut self.nl, name).map_err(|e| e.to_string())?;
        link::set_up(&mut self.nl, info.ifindex).map_err(|e| format!("set up: {e}"))?;
        let info = link::get_by_name(&mut self.nl, name).map_err(|e| e.to_string())?;
        Ok((info, reused))
    }

    /// Deletes a virtual MAC interface if it still carries `mac`.
    fn delete_vmac(&mut self, name: &str, mac: &str) {
        let Some(hw) = parse_mac(mac) else {
            return;
        };
        let res = match link::get_by_name(&mut self.nl, name) {
            Ok(info) if info.mac == hw => link::delete(&mut self.nl, info.ifindex).map(|()| true),
            Ok(_) => Ok(false),
            Err(NlError::Kernel { errno, .. }) if errno == nix::libc::ENODEV => Ok(false),
            Err(e) => Err(e),
        };
        match res {
            Ok(deleted) => {
                if deleted {
                    self.log(
                        "vmac",
                        json!({"interface": name, "mac": mac, "action": "deleted"}),
                    );
                }
            }
            Err(e) => {
                self.counters.netlink_errors += 1;
                self.log(
                    "error",
                    json!({"what": "delete virtual MAC interface", "interface": name, "error": e.to_string()}),
                );
            }
        }
    }

    /// Adds or removes one address and says truthfully what happened: a
    /// remove the kernel answers with "not there" is checked against a dump,
    /// since RTM_DELADDR matches prefix and label too.
    fn change_address(&mut self, a: Address, add: bool) -> Event {
        let ifindex = self
            .ifaces
            .get(&a.interface)
            .filter(|i| i.exists)
            .map(|i| i.ifindex);
        let outcome = match ifindex {
            None => AddrOutcome::Failed {
                error: format!("interface {} does not exist", a.interface),
            },
            Some(ifindex) => {
                let ifa = IfAddr {
                    address: a.address,
                    prefix_len: a.prefix_len,
                    ifindex,
                    label: a.label.clone(),
                };
                let res = if add {
                    addr::add(&mut self.nl, &ifa)
                } else {
                    addr::remove(&mut self.nl, &ifa)
                };
                match res {
                    Ok(Change::Done) => AddrOutcome::Done,
                    Ok(Change::AlreadyDone) if add => AddrOutcome::Unchanged,
                    Ok(Change::AlreadyDone) => match addr::dump(&mut self.nl, ifindex) {
                        Ok(list) => match list.iter().find(|p| p.address == a.address) {
                            Some(p) => AddrOutcome::Failed {
                                error: format!(
                                    "the kernel did not remove it: present as /{} label {:?}, asked /{} label {:?}",
                                    p.prefix_len, p.label, a.prefix_len, a.label
                                ),
                            },
                            None => AddrOutcome::Unchanged,
                        },
                        Err(e) => AddrOutcome::Failed {
                            error: format!("not removed, and the check failed: {e}"),
                        },
                    },
                    // The interface went away under us: its addresses went with it.
                    Err(NlError::Kernel { errno, .. }) if !add && errno == nix::libc::ENODEV => {
                        AddrOutcome::Unchanged
                    }
                    Err(e) => {
                        self.counters.netlink_errors += 1;
                        AddrOutcome::Failed {
                            error: e.to_string(),
                        }
                    }
                }
            }
        };
        Event::AddressResult {
            address: a,
            added: add,
            outcome,
        }
    }

    fn send_garps(&mut self, ifname: &str, addresses: &[IpAddr]) -> io::Result<()> {
        let Some(info) = self.ifaces.get(ifname).filter(|i| i.exists) else {
            return Err(io::Error::other("interface does not exist"));
        };
        let ifindex = info.ifindex;
        let mac = MacAddr(<[u8; 6]>::try_from(info.mac.as_slice()).unwrap_or([0; 6]));
        let ann = self.announcers.entry(ifname.to_string()).or_default();
        if ann.ifindex != ifindex {
            *ann = Announcer {
                ifindex,
                ..Announcer::default()
            };
        }
        for a in addresses {
            match a {
                IpAddr::V4(v4) => {
                    if ann.arp.is_none() {
                        ann.arp = Some(ArpSocket::sender(ifindex)?);
                    }
                    let frame = arp::Repr {
                        operation: arp::Operation::Request,
                        mac,
                        address: *v4,
                    }
                    .to_bytes();
                    if let Some(s) = ann.arp.as_ref() {
                        s.send_broadcast(&frame)?;
                    }
                }
                IpAddr::V6(v6) => {
                    if ann.na.is_none() {
                        ann.na = Some(NaSocket::open(ifname, ifindex)?);
                    }
                    let all_nodes = crate::net::na_socket::ALL_NODES;
                    let mut msg = ndisc::Repr::unsolicited(*v6, mac, true).to_bytes(*v6, all_nodes);
                    // The kernel computes ICMPv6 checksums on raw sockets.
                    msg[2] = 0;
                    msg[3] = 0;
                    if let Some(s) = ann.na.as_ref() {
                        s.send_all_nodes(&msg, *v6)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The poll timeout: the earliest deadline of the node, the children,
    /// the status socket and the probes.
    fn timeout(&mut self) -> Option<Duration> {
        let next = [
            self.node.next_deadline(),
            self.procs.next_deadline(),
            self.control.as_ref().and_then(ControlServer::next_deadline),
            self.metrics.as_ref().and_then(MetricsServer::next_deadline),
            self.health.as_ref().and_then(HealthIo::next_deadline),
            self.http.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()?;
        let now = self.now();
        // Round up so we never wake just before the deadline and spin.
        let us = next.as_micros().saturating_sub(now.as_micros());
        Some(Duration::from_millis(us.div_ceil(1000)))
    }

    /// Runs until SIGTERM/SIGINT; returns after every router resigned and
    /// the hooks ended.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        loop {
            let timeout = self.timeout();
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
            for token in tokens {
                match token {
                    tokens::SIGNALS => {
                        for req in self.signals.drain()? {
                            match req {
                                Request::Shutdown => self.feed(Event::Shutdown),
                                Request::Reload => self.reload(),
                                Request::Dump => self.dump(),
                            }
                        }
                    }
                    tokens::LINKS => self.on_link_events(),
                    t if self.control.as_ref().is_some_and(|c| c.owns(t)) => self.on_control(t),
                    t if self.metrics.as_ref().is_some_and(|m| m.owns(t)) => self.on_metrics(t),
                    t if self.http.owns(t) => {
                        if let Some(ev) = self.http.on_ready(self.poll.registry(), t) {
                            self.feed(ev);
                        }
                    }
                    t if self.health.as_ref().is_some_and(|h| h.owns(t)) => {
                        let now = self.now();
                        let registry = self.poll.registry();
                        let evs = self
                            .health
                            .as_mut()
                            .map(|h| h.on_ready(t, registry, now))
                            .unwrap_or_default();
                        for e in evs {
                            self.feed(e);
                        }
                    }
                    t => match self.sources.get(&t).cloned() {
                        Some(Source::Vrrp(i, f)) => self.on_vrrp_readable(&i, f),
                        Some(Source::Echo(r)) => self.on_echo_readable(&r),
                        None => {}
                    },
                }
            }
            if self.stopped {
                self.finish();
                return Ok(());
            }
            self.on_time();
        }
    }

    /// Children, probes, the status socket and the node's own deadlines.
    fn on_time(&mut self) {
        let now = self.now();
        self.reap_children(now);
        if let Some(h) = self.health.as_mut() {
            let evs = h.poll(self.poll.registry(), now);
            for e in evs {
                self.feed(e);
            }
        }
        if let Some(c) = self.control.as_mut() {
            c.poll(self.poll.registry(), now);
        }
        if let Some(m) = self.metrics.as_mut() {
            m.poll(self.poll.registry(), now);
        }
        for ev in self.http.poll(self.poll.registry(), now) {
            self.feed(ev);
        }
        if self.node.next_deadline().is_some_and(|at| at <= self.now()) {
            self.feed(Event::Tick);
        }
    }

    /// Children that ended (or outlived their timeout) since the last look.
    fn reap_children(&mut self, now: Instant) {
        for f in self.procs.poll(now) {
            if let Some(proc) = self.proc_ids.remove(&f.id) {
                self.feed(Event::ProcessExited {
                    proc,
                    pid: f.pid,
                    outcome: Some(f.outcome),
                    elapsed_ms: f.elapsed.as_millis() as u64,
                    error: None,
                });
            }
        }
    }

    /// After the node stopped: `stop` hooks run to completion (each bounded
    /// by its timeout). Blocking is fine here: the resignations are out.
    fn finish(&mut self) {
        self.flush_http(Duration::from_millis(500));
        while self.node.hooks_pending() {
            std::thread::sleep(crate::hooks::process::REAP_INTERVAL);
            let now = self.now();
            self.reap_children(now);
            if self.procs.is_empty() && self.node.hooks_pending() {
                // Nothing runs that could finish them: do not wait forever.
                break;
            }
        }
    }

    /// Lets the last HTTP requests (lease revocations) complete, for at
    /// most `limit`; their answers are fed to the node (which only logs them).
    fn flush_http(&mut self, limit: Duration) {
        let end = self.now() + limit;
        let mut events = Events::with_capacity(16);
        while self.http.pending() > 0 && self.now() < end {
            let wait = end
                .saturating_since(self.now())
                .min(Duration::from_millis(50));
            if self.poll.poll(&mut events, Some(wait)).is_err() {
                break;
            }
            let ready: Vec<Token> = events
                .iter()
                .map(|e| e.token())
                .filter(|t| self.http.owns(*t))
                .collect();
            for t in ready {
                if let Some(ev) = self.http.on_ready(self.poll.registry(), t) {
                    self.feed(ev);
                }
            }
            let now = self.now();
            for ev in self.http.poll(self.poll.registry(), now) {
                self.feed(ev);
            }
        }
    }

    /// Resigns every router (when the loop itself failed).
    pub fn shutdown(&mut self) {
        self.feed(Event::Shutdown);
        self.finish();
    }

    fn on_vrrp_readable(&mut self, ifname: &str, family: Family) {
        let key = (ifname.to_string(), family);
        loop {
            let Some((sock, _)) = self.vrrp.get(&key) else {
                return;
            };
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
                    self.log(
                        "error",
                        json!({"what": "receive VRRP", "interface": ifname, "error": e.to_string()}),
                    );
                    return;
                }
            };
            let ip = IpMeta {
                src: meta.src,
                dst: meta.dst,
                ttl: meta.ttl,
            };
            let payload = self.buf[meta.offset..meta.offset + meta.len].to_vec();
            self.feed(Event::Vrrp {
                interface: ifname.to_string(),
                family,
                ip,
                payload,
            });
        }
    }

    fn on_echo_readable(&mut self, router: &str) {
        loop {
            let Some((sock, _)) = self.echo.get(router) else {
                return;
            };
            match sock.recv() {
                Ok(None) => return,
                Ok(Some(None)) => continue,
                Ok(Some(Some(r))) => self.feed(Event::EchoReply {
                    router: router.to_string(),
                    from: r.from,
                    seq: r.seq,
                }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.counters.echo_recv_errors += 1;
                    self.log(
                        "error",
                        json!({"router": router, "what": "receive ICMP", "error": e.to_string()}),
                    );
                    return;
                }
            }
        }
    }

    fn on_link_events(&mut self) {
        let infos = match self.links.drain() {
            Ok(i) => i,
            Err(NlError::Overrun) => {
                // Notifications were lost: ask for the current state instead.
                self.counters.netlink_errors += 1;
                let names = self.node.interfaces();
                names
                    .iter()
                    .map(|n| match link::get_by_name(&mut self.nl, n) {
                        Ok(info) => info,
                        Err(_) => LinkInfo {
                            ifindex: self.ifaces.get(n).map_or(0, |i| i.ifindex),
                            name: n.clone(),
                            mac: Vec::new(),
                            admin_up: false,
                            lower_up: false,
                            exists: false,
                        },
                    })
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
        let wanted = self.node.interfaces();
        for mut info in infos {
            if !wanted.contains(&info.name) {
                continue;
            }
            if info.exists {
                if info.mac.is_empty()
                    && let Some(known) = self.ifaces.get(&info.name)
                {
                    info.mac = known.mac.clone();
                }
                self.ifaces.insert(info.name.clone(), info.clone());
            } else if self
                .ifaces
                .get(&info.name)
                .is_some_and(|k| k.ifindex == info.ifindex)
            {
                self.ifaces.insert(info.name.clone(), info.clone());
            }
            self.feed(Event::Link(Self::to_link(&info)));
        }
    }

    /// SIGHUP: read the plan again; the node applies the difference.
    fn reload(&mut self) {
        match load_plan(&self.plan_path, Some(&self.host)) {
            Ok(new) => {
                // Interfaces the new plan names that are not followed now:
                // tell the node what they are *before* the reload, which
                // builds trackers and link faults from the links it knows
                // (an unknown link is down: a tracker added on an up
                // interface would fault the router and move its VIPs).
                let followed = self.node.interfaces();
                for name in crate::node::interfaces_of(&new.plan) {
                    if followed.contains(&name) {
                        continue;
                    }
                    match link::get_by_name(&mut self.nl, &name) {
                        Ok(info) => {
                            self.ifaces.insert(name, info.clone());
                            self.feed(Event::Link(Self::to_link(&info)));
                        }
                        // Gone since the shell last saw it: say so.
                        Err(NlError::Kernel { errno, .. }) if errno == nix::libc::ENODEV => {
                            if let Some(mut info) = self.ifaces.remove(&name) {
                                info.exists = false;
                                self.feed(Event::Link(Self::to_link(&info)));
                            }
                        }
                        Err(_) => {}
                    }
                }
                self.feed(Event::Reload {
                    plan: Box::new(new.plan),
                    passwords: new.passwords,
                });
                self.listen_metrics();
            }
            Err(e) => self.feed(Event::ReloadFailed {
                error: e.to_string(),
            }),
        }
    }

    /// SIGUSR1: the status document as one JSON line.
    fn dump(&self) {
        self.log("dump", self.status_document());
    }

    /// Listens on the status socket. Without it the daemon still runs
    /// (another daemon may own the path); the log says why.
    pub fn listen_control(&mut self, path: &Path) {
        match ControlServer::bind(
            path,
            self.poll.registry(),
            tokens::CONTROL,
            tokens::FIRST_CONTROL_CLIENT,
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

    /// Binds the plan's metrics listener, or moves it when a reload
    /// changed the address. A bind failure is logged; the daemon runs on.
    fn listen_metrics(&mut self) {
        let wanted = self.node.plan().metrics.as_ref().map(|m| m.listen);
        if wanted == self.metrics_listen && (wanted.is_none() || self.metrics.is_some()) {
            return;
        }
        if let Some(mut old) = self.metrics.take() {
            old.close(self.poll.registry());
        }
        self.metrics_listen = wanted;
        let Some(addr) = wanted else {
            return;
        };
        match MetricsServer::bind(
            addr,
            self.poll.registry(),
            tokens::METRICS,
            tokens::FIRST_METRICS_CLIENT,
        ) {
            Ok(m) => {
                self.log(
                    "metrics_listener",
                    json!({"listen": m.local_addr().to_string()}),
                );
                self.metrics = Some(m);
            }
            Err(e) => {
                self.counters.socket_errors += 1;
                self.log(
                    "error",
                    json!({"what": "metrics listener", "listen": addr.to_string(), "error": e.to_string(),
                           "effect": "no metrics until a reload or restart binds it"}),
                );
            }
        }
    }

    /// The Prometheus exposition of the daemon now.
    pub fn render_metrics(&self, out: &mut String) {
        let http = self
            .metrics
            .as_ref()
            .map(|m| m.counters.clone())
            .unwrap_or_default();
        crate::metrics::render(
            out,
            &crate::metrics::Inputs {
                node: &self.node,
                shell: &self.counters,
                health: self.health.as_ref().map(|h| &h.counters),
                http: &http,
                start_time_s: self.start_time_s,
                version: env!("CARGO_PKG_VERSION"),
            },
        );
    }

    fn on_metrics(&mut self, token: Token) {
        let now = self.now();
        let node = &self.node;
        let shell = &self.counters;
        let health = self.health.as_ref().map(|h| &h.counters);
        let start_time_s = self.start_time_s;
        let registry = self.poll.registry();
        if let Some(m) = self.metrics.as_mut() {
            m.on_ready(token, registry, now, &mut |out, http| {
                crate::metrics::render(
                    out,
                    &crate::metrics::Inputs {
                        node,
                        shell,
                        health,
                        http,
                        start_time_s,
                        version: env!("CARGO_PKG_VERSION"),
                    },
                )
            });
        }
    }

    /// The status document `vigild status` prints.
    pub fn status_document(&self) -> serde_json::Value {
        let mut doc = self.node.status_document(self.now());
        doc["pid"] = std::process::id().into();
        doc["shell"] = serde_json::to_value(&self.counters).unwrap_or_default();
        doc["processes_running"] = self.procs.len().into();
        doc
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

    /// Each router's name and state.
    pub fn states(&self) -> Vec<(String, crate::vrrp::State)> {
        self.node.states()
    }
}

/// `00:00:5e:00:01:4d` as bytes.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
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
