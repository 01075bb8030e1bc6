//! The resolved cluster model: every file merged, every default applied,
//! every value still pointing at where it was written.
//!
//! This is the single input of the lints and of plan emission. It does not
//! depend on the TOML types: a value is an [`At`] (value + [`Span`]) or a
//! [`Setting`] (value + the span that set it, or none when it is the
//! documented default). Any front end that can produce spans into a
//! [`SourceMap`](crate::source::SourceMap) can build this model.
//!
//! Building it never fails: disagreements between files are recorded as
//! [`Conflict`]s for the lints to report, and references (a member's host,
//! a router's segment) are kept as names and checked by lints too.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use vigil_schema::plan::Family;
use vigil_schema::topology::{
    AuthKind, InitialState, Method, Preempt, Protocol, RealServerOnFail, RuntimeKind, Scheduler,
    SchedulerFlag,
};
use vigil_schema::units::{Cidr, Duration};

use crate::source::Span;

/// A value written in a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At<T> {
    pub value: T,
    pub span: Span,
}

impl<T> At<T> {
    pub fn new(value: T, span: Span) -> Self {
        At { value, span }
    }
}

impl<T> std::ops::Deref for At<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A value that has a documented default: `span` is where it was set, or
/// `None` when the default applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub span: Option<Span>,
}

impl<T> Setting<T> {
    pub fn default_value(value: T) -> Self {
        Setting { value, span: None }
    }
    pub fn explicit(value: T, span: Span) -> Self {
        Setting {
            value,
            span: Some(span),
        }
    }
    /// Whether the value was written (rather than defaulted).
    pub fn is_explicit(&self) -> bool {
        self.span.is_some()
    }
    /// Where the value was written, or `fallback` (typically the enclosing
    /// table) for a default.
    pub fn span_or(&self, fallback: &Span) -> Span {
        self.span.clone().unwrap_or_else(|| fallback.clone())
    }
}

impl<T> std::ops::Deref for Setting<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The whole cluster.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub name: Option<At<String>>,
    pub startup_delay: Option<At<Duration>>,
    pub segments: BTreeMap<String, Segment>,
    pub hosts: BTreeMap<String, Host>,
    pub routers: BTreeMap<String, Router>,
    pub sync_groups: BTreeMap<String, SyncGroup>,
    pub virtual_servers: BTreeMap<String, VirtualServer>,
    /// The `[lease]` store (the first definition; others are conflicts).
    pub lease_store: Option<LeaseStore>,
    /// Disagreements between definitions of the same object in several files.
    pub conflicts: Vec<Conflict>,
    /// The input files, in load order.
    pub files: Vec<InputFile>,
}

/// One input file as the lints see it.
#[derive(Clone, Debug)]
pub struct InputFile {
    /// An empty span at the start of the file.
    pub span: Span,
    /// Whether the file defines nothing at all (empty, or only comments).
    pub empty: bool,
}

/// The kind of a named object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    Cluster,
    Segment,
    Host,
    Router,
    SyncGroup,
    VirtualServer,
}

impl ObjectKind {
    /// The TOML table name (`router`, `virtual_server`).
    pub fn table(self) -> &'static str {
        match self {
            ObjectKind::Cluster => "cluster",
            ObjectKind::Segment => "segment",
            ObjectKind::Host => "host",
            ObjectKind::Router => "router",
            ObjectKind::SyncGroup => "sync_group",
            ObjectKind::VirtualServer => "virtual_server",
        }
    }
}

/// Two definitions of one object that cannot be merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub kind: ObjectKind,
    pub name: String,
    /// The field that differs (`vrid`, `member.web1.priority`), or `None`
    /// when the object may only be defined once and was defined again.
    pub field: Option<String>,
    /// The value that was kept (the first definition), as written.
    pub kept: At<String>,
    /// The other value.
    pub other: At<String>,
}

/// An L2 segment.
#[derive(Clone, Debug)]
pub struct Segment {
    pub name: String,
    /// The first definition's header.
    pub span: Span,
    pub definitions: Vec<Span>,
    pub subnets: Vec<At<Cidr>>,
    /// Union over all definitions.
    pub reference_ips: Vec<At<IpAddr>>,
    /// Union over all definitions.
    pub reserved_vrids: Vec<ReservedVrid>,
    pub description: Option<At<String>>,
}

impl Segment {
    /// Whether any subnet of the segment contains `addr`.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.subnets.iter().any(|s| s.contains(addr))
    }
}

#[derive(Clone, Debug)]
pub struct ReservedVrid {
    pub vrid: At<i64>,
    pub owner: At<String>,
}

/// A host.
#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    pub span: Span,
    pub interfaces: BTreeMap<String, Box<Interface>>,
    /// Default `vigild`.
    pub runtime: Setting<RuntimeKind>,
    pub description: Option<At<String>>,
    /// `[host.NAME.metrics] listen`: where `vigild` serves Prometheus metrics.
    pub metrics_listen: Option<At<std::net::SocketAddr>>,
}

impl Host {
    /// The host's interfaces attached to `segment`.
    pub fn interfaces_on<'a>(&'a self, segment: &'a str) -> impl Iterator<Item = &'a Interface> {
        self.interfaces
            .values()
            .map(|i| &**i)
            .filter(move |i| i.segment.value == segment)
    }
}

/// A host's interface.
#[derive(Clone, Debug)]
pub struct Interface {
    pub name: String,
    pub span: Span,
    pub segment: At<String>,
    pub addresses: Vec<At<Cidr>>,
}

/// A virtual router.
#[derive(Clone, Debug)]
pub struct Router {
    pub name: String,
    /// The first definition's header.
    pub span: Span,
    pub definitions: Vec<Span>,
    pub segment: At<String>,
    pub vrid: At<i64>,
    /// Default 3.
    pub version: Setting<i64>,
    /// Default 1s.
    pub advert_interval: Setting<Duration>,
    pub vips: Vec<At<Cidr>>,
    /// Where `vips` was written (the array), if it was.
    pub vips_span: Option<Span>,
    /// Default `always`.
    pub preempt: Setting<Preempt>,
    pub preempt_delay: Option<At<Duration>>,
    /// Default true.
    pub accept: Setting<bool>,
    /// Default false.
    pub vmac: Setting<bool>,
    /// Default false.
    pub unicast: Setting<bool>,
    pub auth: Option<Auth>,
    pub arbitration: Option<Arbitration>,
    pub accept_split_brain: Option<At<String>>,
    pub heartbeat_paths: Vec<At<String>>,
    pub garp: Garp,
    pub notify: Notify,
    /// Union over all definitions, by host name.
    pub members: BTreeMap<String, Box<Member>>,
    /// Union over all definitions, by tracker name.
    pub trackers: BTreeMap<String, Box<Tracker>>,
}

impl Router {
    /// The address family of the router: that of its first VIP.
    pub fn family(&self) -> Option<Family> {
        self.vips.first().map(|v| family_of(v.addr))
    }

    /// The member with the highest configured priority (first by name on a tie).
    pub fn top_member(&self) -> Option<&Member> {
        self.members
            .values()
            .fold(None, |best: Option<&Member>, m| match best {
                Some(b) if b.priority.value >= m.priority.value => Some(b),
                _ => Some(m),
            })
    }

    /// The trackers that apply to a member (all, unless `hosts` narrows them).
    pub fn trackers_of<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Tracker> {
        self.trackers
            .values()
            .map(|t| &**t)
            .filter(move |t| t.hosts.is_empty() || t.hosts.iter().any(|h| h.value == host))
    }
}

/// A lease store endpoint: `http://ADDRESS[:PORT][/]` (port 2379 by
/// default). Host names are refused (`vigild` resolves nothing), and so is
/// `https://` (TLS is not supported yet).
pub fn lease_endpoint(url: &str) -> Result<SocketAddr, &'static str> {
    if url.starts_with("https://") {
        return Err("TLS (https) is not supported yet");
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or("an endpoint is a URL `http://ADDRESS:PORT`")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if let Ok(addr) = rest.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = rest
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(rest);
    match bare.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, 2379)),
        Err(_) => Err("the host must be an IP address (host names are not resolved)"),
    }
}

/// The family of an address.
pub fn family_of(addr: IpAddr) -> Family {
    if addr.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    }
}

/// Name of a family for messages.
pub fn family_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    }
}

/// A member of a router.
#[derive(Clone, Debug)]
pub struct Member {
    pub host: String,
    pub span: Span,
    pub priority: At<i64>,
    pub interface: Option<At<String>>,
    pub initial_state: Option<At<InitialState>>,
}

/// Simple-password authentication.
#[derive(Clone, Debug)]
pub struct Auth {
    pub span: Span,
    pub kind: At<AuthKind>,
    pub password: At<String>,
}

/// Arbitration by reference IPs, defaults applied.
#[derive(Clone, Debug)]
pub struct Arbitration {
    pub span: Span,
    /// As written in the router; empty means "the segment's".
    pub reference_ips: Vec<At<IpAddr>>,
    /// Default 1s.
    pub interval: Setting<Duration>,
    /// Default 500ms.
    pub timeout: Setting<Duration>,
    /// Default 3.
    pub attempts: Setting<i64>,
    /// Default interval × attempts.
    pub release_after: Setting<Duration>,
    pub fence: Option<Fence>,
    pub self_fence: Option<At<Vec<String>>>,
    pub lease: Option<LeaseArbitration>,
}

/// A router's lease arbitration, defaults applied.
#[derive(Clone, Debug)]
pub struct LeaseArbitration {
    pub span: Span,
    /// Default 3s.
    pub ttl: Setting<Duration>,
}

/// The cluster's lease store.
#[derive(Clone, Debug)]
pub struct LeaseStore {
    pub span: Span,
    pub endpoints: Vec<At<String>>,
    /// Default `/vigil`.
    pub key_prefix: Setting<String>,
    /// The TLS table, if written (the files are not read: TLS is not supported yet).
    pub tls: Option<Span>,
}

#[derive(Clone, Debug)]
pub struct Fence {
    pub span: Span,
    pub command: At<Vec<String>>,
    /// Default true.
    pub required: Setting<bool>,
    /// Default 30s.
    pub timeout: Setting<Duration>,
}

/// GARP / unsolicited NA settings, defaults applied.
#[derive(Clone, Debug)]
pub struct Garp {
    /// Default 5.
    pub repeat: Setting<i64>,
    /// Default 100ms.
    pub interval: Setting<Duration>,
    /// Default off.
    pub refresh: Option<At<Duration>>,
}

/// State-change hooks, defaults applied.
#[derive(Clone, Debug)]
pub struct Notify {
    pub master: Option<At<Vec<String>>>,
    pub backup: Option<At<Vec<String>>>,
    pub fault: Option<At<Vec<String>>>,
    pub stop: Option<At<Vec<String>>>,
    pub any: Option<At<Vec<String>>>,
    /// Default 10s.
    pub timeout: Setting<Duration>,
}

/// A tracker.
#[derive(Clone, Debug)]
pub struct Tracker {
    pub name: String,
    pub span: Span,
    pub interface: Option<At<String>>,
    pub command: Option<At<Vec<String>>>,
    /// Default 2s.
    pub interval: Setting<Duration>,
    /// Default 1s.
    pub timeout: Setting<Duration>,
    /// Default 2.
    pub rise: Setting<i64>,
    /// Default 3.
    pub fall: Setting<i64>,
    pub on_fail: TrackAction,
    /// Empty: all members.
    pub hosts: Vec<At<String>>,
}

/// What a tracker failure does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackAction {
    /// Release the VIPs (span of `"fault"`).
    Fault(Span),
    /// Lower the priority by this weight.
    Demote(At<i64>),
}

/// A sync group.
#[derive(Clone, Debug)]
pub struct SyncGroup {
    pub name: String,
    pub span: Span,
    pub routers: Vec<At<String>>,
}

/// An LVS virtual server, defaults applied.
#[derive(Clone, Debug)]
pub struct VirtualServer {
    pub name: String,
    pub span: Span,
    pub router: At<String>,
    pub address: Option<At<IpAddr>>,
    pub port: Option<At<i64>>,
    /// Default tcp.
    pub protocol: Setting<Protocol>,
    pub fwmark: Option<At<i64>>,
    /// Default wlc.
    pub scheduler: Setting<Scheduler>,
    pub scheduler_flags: Vec<At<SchedulerFlag>>,
    /// Default dr.
    pub method: Setting<Method>,
    pub persistence: Option<At<Duration>>,
    /// Default /32 or /128 by the address family.
    pub persistence_prefix: Setting<i64>,
    pub quorum: Option<At<i64>>,
    pub hysteresis: Option<At<i64>>,
    pub sorry_server: Option<At<SocketAddr>>,
    /// Default inhibit.
    pub on_fail: Setting<RealServerOnFail>,
    pub only_on_master: Option<At<bool>>,
    pub keep_on_stop: Option<At<bool>>,
    pub health: Option<Health>,
    pub real_servers: Vec<RealServer>,
}

/// A real server, defaults applied.
#[derive(Clone, Debug)]
pub struct RealServer {
    pub span: Span,
    pub address: At<IpAddr>,
    /// Default: the virtual server's port (0 when it has none).
    pub port: Setting<i64>,
    /// Default 1.
    pub weight: Setting<i64>,
    pub upper_threshold: Option<At<i64>>,
    pub lower_threshold: Option<At<i64>>,
}

/// A health check, defaults applied.
#[derive(Clone, Debug)]
pub struct Health {
    pub span: Span,
    /// Default 5s.
    pub interval: Setting<Duration>,
    /// Default 3s.
    pub timeout: Setting<Duration>,
    /// Default 2.
    pub rise: Setting<i64>,
    /// Default 3.
    pub fall: Setting<i64>,
    /// Default 0s.
    pub warmup: Setting<Duration>,
    pub tcp: Option<TcpCheck>,
    pub http: Option<HttpCheck>,
    pub command: Option<At<Vec<String>>>,
}

#[derive(Clone, Debug)]
pub struct TcpCheck {
    pub span: Span,
    pub port: Option<At<i64>>,
}

#[derive(Clone, Debug)]
pub struct HttpCheck {
    pub span: Span,
    /// Default `/`.
    pub path: Setting<String>,
    pub port: Option<At<i64>>,
    pub host: Option<At<String>>,
    /// Default `200-299`.
    pub status: Setting<String>,
    pub body_sha256: Option<At<String>>,
}

impl Cluster {
    /// The reference IPs a router's arbitration probes: its own, or else its
    /// segment's.
    pub fn reference_ips<'a>(&'a self, router: &'a Router) -> Vec<&'a At<IpAddr>> {
        if let Some(arb) = &router.arbitration
            && !arb.reference_ips.is_empty()
        {
            return arb.reference_ips.iter().collect();
        }
        self.segments
            .get(&router.segment.value)
            .map(|s| s.reference_ips.iter().collect())
            .unwrap_or_default()
    }

    /// The interface a member runs the router on: the explicit one, or the
    /// host's only interface on the router's segment.
    pub fn member_interface<'a>(
        &'a self,
        router: &'a Router,
        member: &Member,
    ) -> Option<&'a Interface> {
        let host = self.hosts.get(&member.host)?;
        match &member.interface {
            Some(name) => host
                .interfaces
                .get(&name.value)
                .map(|i| &**i)
                .filter(|i| i.segment.value == router.segment.value),
            None => {
                let mut on = host.interfaces_on(&router.segment.value);
                let first = on.next()?;
                on.next().is_none().then_some(first)
            }
        }
    }
}
