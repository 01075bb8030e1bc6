//! The last N things that happened, kept cheaply (clones, no formatting)
//! and rendered only when a run fails.

use std::collections::VecDeque;
use std::fmt::Write;

use crate::node::{Command, Event};
use crate::vrrp::Instant;

/// One line of the trace.
#[derive(Clone, Debug)]
pub enum TraceItem {
    /// An event fed to a host's node.
    In(Event),
    /// A command a host's node returned.
    Out(Command),
    /// A scenario fault or something the simulated world did.
    World(String),
}

#[derive(Clone, Debug)]
pub struct TraceEntry {
    pub at: Instant,
    /// The host's name, when the entry is about one.
    pub host: Option<usize>,
    pub item: TraceItem,
}

/// A ring buffer of the last `capacity` entries.
#[derive(Clone, Debug)]
pub struct Trace {
    entries: VecDeque<TraceEntry>,
    capacity: usize,
}

impl Trace {
    pub fn new(capacity: usize) -> Trace {
        Trace {
            entries: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
        }
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.entries.len() > capacity {
            self.entries.pop_front();
        }
    }

    pub fn push(&mut self, at: Instant, host: Option<usize>, item: TraceItem) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(TraceEntry { at, host, item });
    }

    /// One line per entry: `t=1.234567s host  text`.
    pub fn render(&self, hosts: &[String]) -> String {
        let mut s = String::new();
        for e in &self.entries {
            let host = e
                .host
                .and_then(|h| hosts.get(h))
                .map_or("-", String::as_str);
            let text = match &e.item {
                TraceItem::In(ev) => format!("<- {}", describe_event(ev)),
                TraceItem::Out(c) => format!("-> {}", describe_command(c)),
                TraceItem::World(w) => format!("** {w}"),
            };
            let _ = writeln!(s, "{:>12} {host:<8} {text}", fmt_time(e.at));
        }
        s
    }
}

/// `12.345678s`.
pub fn fmt_time(t: Instant) -> String {
    let us = t.as_micros();
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

/// VRID and priority of VRRP bytes (both versions put them at offsets 1 and 2).
pub fn advert_fields(bytes: &[u8]) -> Option<(u8, u8)> {
    Some((*bytes.get(1)?, *bytes.get(2)?))
}

pub fn describe_event(ev: &Event) -> String {
    match ev {
        Event::Start {
            links,
            addresses,
            ledger,
        } => format!(
            "start: {} link(s), {} address(es), ledger {}",
            links.len(),
            addresses.len(),
            match ledger {
                Some(l) => format!("with {} address(es)", l.addresses.len()),
                None => "none".into(),
            }
        ),
        Event::Link(l) => format!(
            "link {} ifindex {} {}",
            l.name,
            l.ifindex,
            if !l.exists {
                "deleted"
            } else if l.up {
                "up"
            } else {
                "down"
            }
        ),
        Event::Vrrp {
            interface,
            ip,
            payload,
            ..
        } => match advert_fields(payload) {
            Some((vrid, prio)) => {
                format!(
                    "advert on {interface} from {} vrid {vrid} priority {prio}",
                    ip.src
                )
            }
            None => format!("short packet on {interface} from {}", ip.src),
        },
        Event::AddressResult {
            address,
            added,
            outcome,
        } => format!(
            "{} {}/{} on {}: {outcome:?}",
            if *added { "added" } else { "removed" },
            address.address,
            address.prefix_len,
            address.interface
        ),
        Event::EchoReply { router, from, seq } => format!("echo reply {from} seq {seq} ({router})"),
        Event::EchoSendFailed { router, target } => format!("echo to {target} failed ({router})"),
        Event::ProcessExited { proc, outcome, .. } => format!("process {proc} exited: {outcome:?}"),
        Event::ProbeDone { rs, result } => format!("probe {rs:?}: {result:?}"),
        Event::IpvsDumped { result } => match result {
            Ok(s) => format!("ipvs dump: {} service(s)", s.len()),
            Err(e) => format!("ipvs dump failed: {e}"),
        },
        Event::HttpResponse { req, result } => match result {
            Ok(r) => format!(
                "http #{req}: {} {}",
                r.status,
                r.body.chars().take(80).collect::<String>()
            ),
            Err(e) => format!("http #{req} failed: {e}"),
        },
        Event::Tick => "tick".into(),
        Event::Reload { plan, .. } => format!("reload (plan {})", plan.topology_hash),
        Event::ReloadFailed { error } => format!("reload failed: {error}"),
        Event::Shutdown => "shutdown".into(),
    }
}

pub fn describe_command(c: &Command) -> String {
    match c {
        Command::HttpRequest {
            req,
            endpoint,
            path,
            ..
        } => format!("http #{req}: POST {endpoint}{path}"),
        Command::OpenVrrp {
            interface,
            ifindex,
            multicast,
            ..
        } => format!("open vrrp socket {interface} ifindex {ifindex} multicast {multicast}"),
        Command::CloseVrrp { interface, .. } => format!("close vrrp socket {interface}"),
        Command::SendVrrp {
            interface,
            dst,
            bytes,
            ..
        } => match advert_fields(bytes) {
            Some((vrid, prio)) => {
                format!("advert on {interface} to {dst} vrid {vrid} priority {prio}")
            }
            None => format!("short advert on {interface} to {dst}"),
        },
        Command::AddAddress(a) => format!("add {}/{} on {}", a.address, a.prefix_len, a.interface),
        Command::RemoveAddress(a) => {
            format!("remove {}/{} on {}", a.address, a.prefix_len, a.interface)
        }
        Command::SendGarp {
            interface,
            addresses,
        } => format!("garp on {interface} for {addresses:?}"),
        Command::OpenEcho {
            router, interface, ..
        } => format!("open echo socket {interface} ({router})"),
        Command::CloseEcho { router } => format!("close echo socket ({router})"),
        Command::SendEcho {
            router,
            target,
            seq,
        } => format!("echo {target} seq {seq} ({router})"),
        Command::Spawn { proc, argv, .. } => format!("spawn {proc}: {}", argv.join(" ")),
        Command::Kill { proc } => format!("kill {proc}"),
        Command::StartProbe { rs, .. } => format!("probe {rs:?}"),
        Command::AbortProbe { rs } => format!("abort probe {rs:?}"),
        Command::IpvsDump => "ipvs dump".into(),
        Command::IpvsApply { ops } => format!("ipvs apply {} op(s)", ops.len()),
        Command::WriteLedger(l) => format!("write ledger ({} address(es))", l.addresses.len()),
        Command::Log { event, fields } => format!("log {event} {fields}"),
        Command::CreateVmac {
            interface,
            parent,
            mac,
        } => format!("create vmac {interface} on {parent} ({mac})"),
        Command::DeleteVmac { interface, .. } => format!("delete vmac {interface}"),
        Command::Ready => "ready".into(),
        Command::Stopped => "stopped".into(),
    }
}
