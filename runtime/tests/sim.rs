//! Three routers in one process on a simulated Ethernet segment.
//!
//! Every `SendAdvert` is emitted to bytes, delivered after a fixed latency to
//! the other live routers, and goes through `rx::decode` + `Router::classify`
//! exactly like the I/O shell's receive path. Timers are a deadline map
//! driven by the simulation clock. The test asserts the election's safety
//! and liveness properties across a crash, a preempting return and a
//! graceful shutdown, for VRRPv3 and VRRPv2.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vigil_schema::plan::Family;
use vigild::vrrp::timers::{master_down_interval, skew_time};
use vigild::vrrp::{Action, Input, Instant, Received, Router, RouterConfig, State, TimerKind, rx};
use vigild::wire::IpMeta;
use vigild::wire::vrrp::{Centis, MULTICAST_V4, Version};

const LATENCY: Duration = Duration::from_micros(200);

fn config(version: Version, priority: u8, source: Ipv4Addr) -> RouterConfig {
    RouterConfig {
        name: "web".into(),
        interface: "eth0".into(),
        family: Family::Ipv4,
        version,
        vrid: 51,
        priority,
        advert_interval: Centis(100),
        advert_interval_min: Centis(100),
        advert_interval_max: Centis(100),
        preempt: true,
        preempt_delay_ms: 0,
        accept: false,
        source_address: IpAddr::V4(source),
        unicast_peers: vec![],
        vips: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100))],
        auth: false,
        garp_repeat: 1,
        garp_interval_ms: 0,
        garp_refresh_ms: 0,
        startup_delay_ms: 0,
    }
}

struct Node {
    router: Router,
    up: bool,
    holds_vips: bool,
}

struct Sim {
    nodes: Vec<Node>,
    now: Instant,
    timers: BTreeMap<(Instant, usize, TimerKind), ()>,
    /// (delivery time, sender, bytes)
    wire: Vec<(Instant, usize, Vec<u8>)>,
    /// (time, number of masters) after every event.
    history: Vec<(Instant, usize)>,
}

impl Sim {
    fn new(version: Version, nodes: &[(u8, Ipv4Addr)]) -> Sim {
        Sim {
            nodes: nodes
                .iter()
                .map(|&(p, a)| Node {
                    router: Router::new(config(version, p, a), None),
                    up: false,
                    holds_vips: false,
                })
                .collect(),
            now: Instant::ZERO,
            timers: BTreeMap::new(),
            wire: Vec::new(),
            history: Vec::new(),
        }
    }

    fn feed(&mut self, i: usize, input: Input) {
        let actions = self.nodes[i].router.handle(input, self.now);
        for a in actions {
            match a {
                Action::SendAdvert {
                    priority,
                    advert_interval,
                } => {
                    let r = &self.nodes[i].router;
                    let bytes = r
                        .advert_repr(priority, advert_interval)
                        .to_bytes(r.config().source_address, IpAddr::V4(MULTICAST_V4))
                        .expect("adverts are emittable");
                    self.wire.push((self.now + LATENCY, i, bytes));
                }
                Action::ArmTimer { kind, at } => {
                    self.timers.retain(|&(_, n, k), _| !(n == i && k == kind));
                    self.timers.insert((at, i, kind), ());
                }
                Action::CancelTimer { kind } => {
                    self.timers.retain(|&(_, n, k), _| !(n == i && k == kind))
                }
                Action::AddVips { .. } => {
                    assert!(!self.nodes[i].holds_vips, "VIPs added twice");
                    self.nodes[i].holds_vips = true;
                }
                Action::RemoveVips { .. } => {
                    assert!(self.nodes[i].holds_vips, "VIPs removed while not held");
                    self.nodes[i].holds_vips = false;
                }
                Action::SendGarp { .. } | Action::StateChanged { .. } | Action::Alarm(_) => {}
            }
        }
        let n = self.nodes[i].router.state() == State::Master;
        assert_eq!(
            n, self.nodes[i].holds_vips,
            "node {i}: master state and VIP ownership disagree"
        );
    }

    fn start(&mut self, i: usize) {
        self.nodes[i].up = true;
        self.feed(i, Input::Startup);
        self.record();
    }

    /// Power loss: no priority-0 advert, timers and in-flight packets lost.
    fn crash(&mut self, i: usize) {
        let cfg = self.nodes[i].router.config().clone();
        self.nodes[i] = Node {
            router: Router::new(cfg, None),
            up: false,
            holds_vips: false,
        };
        self.timers.retain(|&(_, n, _), _| n != i);
        self.wire.retain(|&(_, from, _)| from != i);
        self.record();
    }

    fn shutdown(&mut self, i: usize) {
        self.feed(i, Input::Shutdown);
        self.nodes[i].up = false;
        self.record();
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].up && self.nodes[i].router.state() == State::Master)
            .collect()
    }

    fn record(&mut self) {
        let m = self.masters().len();
        self.history.push((self.now, m));
    }

    fn run_until(&mut self, end: Instant) {
        loop {
            let next_timer = self.timers.keys().next().map(|k| k.0);
            let next_packet = self.wire.iter().map(|w| w.0).min();
            let next = match (next_timer, next_packet) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            if next > end {
                break;
            }
            self.now = next;
            if next_packet == Some(next) {
                let due: Vec<_> = self.wire.iter().filter(|w| w.0 == next).cloned().collect();
                self.wire.retain(|w| w.0 != next);
                for (_, from, bytes) in due {
                    for to in 0..self.nodes.len() {
                        if to == from || !self.nodes[to].up {
                            continue;
                        }
                        let src = self.nodes[from].router.config().source_address;
                        let ip = IpMeta {
                            src,
                            dst: IpAddr::V4(MULTICAST_V4),
                            ttl: 255,
                        };
                        let input = match rx::decode(&ip, &bytes) {
                            Received::Advert(repr) => self.nodes[to].router.classify(&ip, &repr),
                            Received::Error { reason, .. } => {
                                panic!("simulated wire corrupted a packet: {reason:?}")
                            }
                        };
                        assert!(
                            matches!(input, Input::AdvertReceived { .. }),
                            "advert refused: {input:?}"
                        );
                        self.feed(to, input);
                    }
                }
            } else {
                let (at, i, kind) = *self.timers.keys().next().unwrap();
                self.timers.remove(&(at, i, kind));
                self.feed(i, Input::Timer { kind });
            }
            self.record();
        }
        self.now = end;
    }

    /// Longest stretch within [from, to] during which `pred(masters)` held.
    fn longest(&self, from: Instant, to: Instant, pred: impl Fn(usize) -> bool) -> Duration {
        let mut longest = Duration::ZERO;
        let mut since: Option<Instant> = None;
        // The count in force at `from`.
        let initial = self
            .history
            .iter()
            .rev()
            .find(|h| h.0 <= from)
            .map_or(0, |h| h.1);
        if pred(initial) {
            since = Some(from);
        }
        for &(t, m) in self.history.iter().filter(|h| h.0 > from && h.0 <= to) {
            match (pred(m), since) {
                (true, None) => since = Some(t),
                (false, Some(s)) => {
                    longest = longest.max(t.saturating_since(s));
                    since = None;
                }
                _ => {}
            }
        }
        if let Some(s) = since {
            longest = longest.max(to.saturating_since(s));
        }
        longest
    }
}

fn secs(s: f64) -> Instant {
    Instant((s * 1e6) as u64)
}

fn scenario(version: Version) {
    let a = Ipv4Addr::new(10, 0, 0, 1);
    let b = Ipv4Addr::new(10, 0, 0, 2);
    let c = Ipv4Addr::new(10, 0, 0, 3);
    let mut sim = Sim::new(version, &[(100, a), (150, b), (200, c)]);
    let iv = Centis(100);

    // Convergence: the highest priority wins once its master-down interval runs out.
    for i in 0..3 {
        sim.start(i);
    }
    sim.run_until(secs(10.0));
    assert_eq!(sim.masters(), vec![2]);
    let converged = Instant::ZERO + master_down_interval(200, iv) + LATENCY;
    assert_eq!(
        sim.longest(converged, secs(10.0), |m| m != 1),
        Duration::ZERO,
        "exactly one master after convergence"
    );

    // Crash of the master: the next best takes over within its master-down interval.
    sim.crash(2);
    sim.run_until(secs(20.0));
    assert_eq!(sim.masters(), vec![1]);
    let gap = sim.longest(secs(10.0), secs(20.0), |m| m == 0);
    assert!(
        gap > Duration::ZERO && gap <= master_down_interval(150, iv),
        "takeover gap {gap:?}"
    );
    assert_eq!(
        sim.longest(secs(10.0), secs(20.0), |m| m > 1),
        Duration::ZERO
    );

    // The preferred router returns and preempts back; two masters only for
    // the time the takeover advert is on the wire.
    sim.start(2);
    sim.run_until(secs(30.0));
    assert_eq!(sim.masters(), vec![2]);
    assert!(sim.longest(secs(20.0), secs(30.0), |m| m > 1) <= LATENCY);
    assert_eq!(
        sim.longest(secs(20.0), secs(30.0), |m| m == 0),
        Duration::ZERO
    );

    // Graceful shutdown: priority 0 lets the next best take over after Skew_Time only.
    sim.shutdown(2);
    sim.run_until(secs(40.0));
    assert_eq!(sim.masters(), vec![1]);
    let gap = sim.longest(secs(30.0), secs(40.0), |m| m == 0);
    assert!(
        gap <= skew_time(150, iv) + LATENCY,
        "graceful takeover gap {gap:?}"
    );
    assert_eq!(
        sim.longest(secs(30.0), secs(40.0), |m| m > 1),
        Duration::ZERO
    );

    // Router 0 must never have become master: a higher one was always alive.
    assert_eq!(sim.nodes[0].router.stats().became_master, 0);
    assert_eq!(sim.nodes[1].router.stats().became_master, 2);
    assert_eq!(sim.nodes[2].router.stats().priority_zero_sent, 1);
}

#[test]
fn three_routers_v3() {
    scenario(Version::V3);
}

#[test]
fn three_routers_v2() {
    scenario(Version::V2);
}

#[test]
fn equal_priorities_elect_the_higher_address() {
    let mut sim = Sim::new(
        Version::V3,
        &[
            (100, Ipv4Addr::new(10, 0, 0, 9)),
            (100, Ipv4Addr::new(10, 0, 0, 10)),
        ],
    );
    sim.start(0);
    sim.start(1);
    sim.run_until(secs(10.0));
    // 10.0.0.10 > 10.0.0.9 as integers (a string compare would say otherwise).
    assert_eq!(sim.masters(), vec![1]);
    let settled = secs(5.0);
    assert_eq!(sim.longest(settled, secs(10.0), |m| m != 1), Duration::ZERO);
}
