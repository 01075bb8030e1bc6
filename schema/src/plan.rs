//! The per-host plan: the contract between the compiler and the runtime.
//!
//! The compiler decides everything; `vigild` parses this JSON and executes it
//! without defaulting or interpreting anything. Rules:
//! * every time is an integer with its unit in the field name (`_ms`, `_cs`);
//! * every list is in canonical order (by name, then by address), so the
//!   same topology always yields the same bytes;
//! * secrets are referenced by file path, never inlined;
//! * `format_version` changes whenever a field changes meaning; the runtime
//!   refuses a version it does not know.
//!
//! The published schema is `schema/plan.schema.json`.

use std::net::{IpAddr, SocketAddr};

#[cfg(feature = "json-schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::ipvs::{Scheduler, SchedulerFlag};
pub use crate::vrrp::VrrpVersion;

/// The plan format this build reads and writes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Everything one host runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Plan format version ([`PLAN_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Version of the compiler that wrote the plan.
    pub compiler_version: String,
    /// SHA-256 (hex) of this plan's content (with this field empty): the
    /// topology as this host sees it. It changes exactly when what the host
    /// runs changes; `vigild` logs it with every event so skew between hosts
    /// is visible.
    pub topology_hash: String,
    /// The host this plan is for; `vigild` refuses a plan for another host.
    pub host: String,
    /// The cluster's name.
    pub cluster: String,
    /// Listen this long after start before any router may become master.
    pub startup_delay_ms: u64,
    /// Virtual routers this host is a member of, by name.
    pub routers: Vec<PlanRouter>,
    /// Sync groups with at least one router on this host, by name.
    pub sync_groups: Vec<PlanSyncGroup>,
    /// Virtual servers this host directs, by name.
    pub virtual_servers: Vec<PlanVirtualServer>,
    /// The Prometheus metrics listener; absent: no listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<PlanMetrics>,
}

/// A router's virtual MAC interface: a macvlan on the router's interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanVmac {
    /// The macvlan's name (`vrrp.51`, `vrrp6.51`).
    pub interface: String,
    /// RFC 5798 §7.3: `00:00:5e:00:01:VRID` (IPv4), `00:00:5e:00:02:VRID` (IPv6).
    pub mac: String,
}

/// `vigild`'s HTTP listener for Prometheus (`GET /metrics`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanMetrics {
    /// Address and port to listen on (`"127.0.0.1:9650"`, `"[::1]:9650"`).
    #[cfg_attr(feature = "json-schema", schemars(with = "String"))]
    pub listen: std::net::SocketAddr,
}

impl Plan {
    /// What in this plan breaks an invariant the compiler guarantees: counts
    /// and periods that must be at least 1 (a zero would mean "never fail"
    /// or "probe in a busy loop"), and a lease without endpoints or whose
    /// margin or keep-alive interval is not below its TTL (it could never
    /// hold the key, or its lease would lapse between keep-alives). The
    /// compiler refuses to emit such a plan and vigild refuses to run one,
    /// so neither has to pick a value for it.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut lease_problems = Vec::new();
        let mut at_least_1 = |what: String, value: u64| {
            if value == 0 {
                out.push(format!("{what} is 0 (at least 1)"));
            }
        };
        for r in &self.routers {
            if let Some(a) = &r.arbitration {
                at_least_1(
                    format!("router `{}`: arbitration interval_ms", r.name),
                    a.interval_ms,
                );
                at_least_1(
                    format!("router `{}`: arbitration timeout_ms", r.name),
                    a.timeout_ms,
                );
                at_least_1(
                    format!("router `{}`: arbitration attempts", r.name),
                    a.attempts.into(),
                );
            }
            if let Some(l) = &r.lease {
                let what = |field: &str| format!("router `{}`: lease {field}", r.name);
                at_least_1(what("keepalive_interval_ms"), l.keepalive_interval_ms);
                at_least_1(what("request_timeout_ms"), l.request_timeout_ms);
                if l.endpoints.is_empty() {
                    lease_problems.push(what("endpoints is empty (at least one)"));
                }
                if l.key.is_empty() {
                    lease_problems.push(what("key is empty"));
                }
                if l.ttl_ms < 1000 {
                    lease_problems.push(format!(
                        "{} is {} (at least 1000)",
                        what("ttl_ms"),
                        l.ttl_ms
                    ));
                }
                if l.release_margin_ms >= l.ttl_ms || l.keepalive_interval_ms >= l.ttl_ms {
                    lease_problems.push(format!(
                        "{}: release_margin_ms {} and keepalive_interval_ms {} must be below ttl_ms {}",
                        what("timing"),
                        l.release_margin_ms,
                        l.keepalive_interval_ms,
                        l.ttl_ms
                    ));
                }
            }
            for t in &r.trackers {
                if let PlanTrackerKind::Command {
                    interval_ms,
                    timeout_ms,
                    rise,
                    fall,
                    ..
                } = &t.kind
                {
                    let what =
                        |field: &str| format!("router `{}`: tracker `{}` {field}", r.name, t.name);
                    at_least_1(what("interval_ms"), *interval_ms);
                    at_least_1(what("timeout_ms"), *timeout_ms);
                    at_least_1(what("rise"), (*rise).into());
                    at_least_1(what("fall"), (*fall).into());
                }
            }
        }
        for vs in &self.virtual_servers {
            if let Some(h) = &vs.health {
                let what = |field: &str| format!("virtual server `{}`: health {field}", vs.name);
                at_least_1(what("interval_ms"), h.interval_ms);
                at_least_1(what("timeout_ms"), h.timeout_ms);
                at_least_1(what("rise"), h.rise.into());
                at_least_1(what("fall"), h.fall.into());
            }
        }
        out.extend(lease_problems);
        out
    }
}

/// Address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

/// The role a member is expected to take in a healthy cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ExpectedRole {
    Master,
    Backup,
}

/// One virtual router, as this host runs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanRouter {
    pub name: String,
    /// Kernel interface name.
    pub interface: String,
    pub family: Family,
    /// 2 or 3.
    pub version: VrrpVersion,
    pub vrid: u8,
    /// This member's configured priority (255 = address owner).
    pub priority: u8,
    /// Advertisement interval in centiseconds (v2: a multiple of 100).
    pub advert_interval_cs: u16,
    /// VRRPv3 backups adopt the master's interval only within these bounds;
    /// adverts outside are discarded and counted.
    pub advert_interval_min_cs: u16,
    pub advert_interval_max_cs: u16,
    /// Whether a higher priority takes over from a lower-priority master.
    pub preempt: bool,
    /// Wait before preempting, in milliseconds (0 = at once).
    pub preempt_delay_ms: u64,
    /// Accept mode: the master accepts traffic addressed to the VIPs.
    pub accept: bool,
    /// The virtual MAC interface, when the router uses one; absent: the
    /// VIPs go on `interface` with its own MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmac: Option<PlanVmac>,
    /// Priority 255: this host owns the VIPs' addresses.
    pub owner: bool,
    /// The address adverts are sent from (the host's primary address on the segment).
    pub source_address: IpAddr,
    /// Unicast destinations; empty means multicast (224.0.0.18 / ff02::12).
    pub unicast_peers: Vec<IpAddr>,
    /// The other members, for status and plan summaries.
    pub peers: Vec<PlanPeer>,
    /// The virtual addresses.
    pub vips: Vec<PlanVip>,
    pub auth: Option<PlanAuth>,
    /// Split-brain arbitration; `None` only when the topology waived it.
    pub arbitration: Option<PlanArbitration>,
    /// Lease arbitration: master only while holding the router's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<PlanLease>,
    /// Extra paths carrying unicast adverts to the same peers.
    pub heartbeat_paths: Vec<PlanHeartbeatPath>,
    pub trackers: Vec<PlanTracker>,
    pub notify: PlanNotify,
    pub garp: PlanGarp,
    pub expected_role: ExpectedRole,
    /// The sync group this router belongs to, if any.
    pub sync_group: Option<String>,
}

/// Another member of a router.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanPeer {
    pub host: String,
    pub address: IpAddr,
    pub priority: u8,
}

/// A virtual address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanVip {
    pub address: IpAddr,
    pub prefix_len: u8,
    /// Interface label (IPv4 only), at most 15 bytes, starting with the interface name.
    pub label: Option<String>,
}

/// VRRPv2 simple-password authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanAuth {
    /// Path of the file holding the password (at most 8 bytes, trailing newline ignored).
    pub password_file: String,
}

/// Reference-IP arbitration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanArbitration {
    pub reference_ips: Vec<IpAddr>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub attempts: u32,
    /// A master reaching no reference IP for this long enters FAULT.
    pub release_after_ms: u64,
    pub fence: Option<PlanFence>,
    pub self_fence: Option<Vec<String>>,
}

/// Lease arbitration on etcd (v3 JSON gateway, plain HTTP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanLease {
    /// The store's gateways, tried in order (the next one after a failure).
    pub endpoints: Vec<SocketAddr>,
    /// The router's key.
    pub key: String,
    /// The value written under the key (this host's name).
    pub holder: String,
    /// Lease TTL (whole seconds).
    pub ttl_ms: u64,
    /// Time between keep-alives (and acquisition attempts while not holding).
    pub keepalive_interval_ms: u64,
    /// A request without an answer for this long has failed.
    pub request_timeout_ms: u64,
    /// A holder considers the lease lost this long before the TTL counted
    /// from its last successful keep-alive request ends.
    pub release_margin_ms: u64,
    /// Wait this long after start before the first acquisition attempt
    /// (higher priorities try first).
    pub acquire_delay_ms: u64,
}

/// A fence command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanFence {
    pub command: Vec<String>,
    pub required: bool,
    pub timeout_ms: u64,
}

/// Another path carrying adverts to the same peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanHeartbeatPath {
    pub interface: String,
    pub source_address: IpAddr,
    pub peers: Vec<IpAddr>,
}

/// A tracker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanTracker {
    pub name: String,
    pub kind: PlanTrackerKind,
    pub on_fail: PlanOnFail,
}

/// What a tracker watches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanTrackerKind {
    /// Link state of an interface, from rtnetlink notifications.
    Interface { interface: String },
    /// A periodic command; exit status 0 is success.
    Command {
        command: Vec<String>,
        interval_ms: u64,
        timeout_ms: u64,
        rise: u32,
        fall: u32,
    },
}

/// What a tracker failure does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanOnFail {
    /// Enter FAULT.
    Fault,
    /// Lower the priority by this much (the result is clamped to 1..=254).
    Demote { weight: u8 },
}

/// Notify hooks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanNotify {
    pub master: Option<Vec<String>>,
    pub backup: Option<Vec<String>>,
    pub fault: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    pub any: Option<Vec<String>>,
    pub timeout_ms: u64,
}

/// Gratuitous ARP / unsolicited NA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanGarp {
    /// Announcements on becoming master.
    pub repeat: u32,
    pub interval_ms: u64,
    /// Re-announce while master; 0 = never.
    pub refresh_ms: u64,
}

/// A sync group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanSyncGroup {
    pub name: String,
    pub routers: Vec<String>,
}

/// Transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PlanProtocol {
    Tcp,
    Udp,
    Sctp,
}

/// IPVS forwarding method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PlanMethod {
    Dr,
    Nat,
    Tun,
}

/// What happens to a failed real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PlanRealServerOnFail {
    /// Weight 0: no new connections, persistence templates kept.
    Inhibit,
    /// Delete the destination.
    Remove,
}

/// A virtual server on this director.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanVirtualServer {
    pub name: String,
    pub family: Family,
    /// Set for address/port services.
    pub protocol: Option<PlanProtocol>,
    pub address: Option<IpAddr>,
    pub port: Option<u16>,
    /// Set for firewall-mark services.
    pub fwmark: Option<u32>,
    /// IPVS scheduler (`wlc`, `rr`, ...).
    pub scheduler: Scheduler,
    /// Scheduler flags (`sh-port`, `sh-fallback`, `mh-port`, `mh-fallback`),
    /// each for the scheduler it belongs to (the compiler checks).
    pub scheduler_flags: Vec<SchedulerFlag>,
    pub method: PlanMethod,
    /// Persistence timeout in seconds; 0 = no persistence.
    pub persistence_timeout_s: u32,
    /// Persistence granularity as a prefix length.
    pub persistence_prefix_len: u8,
    pub quorum: u32,
    pub hysteresis: u32,
    pub sorry_server: Option<PlanRealServer>,
    pub on_fail: PlanRealServerOnFail,
    /// Program only while master of this router; `None` = always.
    pub only_on_master_of: Option<String>,
    pub keep_on_stop: bool,
    pub health: Option<PlanHealth>,
    pub real_servers: Vec<PlanRealServer>,
}

/// A real server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanRealServer {
    pub address: IpAddr,
    pub port: u16,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
}

/// Health checking of a virtual server's real servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanHealth {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub rise: u32,
    pub fall: u32,
    pub warmup_ms: u64,
    pub check: PlanCheck,
}

/// One health check method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanCheck {
    /// `None` port: the real server's port.
    Tcp {
        port: Option<u16>,
    },
    Http {
        port: Option<u16>,
        path: String,
        /// `None`: the real server's address.
        host: Option<String>,
        status_min: u16,
        status_max: u16,
        body_sha256: Option<String>,
    },
    Command {
        command: Vec<String>,
    },
}
