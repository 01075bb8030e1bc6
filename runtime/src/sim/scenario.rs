//! What happens to the simulated cluster: the network's quality, timed
//! faults, and how external programs behave.
//!
//! A [`Scenario`] is data: the same scenario with the same seed is the same
//! run. Faults name hosts, interfaces, segments and reference IPs of the
//! [`super::SimTopology`]; a name it does not know makes the fault a no-op
//! that is noted in the trace (never a panic).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use vigil_schema::plan::Plan;

/// How packets travel while this profile is in force.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetProfile {
    /// Probability that one packet (advert, echo request or reply) is lost.
    pub loss: f64,
    /// One-way delay of every packet.
    pub delay: Duration,
    /// Extra delay, uniform in `0..=jitter` per packet (reorders packets
    /// closer together than the jitter).
    pub jitter: Duration,
    /// Probability that a packet is held back by up to 5 × jitter + 1 ms
    /// more (reordering beyond the jitter).
    pub reorder: f64,
}

impl Default for NetProfile {
    fn default() -> Self {
        NetProfile {
            loss: 0.0,
            delay: Duration::from_micros(200),
            jitter: Duration::from_micros(100),
            reorder: 0.0,
        }
    }
}

impl NetProfile {
    /// Whether the profile can lose or reorder packets beyond its jitter
    /// (the network is not stable while it is in force).
    pub fn lossy(&self) -> bool {
        self.loss > 0.0 || self.reorder > 0.0
    }

    /// The longest one-way delay of a packet.
    pub fn max_delay(&self) -> Duration {
        let extra = if self.reorder > 0.0 {
            self.jitter * 5 + Duration::from_millis(1)
        } else {
            Duration::ZERO
        };
        self.delay + self.jitter + extra
    }
}

/// One end of a cut.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Host(String),
    /// A reference IP (a gateway).
    Reference(IpAddr),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Host(h) => f.write_str(h),
            Endpoint::Reference(ip) => write!(f, "{ip}"),
        }
    }
}

/// A partition: nothing passes between side `a` and side `b`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cut {
    /// The segment it applies to; `None`: every segment.
    pub segment: Option<String>,
    /// Empty: the whole segment carries nothing between any two endpoints.
    pub a: Vec<Endpoint>,
    /// Empty: everything not in `a`.
    pub b: Vec<Endpoint>,
}

impl Cut {
    /// The whole segment goes dark (a cable or switch lost).
    pub fn segment(segment: &str) -> Cut {
        Cut {
            segment: Some(segment.to_string()),
            a: Vec::new(),
            b: Vec::new(),
        }
    }

    /// `a` against `b` on `segment` (`b` empty: against everything else).
    pub fn between(segment: Option<&str>, a: Vec<Endpoint>, b: Vec<Endpoint>) -> Cut {
        Cut {
            segment: segment.map(str::to_string),
            a,
            b,
        }
    }

    /// Whether this cut stops traffic between `x` and `y` on `segment`.
    pub fn blocks(&self, segment: &str, x: &Endpoint, y: &Endpoint) -> bool {
        if self.segment.as_deref().is_some_and(|s| s != segment) {
            return false;
        }
        if self.a.is_empty() {
            return x != y;
        }
        let side_b = |e: &Endpoint| {
            if self.b.is_empty() {
                !self.a.contains(e)
            } else {
                self.b.contains(e)
            }
        };
        (self.a.contains(x) && side_b(y)) || (self.a.contains(y) && side_b(x))
    }
}

/// Something that happens at a given time.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "fault")]
pub enum Fault {
    /// The daemon dies (kill -9): no priority-0 advert; addresses, links,
    /// the IPVS table and the ledger file survive.
    Crash {
        host: String,
    },
    /// The machine loses power: the daemon and the kernel state go (the
    /// runtime directory, and with it the ledger, is cleared by the reboot).
    PowerOff {
        host: String,
    },
    /// The daemon starts again (after a crash, a shutdown, or a power-off:
    /// then the machine boots first). A running daemon is left alone.
    Restart {
        host: String,
    },
    /// SIGTERM: every router resigns (priority 0), then the daemon exits.
    Shutdown {
        host: String,
    },
    /// The interface loses carrier / comes back.
    LinkDown {
        host: String,
        interface: String,
    },
    LinkUp {
        host: String,
        interface: String,
    },
    /// The interface is deleted (its addresses go with it) / re-created
    /// with the same name and addresses and a new ifindex.
    LinkDelete {
        host: String,
        interface: String,
    },
    LinkCreate {
        host: String,
        interface: String,
    },
    /// A partition starts (`id` names it for [`Fault::Heal`]).
    Cut {
        id: String,
        cut: Cut,
    },
    /// The partition `id` ends.
    Heal {
        id: String,
    },
    /// A reference IP stops answering anyone / answers again.
    ReferenceDark {
        ip: IpAddr,
    },
    ReferenceLight {
        ip: IpAddr,
    },
    /// From now on the host's fence commands fail (`fails`) or succeed.
    FenceFails {
        host: String,
        fails: bool,
    },
    /// From now on the host's command tracker `tracker` fails or succeeds.
    TrackerFails {
        host: String,
        tracker: String,
        fails: bool,
    },
    /// Health checks of this real server fail or succeed.
    RealServerDown {
        address: IpAddr,
        down: bool,
    },
    /// The network's quality changes.
    Network(NetProfile),
    /// The lease store goes down as a whole / comes back.
    StoreDown {
        down: bool,
    },
    /// The host is cut off from the lease store's majority / reaches it again.
    StoreCut {
        host: String,
        cut: bool,
    },
    /// SIGHUP with this plan.
    Reload {
        host: String,
        plan: Box<Plan>,
    },
}

impl Fault {
    /// The host the fault is about, if any.
    pub fn host(&self) -> Option<&str> {
        match self {
            Fault::Crash { host }
            | Fault::PowerOff { host }
            | Fault::Restart { host }
            | Fault::Shutdown { host }
            | Fault::LinkDown { host, .. }
            | Fault::LinkUp { host, .. }
            | Fault::LinkDelete { host, .. }
            | Fault::LinkCreate { host, .. }
            | Fault::FenceFails { host, .. }
            | Fault::TrackerFails { host, .. }
            | Fault::Reload { host, .. } => Some(host),
            _ => None,
        }
    }

    /// A short description for traces and timelines.
    pub fn describe(&self) -> String {
        match self {
            Fault::Crash { host } => format!("vigild on {host} crashes (kernel state kept)"),
            Fault::PowerOff { host } => format!("{host} loses power"),
            Fault::Restart { host } => format!("vigild on {host} starts"),
            Fault::Shutdown { host } => format!("vigild on {host} stops (SIGTERM)"),
            Fault::LinkDown { host, interface } => format!("{host}:{interface} loses carrier"),
            Fault::LinkUp { host, interface } => format!("{host}:{interface} has carrier again"),
            Fault::LinkDelete { host, interface } => format!("{host}:{interface} is deleted"),
            Fault::LinkCreate { host, interface } => format!("{host}:{interface} is re-created"),
            Fault::Cut { id, cut } => {
                let seg = cut.segment.as_deref().unwrap_or("every segment");
                if cut.a.is_empty() {
                    format!("cut `{id}`: {seg} carries nothing")
                } else {
                    let side = |s: &[Endpoint]| {
                        s.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    let b = if cut.b.is_empty() {
                        "the rest".to_string()
                    } else {
                        side(&cut.b)
                    };
                    format!("cut `{id}` on {seg}: {} | {b}", side(&cut.a))
                }
            }
            Fault::Heal { id } => format!("cut `{id}` heals"),
            Fault::ReferenceDark { ip } => format!("reference IP {ip} stops answering"),
            Fault::ReferenceLight { ip } => format!("reference IP {ip} answers again"),
            Fault::FenceFails { host, fails } => {
                format!(
                    "fence commands on {host} {}",
                    if *fails { "fail" } else { "succeed" }
                )
            }
            Fault::TrackerFails {
                host,
                tracker,
                fails,
            } => format!(
                "tracker {tracker} on {host} {}",
                if *fails { "fails" } else { "succeeds" }
            ),
            Fault::RealServerDown { address, down } => {
                format!(
                    "real server {address} {}",
                    if *down { "down" } else { "up" }
                )
            }
            Fault::Network(p) => format!(
                "network: loss {:.0}%, delay {:?} + jitter {:?}, reorder {:.0}%",
                p.loss * 100.0,
                p.delay,
                p.jitter,
                p.reorder * 100.0
            ),
            Fault::Reload { host, .. } => format!("vigild on {host} reloads its plan"),
            Fault::StoreDown { down } => {
                format!("the lease store is {}", if *down { "down" } else { "up" })
            }
            Fault::StoreCut { host, cut } => {
                format!(
                    "{host} {} the lease store",
                    if *cut { "is cut off from" } else { "reaches" }
                )
            }
        }
    }
}

/// A fault at a time since the start of the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timed {
    pub at: Duration,
    #[serde(flatten)]
    pub fault: Fault,
}

/// How the simulated kernel and programs take their time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timing {
    /// Address changes, IPVS dumps and echo send errors are answered after
    /// a delay uniform in this range (0: in the same instant, after the
    /// node's other commands).
    pub answer_delay: (Duration, Duration),
    /// Link notifications arrive this long after the change.
    pub link_notify_delay: Duration,
    /// Notify hooks and self-fence commands run this long (and succeed).
    pub hook_runtime: Duration,
    /// Command trackers run this long.
    pub tracker_runtime: Duration,
    /// Fence commands run this long.
    pub fence_runtime: Duration,
    /// Health checks take this long.
    pub probe_runtime: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            answer_delay: (Duration::ZERO, Duration::from_micros(300)),
            link_notify_delay: Duration::from_micros(50),
            hook_runtime: Duration::from_millis(5),
            tracker_runtime: Duration::from_millis(2),
            fence_runtime: Duration::from_millis(50),
            probe_runtime: Duration::from_millis(1),
        }
    }
}

/// A run: its length, network, faults and timings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    /// The run ends here.
    pub duration: Duration,
    /// The network at the start.
    pub network: NetProfile,
    /// Faults, in any order (applied by time, then in list order).
    pub events: Vec<Timed>,
    pub timing: Timing,
    /// The daemons start one after the other in topology order, this far
    /// apart (zero: all at once, a cold start of the whole cluster).
    pub start_gap: Duration,
    /// Boot times of particular hosts (instead of their place in the gap).
    pub boot: BTreeMap<String, Duration>,
    /// What a successful fence command does to the peers.
    pub fence: FenceEffect,
}

/// What a successful fence command does (the plan only names a program;
/// what it powers off is the operator's script).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceEffect {
    /// Powers off the peers that hold the router's VIPs or claim
    /// mastership at that moment (a script that checks before it shoots).
    #[default]
    Holders,
    /// Powers off every peer of the router (a plain BMC power-off of
    /// `VIGIL_PEER_HOSTS`).
    AllPeers,
    /// Succeeds without effect (a fence that fences nothing).
    Nothing,
}

impl Scenario {
    pub fn new(name: &str, duration: Duration) -> Scenario {
        Scenario {
            name: name.to_string(),
            duration,
            network: NetProfile::default(),
            events: Vec::new(),
            timing: Timing::default(),
            start_gap: Duration::ZERO,
            boot: BTreeMap::new(),
            fence: FenceEffect::Holders,
        }
    }

    /// Adds a fault at `at`.
    pub fn at(mut self, at: Duration, fault: Fault) -> Scenario {
        self.events.push(Timed { at, fault });
        self
    }

    /// The faults sorted by time (stable: list order on a tie).
    pub fn sorted_events(&self) -> Vec<Timed> {
        let mut events = self.events.clone();
        events.sort_by_key(|e| e.at);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: &str) -> Endpoint {
        Endpoint::Host(n.into())
    }

    #[test]
    fn cuts_block_what_they_name() {
        let whole = Cut::segment("hb");
        assert!(whole.blocks("hb", &h("a"), &h("b")));
        assert!(!whole.blocks("front", &h("a"), &h("b")));
        let one = Cut::between(Some("front"), vec![h("a")], vec![]);
        assert!(one.blocks("front", &h("a"), &h("b")));
        assert!(one.blocks("front", &h("c"), &h("a")));
        assert!(!one.blocks("front", &h("b"), &h("c")));
        let gw = Endpoint::Reference("10.0.0.1".parse().unwrap());
        let side = Cut::between(None, vec![h("a")], vec![gw.clone()]);
        assert!(side.blocks("front", &h("a"), &gw));
        assert!(side.blocks("back", &gw, &h("a")));
        assert!(!side.blocks("front", &h("a"), &h("b")));
        assert!(!side.blocks("front", &h("b"), &gw));
    }
}
