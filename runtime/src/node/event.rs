//! The node's vocabulary: every [`Event`] the shell feeds, every
//! [`Command`] it must carry out. Both are serde enums, so a whole daemon's
//! run can be recorded as JSONL and replayed (`runtime/tests/node_replay`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vigil_schema::plan::{Family, Plan};

use crate::health::scheduler::{CheckKind, RsId};
use crate::hooks::process::Outcome;
use crate::ipvs::reconcile::{KernelService, Op, Ownership};
use crate::wire::IpMeta;

/// Identifies a child process the node asked for.
pub type ProcId = u64;

/// An interface as rtnetlink reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub name: String,
    pub ifindex: u32,
    /// Hardware address (empty when unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mac: Vec<u8>,
    /// Administratively up and with carrier.
    pub up: bool,
    /// False for RTM_DELLINK (the interface is gone).
    pub exists: bool,
}

/// One address on one interface, exactly as the kernel knows it (prefix
/// and label are part of its identity for RTM_DELADDR).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    pub interface: String,
    pub address: IpAddr,
    pub prefix_len: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// What the node remembers across restarts (the shell keeps it in a file
/// under the runtime directory, which a reboot clears with the kernel
/// state it describes): the addresses this daemon added and the IPVS
/// entries it created or adopted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The format of this document.
    pub format: u32,
    /// Addresses this daemon added and has not removed.
    pub addresses: Vec<Address>,
    /// Addresses this daemon is adding: written before the add, so a crash
    /// between the kernel's change and its answer still leaves proof.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding: Vec<Address>,
    /// IPVS entries this daemon created or adopted.
    #[serde(default)]
    pub ipvs: Ownership,
    /// Virtual MAC interfaces this daemon created (or adopted at start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vmacs: Vec<String>,
}

/// The ledger format this build writes.
pub const LEDGER_FORMAT: u32 = 1;

/// How an address change ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddrOutcome {
    /// Added, or removed.
    Done,
    /// Add: it was already there (not ours: it is never recorded).
    /// Remove: it was not there.
    Unchanged,
    Failed {
        error: String,
    },
}

/// A complete HTTP response (chunked bodies already joined).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpReply {
    pub status: u16,
    pub body: String,
}

/// Everything that happens to the node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// Once, first: the interfaces the plan names as they are now (missing
    /// ones absent), every address present on them, and the ledger the
    /// previous run left (`None`: no file).
    Start {
        links: Vec<Link>,
        addresses: Vec<Address>,
        ledger: Option<Ledger>,
    },
    /// An rtnetlink link notification, or a re-read after lost ones.
    Link(Link),
    /// A datagram received on the VRRP socket of (interface, family).
    Vrrp {
        interface: String,
        family: Family,
        ip: IpMeta,
        #[serde(with = "hex_bytes")]
        payload: Vec<u8>,
    },
    /// The result of [`Command::AddAddress`] / [`Command::RemoveAddress`].
    AddressResult {
        address: Address,
        added: bool,
        outcome: AddrOutcome,
    },
    /// An echo reply on a router's arbitration socket.
    EchoReply {
        router: String,
        from: IpAddr,
        seq: u16,
    },
    /// An echo request could not be sent.
    EchoSendFailed { router: String, target: IpAddr },
    /// A child process started by [`Command::Spawn`] ended (or never started:
    /// `pid` 0, `outcome` none).
    ProcessExited {
        proc: ProcId,
        pid: u32,
        outcome: Option<Outcome>,
        elapsed_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A health check finished.
    ProbeDone {
        rs: RsId,
        result: Result<(), String>,
    },
    /// The answer to [`Command::IpvsDump`].
    IpvsDumped {
        result: Result<Vec<KernelService>, String>,
    },
    /// The answer to [`Command::HttpRequest`]: the status and body of a
    /// complete response, or why there is none (connect, timeout, a
    /// response too large or not HTTP/1.1).
    HttpResponse {
        req: u64,
        result: Result<HttpReply, String>,
    },
    /// Time passed: `now` reached [`super::Node::next_deadline`].
    Tick,
    /// SIGHUP: the plan file read again (passwords from its files).
    Reload {
        plan: Box<Plan>,
        #[serde(default)]
        passwords: BTreeMap<String, Vec<u8>>,
    },
    /// The plan file could not be read on SIGHUP.
    ReloadFailed { error: String },
    /// SIGTERM/SIGINT: every router resigns.
    Shutdown,
}

/// Everything the shell must do, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// Open the VRRP socket of (interface, family) on this ifindex, or
    /// re-open it when the interface came back with another one; join the
    /// multicast group when `multicast`.
    OpenVrrp {
        interface: String,
        ifindex: u32,
        family: Family,
        multicast: bool,
    },
    /// Close it (no router needs it any more, or the interface is gone).
    CloseVrrp {
        interface: String,
        family: Family,
    },
    /// Send one advert, TTL/hop limit 255.
    SendVrrp {
        interface: String,
        family: Family,
        src: IpAddr,
        dst: IpAddr,
        #[serde(with = "hex_bytes")]
        bytes: Vec<u8>,
    },
    /// Add an address; answer with [`Event::AddressResult`].
    AddAddress(Address),
    /// Remove an address; answer with [`Event::AddressResult`].
    RemoveAddress(Address),
    /// One gratuitous ARP (IPv4) or unsolicited NA (IPv6) per address.
    SendGarp {
        interface: String,
        addresses: Vec<IpAddr>,
    },
    /// Open the ICMP echo socket of a router (bound to its interface and source).
    OpenEcho {
        router: String,
        interface: String,
        source: IpAddr,
    },
    CloseEcho {
        router: String,
    },
    /// One echo request; answer with [`Event::EchoReply`] when it comes, or
    /// [`Event::EchoSendFailed`].
    SendEcho {
        router: String,
        target: IpAddr,
        seq: u16,
    },
    /// Start a program in its own process group, killed after `timeout_ms`;
    /// answer with [`Event::ProcessExited`].
    Spawn {
        proc: ProcId,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        timeout_ms: u64,
    },
    /// Kill a running program (its exit is still reported).
    Kill {
        proc: ProcId,
    },
    /// Start a health check; answer with [`Event::ProbeDone`].
    StartProbe {
        rs: RsId,
        kind: CheckKind,
    },
    /// Stop a running check; its result is not wanted.
    AbortProbe {
        rs: RsId,
    },
    /// POST `body` (JSON) to `path` on `endpoint` over a new HTTP/1.1
    /// connection; answer with [`Event::HttpResponse`] (the shell gives up
    /// after `timeout_ms`).
    HttpRequest {
        req: u64,
        endpoint: SocketAddr,
        path: String,
        body: String,
        timeout_ms: u64,
    },
    /// Dump the kernel's IPVS table; answer with [`Event::IpvsDumped`].
    IpvsDump,
    /// Apply these IPVS operations in order.
    IpvsApply {
        ops: Vec<Op>,
    },
    /// Create the virtual MAC interface `interface`: a macvlan on `parent`
    /// with the hardware address `mac`, up, with `arp_ignore = 1` on both;
    /// reuse it when it is already there with that address on that parent.
    /// Answer with [`Event::Link`] for it (`exists: false` on failure).
    CreateVmac {
        interface: String,
        parent: String,
        mac: String,
    },
    /// Delete the virtual MAC interface `interface` if it still carries
    /// `mac` (an interface of that name with another address is not ours).
    DeleteVmac {
        interface: String,
        mac: String,
    },
    /// Persist the ledger (atomically).
    WriteLedger(Ledger),
    /// One structured log line.
    Log {
        event: String,
        fields: Value,
    },
    /// Startup is complete (systemd `READY=1`).
    Ready,
    /// Every router has resigned: the shell may exit once the processes
    /// still running have ended.
    Stopped,
}

impl Command {
    pub fn log(event: &str, fields: Value) -> Command {
        Command::Log {
            event: event.to_string(),
            fields,
        }
    }
}

/// Bytes as a hex string in JSON, readable in goldens.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd number of hex digits"));
        }
        (0..s.len())
            .step_by(2)
            .map(|i| {
                s.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("not hex"))
            })
            .collect()
    }
}
