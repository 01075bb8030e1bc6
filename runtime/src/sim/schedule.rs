//! Seeded random schedules: a few faults in a fault window, each undone
//! after a while, then everything healed and a quiet tail long enough for
//! every router to settle, so that the "once stable" invariants are
//! exercised after every schedule.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use vigil_schema::plan::{Plan, PlanTrackerKind};

use super::invariants::RouterInfo;
use super::rng::Rng;
use super::scenario::{Cut, Endpoint, Fault, FenceEffect, NetProfile, Scenario};
use super::topology::SimTopology;

/// The shape of random schedules.
#[derive(Clone, Debug)]
pub struct ScheduleOptions {
    /// Faults start within this window (after `first_fault`).
    pub fault_window: Duration,
    /// No fault before this (the cluster elects its first master).
    pub first_fault: Duration,
    /// At most this many faults (at least one).
    pub max_faults: usize,
    /// Quiet time after the longest settle time, so the final state is
    /// checked for a while.
    pub extra_tail: Duration,
    /// Allow lossy / reordering network windows.
    pub lossy: bool,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            fault_window: Duration::from_millis(1000),
            first_fault: Duration::from_millis(300),
            max_faults: 3,
            extra_tail: Duration::from_millis(200),
            lossy: true,
        }
    }
}

/// The longest settle time of any router of the topology under `scenario`.
pub fn settle_time(topo: &SimTopology, scenario: &Scenario) -> Duration {
    let mut by_name: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (h, host) in topo.hosts.iter().enumerate() {
        for r in &host.plan.routers {
            by_name.entry(r.name.clone()).or_default().push((
                h,
                r.clone(),
                host.plan.startup_delay_ms,
            ));
        }
    }
    by_name
        .iter()
        .map(|(name, members)| {
            RouterInfo::new(name, members, scenario.network.max_delay(), scenario).settle
        })
        .max()
        .unwrap_or_default()
}

/// A random schedule for `topo` from `seed`.
pub fn random_scenario(seed: u64, topo: &SimTopology, opts: &ScheduleOptions) -> Scenario {
    // A stream of its own: the run's stream starts from the seed unchanged.
    let mut rng = Rng::new(seed ^ 0x5c4e_d01e_5eed_0001);
    let base = NetProfile::default();
    let mut s = Scenario::new(&format!("random #{seed}"), Duration::ZERO);
    s.network = base.clone();
    if rng.below(4) == 0 {
        s.fence = FenceEffect::AllPeers;
    }
    // Slow kernels and programs now and then: answers that arrive after
    // later commands, hooks and fences that outlast elections.
    if rng.below(4) == 0 {
        s.timing.answer_delay = (Duration::ZERO, Duration::from_millis(5));
    }
    s.timing.hook_runtime = Duration::from_millis(rng.range(1, 200));
    s.timing.fence_runtime = Duration::from_millis(rng.range(10, 500));
    let window_end = opts.first_fault + opts.fault_window;
    let n = rng.range(1, opts.max_faults.max(1) as u64) as usize;
    let hosts: Vec<String> = topo.hosts.iter().map(|h| h.name.clone()).collect();
    let segments = topo.segments();
    let refs: Vec<(String, IpAddr)> = topo
        .reference_ips
        .iter()
        .flat_map(|(s, ips)| ips.iter().map(move |ip| (s.clone(), *ip)))
        .collect();
    let mut cuts = 0;
    let lease = topo
        .hosts
        .iter()
        .any(|h| h.plan.routers.iter().any(|r| r.lease.is_some()));
    for _ in 0..n {
        let at = opts.first_fault + rng.duration(Duration::ZERO, opts.fault_window);
        let until = (at + rng.duration(Duration::from_millis(20), window_end.saturating_sub(at)))
            .min(window_end);
        let Some(host) = rng.pick(&hosts).cloned() else {
            break;
        };
        let h = topo.host_index(&host).unwrap_or(0);
        let ifaces: Vec<String> = topo.hosts[h]
            .interfaces
            .iter()
            .map(|i| i.name.clone())
            .collect();
        let iface = rng.pick(&ifaces).cloned().unwrap_or_default();
        let (start, end) = match rng.below(12) {
            0 => (Fault::Crash { host: host.clone() }, Fault::Restart { host }),
            1 => (
                Fault::PowerOff { host: host.clone() },
                Fault::Restart { host },
            ),
            2 => (
                Fault::Shutdown { host: host.clone() },
                Fault::Restart { host },
            ),
            3 => (
                Fault::LinkDown {
                    host: host.clone(),
                    interface: iface.clone(),
                },
                Fault::LinkUp {
                    host,
                    interface: iface,
                },
            ),
            4 => (
                Fault::LinkDelete {
                    host: host.clone(),
                    interface: iface.clone(),
                },
                Fault::LinkCreate {
                    host,
                    interface: iface,
                },
            ),
            5 | 6 => {
                cuts += 1;
                let id = format!("cut{cuts}");
                let segment = rng.pick(&segments).cloned().unwrap_or_default();
                let mut ends: Vec<Endpoint> = topo
                    .hosts
                    .iter()
                    .filter(|h| h.interfaces.iter().any(|i| i.segment == segment))
                    .map(|h| Endpoint::Host(h.name.clone()))
                    .collect();
                ends.extend(
                    refs.iter()
                        .filter(|(s, _)| *s == segment)
                        .map(|(_, ip)| Endpoint::Reference(*ip)),
                );
                let cut = if rng.below(4) == 0 {
                    Cut::segment(&segment)
                } else {
                    let a: Vec<Endpoint> =
                        ends.iter().filter(|_| rng.below(2) == 0).cloned().collect();
                    Cut::between(Some(&segment), a, Vec::new())
                };
                (
                    Fault::Cut {
                        id: id.clone(),
                        cut,
                    },
                    Fault::Heal { id },
                )
            }
            7 => match rng.pick(&refs) {
                Some((_, ip)) => (
                    Fault::ReferenceDark { ip: *ip },
                    Fault::ReferenceLight { ip: *ip },
                ),
                None => continue,
            },
            8 => (
                Fault::FenceFails {
                    host: host.clone(),
                    fails: true,
                },
                Fault::FenceFails { host, fails: false },
            ),
            9 => {
                let trackers: Vec<String> = topo.hosts[h]
                    .plan
                    .routers
                    .iter()
                    .flat_map(|r| r.trackers.iter())
                    .filter(|t| matches!(t.kind, PlanTrackerKind::Command { .. }))
                    .map(|t| t.name.clone())
                    .collect();
                match rng.pick(&trackers).cloned() {
                    Some(tracker) => (
                        Fault::TrackerFails {
                            host: host.clone(),
                            tracker: tracker.clone(),
                            fails: true,
                        },
                        Fault::TrackerFails {
                            host,
                            tracker,
                            fails: false,
                        },
                    ),
                    None => continue,
                }
            }
            10 if rng.below(2) == 0 => {
                let servers: Vec<IpAddr> = topo.hosts[h]
                    .plan
                    .virtual_servers
                    .iter()
                    .flat_map(|v| v.real_servers.iter().map(|r| r.address))
                    .collect();
                match rng.pick(&servers) {
                    Some(address) => (
                        Fault::RealServerDown {
                            address: *address,
                            down: true,
                        },
                        Fault::RealServerDown {
                            address: *address,
                            down: false,
                        },
                    ),
                    None => continue,
                }
            }
            10 if opts.lossy => {
                let bad = NetProfile {
                    loss: [0.05, 0.2, 0.5][rng.below(3) as usize],
                    delay: Duration::from_micros(rng.range(100, 3000)),
                    jitter: Duration::from_micros(rng.range(0, 20_000)),
                    reorder: [0.0, 0.1, 0.3][rng.below(3) as usize],
                };
                (Fault::Network(bad), Fault::Network(base.clone()))
            }
            // Only where a router uses a lease (the other topologies keep
            // their schedules): the store cut off from a host, or down.
            11 if lease => {
                if rng.below(3) == 0 {
                    (
                        Fault::StoreDown { down: true },
                        Fault::StoreDown { down: false },
                    )
                } else {
                    (
                        Fault::StoreCut {
                            host: host.clone(),
                            cut: true,
                        },
                        Fault::StoreCut { host, cut: false },
                    )
                }
            }
            _ => {
                let mut plan: Plan = topo.hosts[h].plan.clone();
                plan.topology_hash.push_str("+reload");
                for r in &mut plan.routers {
                    r.notify.timeout_ms += 1000;
                    r.garp.repeat = r.garp.repeat.max(1) + 1;
                }
                (
                    Fault::Reload {
                        host: host.clone(),
                        plan: Box::new(plan),
                    },
                    Fault::Reload {
                        host,
                        plan: Box::new(topo.hosts[h].plan.clone()),
                    },
                )
            }
        };
        s = s.at(at, start).at(until, end);
    }
    // Heal everything, then let it settle.
    let heal = window_end + Duration::from_millis(1);
    for host in &topo.hosts {
        s = s.at(
            heal,
            Fault::Restart {
                host: host.name.clone(),
            },
        );
    }
    s.duration = heal + settle_time(topo, &s) + opts.extra_tail;
    s
}
