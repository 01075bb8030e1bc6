//! The state machine's vocabulary: what goes in ([`Input`]), what comes out
//! ([`Action`]). Both are serde enums so a live run can be recorded as JSONL
//! and replayed bit for bit (see `runtime/tests/replay`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::config::RouterConfig;
use super::rx::RxError;
use super::timers::{Instant, TimerKind};
use crate::wire::vrrp::Centis;

/// RFC 5798 §6.4 states, plus keepalived's Fault (a tracker or arbitration
/// holds the router out of the election).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
}

/// Everything the router reacts to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// The interface is usable and the router should start (RFC "Startup event").
    Startup,
    /// Stop: a master resigns with a priority-0 advert and drops its VIPs.
    Shutdown,
    /// A valid advert for this router, already checked by
    /// [`Router::classify`](super::Router::classify).
    AdvertReceived {
        /// The sender's primary address (the IP source).
        src: IpAddr,
        priority: u8,
        /// The sender's interval (v2 seconds converted to centiseconds).
        advert_interval: Centis,
    },
    /// A discarded packet, for the counters.
    RxError { reason: RxError },
    /// A deadline armed with [`Action::ArmTimer`] has passed.
    Timer { kind: TimerKind },
    /// Trackers' combined verdict: `on` holds the router in Fault.
    Fault { on: bool },
    /// A new effective priority from weighted trackers (1..=254; ignored for the owner).
    PriorityChange { priority: u8 },
    /// Arbitration's verdict: while `allow_master` is false the router may
    /// not become master (it stays backup and raises [`Alarm::MasterVetoed`]).
    ArbitrationVerdict { allow_master: bool },
    /// A master lost its right to be master (its lease): it resigns like
    /// at shutdown (priority-0 advert, VIPs dropped) but stays a backup.
    /// Ignored in any other state.
    Resign,
    /// A new plan for the same router (same interface, family, version, VRID).
    PlanReload { config: Box<RouterConfig> },
}

/// Why the state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// Initialize -> Backup.
    Startup,
    /// Initialize -> Master: priority 255 owns the addresses.
    OwnerStartup,
    /// Backup -> Master: no advert within the master-down interval.
    MasterDown,
    /// Backup -> Master: a lower-priority master was seen for the preempt delay.
    PreemptDelayElapsed,
    /// Backup -> Master: arbitration lifted its veto while no master was heard.
    VetoLifted,
    /// Master -> Backup: an advert with a higher priority.
    HigherPriority,
    /// Master -> Backup: equal priority from a higher primary address.
    EqualPriorityHigherAddress,
    /// Master -> Backup: the master lost its lease.
    Resigned,
    /// Any -> Initialize.
    Shutdown,
    /// Any -> Fault.
    Fault,
    /// Fault -> Backup or Master.
    FaultCleared,
}

// Every variant is in `Reason::ALL`, in declaration order: tables sized by
// `ALL.len()` and indexed by `index()` cannot be overrun.
const _: () = {
    let mut i = 0;
    while i < Reason::ALL.len() {
        assert!(Reason::ALL[i] as usize == i);
        i += 1;
    }
    assert!(Reason::FaultCleared as usize + 1 == Reason::ALL.len());
};

impl Reason {
    /// Every reason, for tables indexed by [`Reason::index`].
    pub const ALL: [Reason; 11] = [
        Reason::Startup,
        Reason::OwnerStartup,
        Reason::MasterDown,
        Reason::PreemptDelayElapsed,
        Reason::VetoLifted,
        Reason::HigherPriority,
        Reason::EqualPriorityHigherAddress,
        Reason::Resigned,
        Reason::Shutdown,
        Reason::Fault,
        Reason::FaultCleared,
    ];

    /// The position in [`Reason::ALL`] (its declaration order).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// A stable snake_case name (metrics labels).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::OwnerStartup => "owner_startup",
            Reason::MasterDown => "master_down",
            Reason::PreemptDelayElapsed => "preempt_delay_elapsed",
            Reason::VetoLifted => "veto_lifted",
            Reason::HigherPriority => "higher_priority",
            Reason::EqualPriorityHigherAddress => "equal_priority_higher_address",
            Reason::Resigned => "resigned",
            Reason::Shutdown => "shutdown",
            Reason::Fault => "fault",
            Reason::FaultCleared => "fault_cleared",
        }
    }
}

/// Events an operator must hear about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alarm {
    /// While master we heard another master with our priority.
    DualMaster { peer: IpAddr, priority: u8 },
    /// We would have become master but arbitration forbids it.
    MasterVetoed,
    /// A reload changed the router's identity; the shell must rebuild it.
    ReloadRefused,
}

/// What the shell must do, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Send one advert built by [`Router::advert_repr`](super::Router::advert_repr)
    /// to the multicast group or every unicast peer.
    SendAdvert {
        priority: u8,
        advert_interval: Centis,
    },
    /// Add these VIPs (with the plan's prefix and label) to the interface;
    /// `accept` says whether traffic to them is accepted (accept mode).
    AddVips {
        addresses: Vec<IpAddr>,
        accept: bool,
    },
    RemoveVips {
        addresses: Vec<IpAddr>,
    },
    /// One gratuitous ARP (IPv4) or unsolicited NA (IPv6) per address.
    SendGarp {
        addresses: Vec<IpAddr>,
    },
    /// Feed `Input::Timer { kind }` at `at` (replaces any earlier deadline of that kind).
    ArmTimer {
        kind: TimerKind,
        at: Instant,
    },
    CancelTimer {
        kind: TimerKind,
    },
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
    Alarm(Alarm),
}
