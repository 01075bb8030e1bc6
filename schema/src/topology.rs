//! The cluster-wide topology: what operators write, in TOML.
//!
//! One file (or several, checked together) describes every host, every L2
//! segment, every virtual router and every virtual server of a cluster.
//! Virtual routers are cluster objects with members, not per-host instances,
//! so the VRID, the VIPs and the timers are written once and cannot disagree
//! between peers by construction. What can still go wrong is found by the
//! compiler's lints, which point at the spans kept here.
//!
//! Rules that keep spans intact (see `span.rs`): plain structs, externally
//! tagged enums, `deny_unknown_fields` everywhere. Integers that have a valid
//! range are read as `i64` so that an out-of-range value reaches a lint that
//! explains the consequence, instead of a bare type error.
//!
//! The reference for operators is `docs/topology.md`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::span::Sp;
use crate::units::{Cidr, Duration};

/// A Vigil cluster topology.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Cluster-wide settings.
    #[serde(default)]
    pub cluster: Option<Sp<Cluster>>,
    /// L2 segments (broadcast domains), by name.
    #[serde(default)]
    pub segment: BTreeMap<String, Sp<Segment>>,
    /// Hosts, by name (the name is the host's identity in plans and inventories).
    #[serde(default)]
    pub host: BTreeMap<String, Sp<Host>>,
    /// Virtual routers (VRRP instances as cluster objects), by name.
    #[serde(default)]
    pub router: BTreeMap<String, Sp<Router>>,
    /// Sync groups: routers that always change state together.
    #[serde(default)]
    pub sync_group: BTreeMap<String, Sp<SyncGroup>>,
    /// LVS virtual servers, by name.
    #[serde(default)]
    pub virtual_server: BTreeMap<String, Sp<VirtualServer>>,
    /// The consensus store (etcd) that lease arbitration uses.
    #[serde(default)]
    pub lease: Option<Sp<LeaseStore>>,
}

/// The etcd cluster that holds the routers' leases.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseStore {
    /// Client URLs of the etcd members, `http://ADDRESS:PORT` (the v3 JSON
    /// gateway); tried in order, the next one after a failure.
    pub endpoints: Vec<Sp<String>>,
    /// Prefix of the lease keys; a router's key is `PREFIX/CLUSTER/ROUTER`.
    /// Default `/vigil`.
    #[serde(default)]
    pub key_prefix: Option<Sp<String>>,
    /// TLS client files. Not supported yet: the compiler rejects them.
    #[serde(default)]
    pub tls: Option<Sp<LeaseTls>>,
}

/// TLS client files for the lease store.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseTls {
    /// CA bundle that signs the store's certificates.
    #[serde(default)]
    pub ca_file: Option<Sp<String>>,
    /// Client certificate.
    #[serde(default)]
    pub cert_file: Option<Sp<String>>,
    /// Client key.
    #[serde(default)]
    pub key_file: Option<Sp<String>>,
}

/// Lease arbitration of one router.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseArbitration {
    /// Lease time-to-live, whole seconds, at least 2s. Default 3s.
    #[serde(default)]
    pub ttl: Option<Sp<Duration>>,
}

/// Cluster-wide settings.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// A name for the cluster, used in logs and inventories.
    pub name: Sp<String>,
    /// How long `vigild` listens before it may become master after start.
    /// Default: the longest master-down interval of the host's routers.
    #[serde(default)]
    pub startup_delay: Option<Sp<Duration>>,
}

/// An L2 segment: hosts on it see each other's multicast adverts.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// The IP subnets on this segment, e.g. `["10.0.0.0/24", "2001:db8::/64"]`.
    pub subnets: Vec<Sp<Cidr>>,
    /// Addresses every healthy member must reach (typically the gateway);
    /// the default reference IPs for arbitration of routers on this segment.
    #[serde(default)]
    pub reference_ips: Vec<Sp<IpAddr>>,
    /// VRIDs used on this segment by equipment or teams outside this file.
    #[serde(default)]
    pub reserved_vrids: Vec<Sp<ReservedVrid>>,
    /// Free text.
    #[serde(default)]
    pub description: Option<Sp<String>>,
}

/// A VRID that someone outside this topology uses on the segment.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservedVrid {
    /// The reserved virtual router id.
    #[schemars(range(min = 1, max = 255))]
    pub vrid: Sp<i64>,
    /// Who uses it (another cluster, a switch pair, CARP users).
    pub owner: Sp<String>,
}

/// A host (a director, a router, a server running `vigild` or keepalived).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Network interfaces, by kernel name (`eth0`, `bond0.100`).
    #[serde(default)]
    pub interface: BTreeMap<String, Box<Sp<Interface>>>,
    /// Which daemon runs VRRP on this host. Default: `vigild`.
    #[serde(default)]
    pub runtime: Option<Sp<RuntimeKind>>,
    /// Free text.
    #[serde(default)]
    pub description: Option<Sp<String>>,
    /// Prometheus metrics served by `vigild` over HTTP. Default: none.
    #[serde(default)]
    pub metrics: Option<Sp<HostMetrics>>,
}

/// Where `vigild` serves its Prometheus metrics.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostMetrics {
    /// Address and port of the HTTP listener (`"127.0.0.1:9650"`,
    /// `"[::1]:9650"`, `"0.0.0.0:9650"`); `GET /metrics` answers.
    #[schemars(with = "String")]
    pub listen: Sp<std::net::SocketAddr>,
}

/// The VRRP daemon of a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Vigil's runtime, driven by the compiled plan.
    Vigild,
    /// Stock keepalived (2.2+), driven by the generated keepalived.conf.
    Keepalived,
}

/// A host's interface on a segment.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// The segment this interface is attached to.
    pub segment: Sp<String>,
    /// The host's own addresses on it, with prefix (`"10.0.0.11/24"`).
    #[serde(default)]
    pub addresses: Vec<Sp<Cidr>>,
}

/// A virtual router: one VRID on one segment, its VIPs and its members.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Router {
    /// The segment the adverts and VIPs live on.
    pub segment: Sp<String>,
    /// Virtual router id, 1..=255, unique per segment and address family.
    #[schemars(range(min = 1, max = 255))]
    pub vrid: Sp<i64>,
    /// VRRP version: 3 (RFC 5798, default) or 2 (RFC 3768, IPv4 only, for legacy peers).
    #[serde(default)]
    pub version: Option<Sp<i64>>,
    /// Advertisement interval. v2: whole seconds 1s..255s; v3: 10ms..40950ms in
    /// steps of 10ms. Default 1s.
    #[serde(default)]
    pub advert_interval: Option<Sp<Duration>>,
    /// Virtual IP addresses with prefix, all of one family.
    #[serde(default)]
    pub vips: Sp<Vec<Sp<Cidr>>>,
    /// Preemption: `"always"` (default; a higher priority member takes over)
    /// or `"never"` (a running master keeps the VIPs).
    #[serde(default)]
    pub preempt: Option<Sp<Preempt>>,
    /// With `preempt = "always"`: wait this long before taking over from a
    /// lower-priority master (lets the service warm up).
    #[serde(default)]
    pub preempt_delay: Option<Sp<Duration>>,
    /// Accept mode: the master answers traffic to the VIPs (default true).
    /// `false` is RFC-strict and makes VIPs unpingable for services.
    #[serde(default)]
    pub accept: Option<Sp<bool>>,
    /// Virtual MAC (RFC 5798 §7.3): the VIPs live on a macvlan with the MAC
    /// 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID), which sends the
    /// adverts and answers ARP, so a failover needs no ARP cache update.
    /// Default false.
    #[serde(default)]
    pub vmac: Option<Sp<bool>>,
    /// Send adverts by unicast to the other members' addresses on the segment
    /// instead of multicast (for networks that drop multicast).
    #[serde(default)]
    pub unicast: Option<Sp<bool>>,
    /// VRRPv2 simple-password authentication (legacy peers only).
    #[serde(default)]
    pub auth: Option<Sp<Auth>>,
    /// Split-brain arbitration by reference IPs.
    #[serde(default)]
    pub arbitration: Option<Sp<Arbitration>>,
    /// Waive arbitration on purpose, with the reason (e.g. "lab pair, no gateway").
    #[serde(default)]
    pub accept_split_brain: Option<Sp<String>>,
    /// Extra segments that carry unicast adverts between the members in
    /// addition to the router's own segment (e.g. a back-to-back heartbeat link).
    #[serde(default)]
    pub heartbeat_paths: Vec<Sp<String>>,
    /// Gratuitous ARP / unsolicited NA settings.
    #[serde(default)]
    pub garp: Option<Sp<Garp>>,
    /// Hooks run on state changes.
    #[serde(default)]
    pub notify: Option<Sp<Notify>>,
    /// The members, by host name.
    #[serde(default)]
    pub member: BTreeMap<String, Box<Sp<Member>>>,
    /// Trackers, by name: what makes a member give up or lower its priority.
    #[serde(default)]
    pub track: BTreeMap<String, Box<Sp<Tracker>>>,
}

/// Preemption policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Preempt {
    /// A higher-priority member takes over from a lower-priority master.
    Always,
    /// A running master keeps the VIPs until it fails (keepalived's `nopreempt`).
    Never,
}

/// A member of a virtual router.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Priority 1..=254; 255 marks the address owner.
    #[schemars(range(min = 1, max = 255))]
    pub priority: Sp<i64>,
    /// The interface on the router's segment. Default: the host's only
    /// interface on that segment.
    #[serde(default)]
    pub interface: Option<Sp<String>>,
    /// The state the member starts in (keepalived's `state`). Default: derived
    /// from priority. Kept for imported configurations; prefer leaving it out.
    #[serde(default)]
    pub initial_state: Option<Sp<InitialState>>,
}

/// A member's declared start state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InitialState {
    /// Claim the VIPs at start without waiting for the master-down interval.
    Master,
    /// Start as backup and wait for the election (what Vigil derives anyway).
    Backup,
}

/// Simple-password authentication (RFC 2338 type 1; removed from VRRPv3).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Only `"pass"` is supported.
    #[serde(rename = "type")]
    pub kind: Sp<AuthKind>,
    /// The password, at most 8 bytes. It travels in clear in every advert;
    /// it guards against accidents, not attackers.
    pub password: Sp<String>,
}

/// Authentication type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// Simple password (RFC 2338 type 1), 8 bytes in clear.
    Pass,
}

/// Arbitration by reference IPs.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arbitration {
    /// Addresses to probe with ICMP echo. Default: the segment's `reference_ips`.
    #[serde(default)]
    pub reference_ips: Vec<Sp<IpAddr>>,
    /// Time between probes. Default 1s.
    #[serde(default)]
    pub interval: Option<Sp<Duration>>,
    /// Time to wait for an echo reply. Default 500ms.
    #[serde(default)]
    pub timeout: Option<Sp<Duration>>,
    /// Consecutive lost probes before a reference IP counts as unreachable. Default 3.
    #[serde(default)]
    pub attempts: Option<Sp<i64>>,
    /// A master that reaches no reference IP for this long releases the VIPs
    /// and enters FAULT. Default: interval × attempts.
    #[serde(default)]
    pub release_after: Option<Sp<Duration>>,
    /// A command that fences the silent peer before this node takes over.
    #[serde(default)]
    pub fence: Option<Sp<Fence>>,
    /// A command run when this node finds itself isolated (no reference IP).
    #[serde(default)]
    pub self_fence: Option<Sp<Vec<String>>>,
    /// Lease arbitration: only the member holding the router's key in the
    /// `[lease]` store may be master.
    #[serde(default)]
    pub lease: Option<Sp<LeaseArbitration>>,
}

/// A fencing command (STONITH).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fence {
    /// Program and arguments; exit status 0 means the peer is fenced.
    pub command: Sp<Vec<String>>,
    /// Take over only after the fence succeeded (default true).
    #[serde(default)]
    pub required: Option<Sp<bool>>,
    /// Kill the command after this long (a timeout counts as failure). Default 30s.
    #[serde(default)]
    pub timeout: Option<Sp<Duration>>,
}

/// Gratuitous ARP / unsolicited neighbour advertisement settings.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Garp {
    /// Announcements sent on becoming master. Default 5.
    #[serde(default)]
    pub repeat: Option<Sp<i64>>,
    /// Gap between those announcements. Default 100ms.
    #[serde(default)]
    pub interval: Option<Sp<Duration>>,
    /// While master, re-announce this often (refreshes ARP caches). Default: off.
    #[serde(default)]
    pub refresh: Option<Sp<Duration>>,
}

/// Commands run on state changes; each gets the router, the new state, the
/// VIPs and the plan hash in its environment.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Run after this member became master (the VIPs are already up).
    #[serde(default)]
    pub master: Option<Sp<Vec<String>>>,
    /// Run after this member became backup (the VIPs are already down).
    #[serde(default)]
    pub backup: Option<Sp<Vec<String>>>,
    /// Run after this member entered FAULT (a `fault` tracker, a lost
    /// interface, or arbitration found it isolated).
    #[serde(default)]
    pub fault: Option<Sp<Vec<String>>>,
    /// Run when `vigild` stops the router (shutdown or plan change).
    #[serde(default)]
    pub stop: Option<Sp<Vec<String>>>,
    /// Run on every state change, after the state-specific command.
    #[serde(default)]
    pub any: Option<Sp<Vec<String>>>,
    /// Kill a hook after this long. Default 10s.
    #[serde(default)]
    pub timeout: Option<Sp<Duration>>,
}

/// A tracker: exactly one of `interface` or `command`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tracker {
    /// Track the link state of this interface (by kernel name).
    #[serde(default)]
    pub interface: Option<Sp<String>>,
    /// Run this command periodically; exit status 0 is success.
    #[serde(default)]
    pub command: Option<Sp<Vec<String>>>,
    /// Command trackers: time between runs. Default 2s.
    #[serde(default)]
    pub interval: Option<Sp<Duration>>,
    /// Command trackers: kill after this long (counts as failure). Default 1s.
    #[serde(default)]
    pub timeout: Option<Sp<Duration>>,
    /// Successes needed to count as up again. Default 2.
    #[serde(default)]
    pub rise: Option<Sp<i64>>,
    /// Failures needed to count as down. Default 3.
    #[serde(default)]
    pub fall: Option<Sp<i64>>,
    /// What a failure means: `"fault"` (release the VIPs) or
    /// `{ demote = N }` (lower this member's priority by N).
    pub on_fail: Sp<OnFail>,
    /// The members this tracker applies to. Default: all members.
    #[serde(default)]
    pub hosts: Vec<Sp<String>>,
}

/// A tracker's declared intent on failure.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnFail {
    /// Enter FAULT: release the VIPs, stop advertising.
    Fault,
    /// Lower the member's priority by this much (1..=253).
    Demote(Sp<i64>),
}

/// Routers that change state together (if one fails, all fail over).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {
    /// Router names.
    pub routers: Vec<Sp<String>>,
}

/// An LVS virtual server: a service on a VIP, balanced over real servers.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VirtualServer {
    /// The virtual router whose VIP carries this service; its members are the directors.
    pub router: Sp<String>,
    /// The service address (a VIP of `router`). Omit with `fwmark`.
    #[serde(default)]
    pub address: Option<Sp<IpAddr>>,
    /// The service port (0 with persistence means all ports).
    #[serde(default)]
    pub port: Option<Sp<i64>>,
    /// `"tcp"` (default), `"udp"` or `"sctp"`.
    #[serde(default)]
    pub protocol: Option<Sp<Protocol>>,
    /// A firewall-mark service instead of address/port.
    #[serde(default)]
    pub fwmark: Option<Sp<i64>>,
    /// IPVS scheduler. Default `"wlc"`.
    #[serde(default)]
    pub scheduler: Option<Sp<Scheduler>>,
    /// Scheduler flags (`"sh-port"`, `"sh-fallback"`, `"mh-port"`, `"mh-fallback"`).
    #[serde(default)]
    pub scheduler_flags: Vec<Sp<SchedulerFlag>>,
    /// Forwarding method: `"dr"` (default), `"nat"` or `"tun"`.
    #[serde(default)]
    pub method: Option<Sp<Method>>,
    /// Persistence timeout (client affinity).
    #[serde(default)]
    pub persistence: Option<Sp<Duration>>,
    /// Persistence granularity as a prefix length. Default /32 (IPv4), /128 (IPv6).
    #[serde(default)]
    pub persistence_prefix: Option<Sp<i64>>,
    /// Minimum total weight of healthy real servers; below it the sorry server serves.
    #[serde(default)]
    pub quorum: Option<Sp<i64>>,
    /// Weight margin before quorum counts as regained.
    #[serde(default)]
    pub hysteresis: Option<Sp<i64>>,
    /// Served when quorum is lost, `"10.0.0.50:80"`.
    #[serde(default)]
    pub sorry_server: Option<Sp<SocketAddr>>,
    /// A failed real server is set to weight 0 (`"inhibit"`, default; keeps
    /// persistence) or removed (`"remove"`).
    #[serde(default)]
    pub on_fail: Option<Sp<RealServerOnFail>>,
    /// Program this service only while this director is master of `router`.
    /// Default false: both directors keep the service programmed, so a new
    /// master forwards at once.
    #[serde(default)]
    pub only_on_master: Option<Sp<bool>>,
    /// Leave the kernel entries in place when vigild stops. Default false.
    #[serde(default)]
    pub keep_on_stop: Option<Sp<bool>>,
    /// Health check of the real servers.
    #[serde(default)]
    pub health: Option<Sp<Health>>,
    /// The real servers.
    #[serde(default)]
    pub real_server: Vec<Sp<RealServer>>,
}

/// Transport protocol of a virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

pub use crate::ipvs::{Scheduler, SchedulerFlag};

/// IPVS forwarding method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Dr,
    Nat,
    Tun,
}

/// What happens to a failed real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RealServerOnFail {
    Inhibit,
    Remove,
}

/// A real server behind a virtual server.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RealServer {
    /// The real server's address (no prefix).
    pub address: Sp<IpAddr>,
    /// Default: the virtual server's port.
    #[serde(default)]
    pub port: Option<Sp<i64>>,
    /// Default 1.
    #[serde(default)]
    pub weight: Option<Sp<i64>>,
    /// Upper connection threshold (0 = none).
    #[serde(default)]
    pub upper_threshold: Option<Sp<i64>>,
    /// Lower connection threshold (0 = none).
    #[serde(default)]
    pub lower_threshold: Option<Sp<i64>>,
}

/// Health checking: timing plus exactly one of `tcp`, `http`, `command`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Time between checks. Default 5s.
    #[serde(default)]
    pub interval: Option<Sp<Duration>>,
    /// Time a check may take. Default 3s.
    #[serde(default)]
    pub timeout: Option<Sp<Duration>>,
    /// Successes before a failed server returns. Default 2.
    #[serde(default)]
    pub rise: Option<Sp<i64>>,
    /// Failures before a server is taken out. Default 3.
    #[serde(default)]
    pub fall: Option<Sp<i64>>,
    /// Delay before the first check after start. Default 0s.
    #[serde(default)]
    pub warmup: Option<Sp<Duration>>,
    /// TCP connect check.
    #[serde(default)]
    pub tcp: Option<Sp<TcpCheck>>,
    /// HTTP GET check.
    #[serde(default)]
    pub http: Option<Sp<HttpCheck>>,
    /// External command check: exit status 0 is healthy. The real server's
    /// address and port are in `VIGIL_RS_ADDRESS` and `VIGIL_RS_PORT`.
    #[serde(default)]
    pub command: Option<Sp<Vec<String>>>,
}

/// TCP connect check.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    /// Default: the real server's port.
    #[serde(default)]
    pub port: Option<Sp<i64>>,
}

/// HTTP GET check.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// Request path. Default `/`.
    #[serde(default)]
    pub path: Option<Sp<String>>,
    /// Default: the real server's port.
    #[serde(default)]
    pub port: Option<Sp<i64>>,
    /// Host header. Default: the real server's address.
    #[serde(default)]
    pub host: Option<Sp<String>>,
    /// Accepted status codes, `"200-299"` (default) or `"200"`.
    #[serde(default)]
    pub status: Option<Sp<String>>,
    /// Expected SHA-256 of the body, lowercase hex.
    #[serde(default)]
    pub body_sha256: Option<Sp<String>>,
}
