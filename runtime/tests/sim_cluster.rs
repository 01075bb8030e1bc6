//! Whole clusters of `vigild` nodes in the deterministic simulation
//! (`vigild::sim`): scripted failover scenarios with their RFC bounds, and
//! a seeded sweep of random fault schedules checked against the
//! simulation's invariants.
//!
//! Replay one seed of the sweep with its full trace:
//! `VIGIL_SIM_SEED=1234 cargo test -p vigild --test sim_cluster sweep -- --nocapture`;
//! `VIGIL_SIM_SCHEDULES=N` changes the number of schedules,
//! `VIGIL_SIM_FIRST_SEED=S` where they start (0), `VIGIL_SIM_MAX_FAULTS=N`
//! how many faults a schedule may have (3).

#[path = "sim_cluster/cluster.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant as WallClock};

use cluster::{Arb, Cluster, Router, cmd_tracker, fence, ms};
use vigil_schema::plan::PlanOnFail;
use vigild::sim::{
    Cut, DefenceKind, Endpoint, Fault, Invariant, Scenario, ScheduleOptions, Sim, random_scenario,
};
use vigild::vrrp::timers::{master_down_interval, skew_time};
use vigild::vrrp::{Instant, State};
use vigild::wire::vrrp::Centis;

// --- helpers -------------------------------------------------------------------

fn at(d: Duration) -> Instant {
    Instant::ZERO + d
}

fn run(cluster: &Cluster, scenario: Scenario, seed: u64) -> Sim {
    let mut sim = Sim::new(cluster.topology(), scenario, seed).expect("valid topology");
    if let Err(f) = sim.run() {
        panic!("{f}");
    }
    sim
}

/// lb1 (150) and lb2 (100) share `www` on `front`, adverts every 100 ms.
fn pair() -> Cluster {
    Cluster::default()
        .segment("front", 20, true)
        .host("lb1", &["front"])
        .host("lb2", &["front"])
        .router(Router::new(
            "www",
            "front",
            51,
            &[("lb1", 150), ("lb2", 100)],
        ))
}

/// Spans with two holders longer than a handover (the old master steps
/// down when the new one's first advert arrives: one network delay).
fn overlaps(sim: &Sim, vip: IpAddr) -> Vec<vigild::sim::HolderSpan> {
    sim.record()
        .double_holders(vip, sim.now())
        .into_iter()
        .filter(|s| s.to.saturating_since(s.from) > ms(1))
        .collect()
}

/// When `host` became master of `router` for the first time at or after `after`.
fn became_master(sim: &Sim, host: &str, router: &str, after: Instant) -> Option<(Instant, String)> {
    sim.record()
        .transitions_of(router)
        .find(|t| t.host == host && t.to == "master" && t.at >= after)
        .map(|t| (t.at, t.reason.clone()))
}

fn holders(sim: &Sim, vip: IpAddr) -> Vec<String> {
    sim.holders(vip)
}

fn adv(cs: u16) -> Centis {
    Centis(cs)
}

// --- scripted scenarios --------------------------------------------------------

#[test]
fn master_power_loss_backup_takes_over_within_the_rfc_bound() {
    let c = pair();
    let crash = ms(2000);
    let sim = run(
        &c,
        Scenario::new("lb1 dies", ms(4000)).at(crash, Fault::PowerOff { host: "lb1".into() }),
        1,
    );
    let vip = c.vip("www");
    let (t, reason) = became_master(&sim, "lb2", "www", at(crash)).expect("lb2 takes over");
    // The last advert lb2 heard left lb1 at most one interval before the crash.
    let bound = master_down_interval(100, adv(10)) + ms(2);
    let after = t.saturating_since(at(crash));
    assert!(
        after <= bound,
        "takeover {after:?} after the crash, RFC bound {bound:?}"
    );
    assert!(
        after + ms(100) >= master_down_interval(100, adv(10)),
        "no takeover before the master-down interval: {after:?}"
    );
    assert_eq!(reason, "MasterDown");
    assert_eq!(holders(&sim, vip), vec!["lb2"]);
    let outage = sim
        .record()
        .longest_outage(vip, at(ms(500)), sim.now())
        .unwrap();
    assert_eq!(outage.from, at(crash), "the VIP went with lb1's power");
    assert_eq!(outage.to, t);
    assert!(sim.record().double_holders(vip, sim.now()).is_empty());
}

#[test]
fn shutdown_resigns_with_priority_zero_and_the_backup_takes_over_after_skew() {
    let c = pair();
    let stop = ms(2000);
    let sim = run(
        &c,
        Scenario::new("lb1 stops", ms(3000)).at(stop, Fault::Shutdown { host: "lb1".into() }),
        2,
    );
    assert!(
        sim.record()
            .defended(DefenceKind::PriorityZero, Some("www"))
    );
    let (t, reason) = became_master(&sim, "lb2", "www", at(stop)).expect("lb2 takes over");
    let after = t.saturating_since(at(stop));
    let bound = skew_time(100, adv(10)) + ms(2);
    assert!(
        after <= bound,
        "takeover {after:?} after priority 0; Skew_Time bound {bound:?} (master-down would be {:?})",
        master_down_interval(100, adv(10))
    );
    assert_eq!(reason, "MasterDown");
    assert_eq!(holders(&sim, c.vip("www")), vec!["lb2"]);
    assert!(sim.node("lb1").is_none(), "lb1's daemon exited");
}

fn sync_pair() -> Cluster {
    let mut edge = Router::new("edge", "front", 10, &[("lb1", 200), ("lb2", 100)]);
    edge.sync_group = Some("lb".into());
    let mut gw = Router::new("gw", "back", 20, &[("lb1", 200), ("lb2", 100)]);
    gw.sync_group = Some("lb".into());
    Cluster::default()
        .segment("front", 10, true)
        .segment("back", 11, true)
        .host("lb1", &["front", "back"])
        .host("lb2", &["front", "back"])
        .router(edge)
        .router(gw)
}

#[test]
fn sync_group_one_routers_link_fails_both_routers_move_and_come_back() {
    let c = sync_pair();
    let (down, up) = (ms(2000), ms(4000));
    let lb1_back = || Fault::LinkDown {
        host: "lb1".into(),
        interface: "eth1".into(),
    };
    let sim = run(
        &c,
        Scenario::new("lb1 loses its back link", ms(6000))
            .at(down, lb1_back())
            .at(
                up,
                Fault::LinkUp {
                    host: "lb1".into(),
                    interface: "eth1".into(),
                },
            ),
        4,
    );
    let r = sim.record();
    // Both routers on lb1 enter FAULT, the front one because of its group.
    for router in ["edge", "gw"] {
        let fault = r
            .transitions_of(router)
            .find(|t| t.host == "lb1" && t.to == "fault" && t.at >= at(down))
            .unwrap_or_else(|| panic!("{router} on lb1 enters FAULT"));
        assert!(fault.at <= at(down + ms(1)), "{router}: {:?}", fault.at);
        // edge: lb1 resigned with priority 0, lb2 takes over after
        // Skew_Time. gw: its resignation cannot cross the dead link, lb2
        // waits the master-down interval.
        let (t, _) = became_master(&sim, "lb2", router, at(down)).expect("lb2 takes over");
        let bound = if router == "edge" {
            skew_time(100, adv(10))
        } else {
            master_down_interval(100, adv(10))
        } + ms(2);
        let took = t.saturating_since(at(down));
        assert!(took <= bound, "{router}: {took:?} > {bound:?}");
        assert_eq!(
            r.holder_spans(c.vip(router), at(up - ms(1)))
                .last()
                .map(|s| s.holders.clone()),
            Some(vec!["lb2".to_string()])
        );
        // Back: lb1 (200) preempts both.
        assert!(became_master(&sim, "lb1", router, at(up)).is_some());
        assert_eq!(sim.holders(c.vip(router)), vec!["lb1"]);
    }
    assert!(
        r.defences
            .iter()
            .any(|d| d.kind == DefenceKind::SyncGroup && d.router.as_deref() == Some("edge")),
        "the group moved edge: {:?}",
        r.defences
    );
}

#[test]
fn lease_master_cut_from_the_store_resigns_before_the_backup_acquires_and_a_store_outage_leaves_no_master()
 {
    let mut www = Router::new("www", "front", 51, &[("lb1", 150), ("lb2", 100)]);
    www.arbitration = None;
    www.lease_ttl_ms = Some(3000);
    let c = Cluster::default()
        .segment("front", 20, false)
        .host("lb1", &["front"])
        .host("lb2", &["front"])
        .router(www);
    let vip = c.vip("www");
    let split = Fault::Cut {
        id: "split".into(),
        cut: Cut::between(
            Some("front"),
            vec![Endpoint::Host("lb1".into())],
            vec![Endpoint::Host("lb2".into())],
        ),
    };
    let store_cut = |cut| Fault::StoreCut {
        host: "lb1".into(),
        cut,
    };
    let iso = Fault::Cut {
        id: "iso".into(),
        cut: Cut::between(
            Some("front"),
            vec![Endpoint::Host("lb1".into())],
            vec![Endpoint::Host("lb2".into())],
        ),
    };
    let sim = run(
        &c,
        Scenario::new("lease: store cut, member split, store down", ms(26_000))
            .at(ms(3000), store_cut(true))
            .at(ms(3000), iso)
            .at(ms(9000), store_cut(false))
            .at(ms(9000), Fault::Heal { id: "iso".into() })
            .at(ms(11_000), split)
            .at(ms(16_000), Fault::Heal { id: "split".into() })
            .at(ms(18_000), Fault::StoreDown { down: true })
            .at(ms(23_000), Fault::StoreDown { down: false }),
        11,
    );
    let r = sim.record();
    assert!(r.defended(DefenceKind::LeaseLost, Some("www")));
    // lb1 held the lease first (priority order) and was master.
    let (first, _) = became_master(&sim, "lb1", "www", at(ms(0))).expect("lb1 master");
    assert!(first < at(ms(3000)));
    // Cut from the store and from lb2 (lb2 hears no master): lb1 resigns a
    // sixth of the TTL before the store can free the key; lb2 takes over
    // only after acquiring it.
    let resign = r
        .transitions_of("www")
        .find(|t| t.host == "lb1" && t.reason == "Resigned" && t.at >= at(ms(3000)))
        .expect("lb1 resigns");
    let (takeover, reason) =
        became_master(&sim, "lb2", "www", at(ms(3000))).expect("lb2 takes over");
    assert!(
        resign.at <= at(ms(3000 + 3000)),
        "resigned at {:?}",
        resign.at
    );
    assert!(
        resign.at < takeover,
        "resigned {:?}, taken over {takeover:?}",
        resign.at
    );
    assert_eq!(reason, "VetoLifted", "lb2 waited for the key");
    // Healing the store cut, splitting the members: nothing moves.
    assert!(
        became_master(&sim, "lb1", "www", at(ms(9000))).is_none_or(|(t, _)| t >= at(ms(18_000)))
    );
    // The store down: nobody is master until it is back, then exactly one.
    let down: Vec<_> = r
        .transitions_of("www")
        .filter(|t| t.at >= at(ms(18_000)) && t.at < at(ms(23_000)))
        .map(|t| (t.host.clone(), t.to.clone()))
        .collect();
    assert_eq!(
        down,
        vec![("lb2".to_string(), "backup".to_string())],
        "{down:?}"
    );
    let up: Vec<_> = r
        .transitions_of("www")
        .filter(|t| t.at >= at(ms(23_000)) && t.to == "master")
        .collect();
    assert_eq!(up.len(), 1, "exactly one master after the store is back");
    assert_eq!(overlaps(&sim, vip), vec![], "never held twice");
    assert_eq!(sim.masters("www").len(), 1);
}

#[test]
fn isolated_master_releases_before_the_backup_takes_over_and_preempts_back_after() {
    let c = pair();
    let (cut, heal) = (ms(2000), ms(4000));
    let sim = run(
        &c,
        Scenario::new("lb1's switch port dies", ms(6000))
            .at(
                cut,
                Fault::Cut {
                    id: "port".into(),
                    cut: Cut::between(Some("front"), vec![Endpoint::Host("lb1".into())], vec![]),
                },
            )
            .at(heal, Fault::Heal { id: "port".into() }),
        5,
    );
    let r = sim.record();
    let vip = c.vip("www");
    assert!(r.defended(DefenceKind::Isolation, Some("www")));
    let release = r
        .transitions_of("www")
        .find(|t| t.host == "lb1" && t.to == "fault")
        .expect("lb1 releases");
    let (takeover, _) = became_master(&sim, "lb2", "www", at(cut)).expect("lb2 takes over");
    assert!(
        release.at < takeover,
        "released at {:?}, taken at {takeover:?}",
        release.at
    );
    assert_eq!(overlaps(&sim, vip), vec![], "never held twice");
    assert!(became_master(&sim, "lb1", "www", at(heal)).is_some());
    assert_eq!(sim.masters("www"), vec!["lb1"]);
}

#[test]
fn split_between_members_heartbeat_path_keeps_one_master_without_it_both_claim() {
    let mut www = Router::new("www", "front", 51, &[("lb1", 150), ("lb2", 100)]);
    www.heartbeat = vec!["hb".into()];
    let with_path = Cluster::default()
        .segment("front", 20, true)
        .segment("hb", 21, false)
        .host("lb1", &["front", "hb"])
        .host("lb2", &["front", "hb"])
        .router(www);
    let split = Fault::Cut {
        id: "split".into(),
        cut: Cut::between(
            Some("front"),
            vec![Endpoint::Host("lb1".into())],
            vec![Endpoint::Host("lb2".into())],
        ),
    };
    let scenario = || {
        Scenario::new("members split, both reach the gateway", ms(5000))
            .at(ms(2000), split.clone())
            .at(ms(4000), Fault::Heal { id: "split".into() })
    };
    let sim = run(&with_path, scenario(), 6);
    assert!(became_master(&sim, "lb2", "www", at(ms(1000))).is_none());
    assert!(
        sim.record()
            .double_holders(with_path.vip("www"), sim.now())
            .is_empty()
    );

    // The same without the path: arbitration cannot tell (both reach the
    // gateway), both claim the VIP; the invariant accepts it (documented),
    // and healing ends it.
    let sim = run(&pair(), scenario(), 6);
    let doubles = sim.record().double_holders(pair().vip("www"), sim.now());
    assert_eq!(doubles.len(), 1, "{doubles:?}");
    assert!(doubles[0].from > at(ms(2000)) && doubles[0].to > at(ms(4000)));
    assert!(doubles[0].to <= at(ms(4000) + ms(110)), "{:?}", doubles[0]);
    assert_eq!(sim.masters("www"), vec!["lb1"]);

    // With a required fence, the backup fences the master it cannot hear:
    // a power-off, then a takeover with the veto lifted; never two holders.
    let mut fenced = Router::new("www", "front", 51, &[("lb1", 150), ("lb2", 100)]);
    fenced.arbitration = Some(Arb {
        fence: Some(fence(true)),
        ..Arb::fast()
    });
    let c = Cluster::default()
        .segment("front", 20, true)
        .host("lb1", &["front"])
        .host("lb2", &["front"])
        .router(fenced);
    // lb2 boots a second after lb1 (booting together, both would fence).
    let mut s = scenario();
    s.start_gap = ms(1000);
    let sim = run(&c, s, 6);
    let r = sim.record();
    assert!(r.defended(DefenceKind::Fence, Some("www")));
    let (_, reason) = became_master(&sim, "lb2", "www", at(ms(2000))).unwrap();
    assert_eq!(reason, "VetoLifted");
    assert!(
        r.faults
            .iter()
            .any(|f| f.description.contains("powers off lb1"))
    );
    assert!(r.double_holders(c.vip("www"), sim.now()).is_empty());
}

#[test]
fn required_fence_failing_keeps_the_backup_from_a_hung_master() {
    let mut fenced = Router::new("www", "front", 51, &[("lb1", 150), ("lb2", 100)]);
    fenced.arbitration = Some(Arb {
        fence: Some(fence(true)),
        ..Arb::fast()
    });
    let c = Cluster::default()
        .segment("front", 20, true)
        .host("lb1", &["front"])
        .host("lb2", &["front"])
        .router(fenced);
    let sim = run(
        &c,
        Scenario::new("lb1 hangs, the fence fails", ms(4000))
            .at(
                ms(0),
                Fault::FenceFails {
                    host: "lb2".into(),
                    fails: true,
                },
            )
            .at(ms(2000), Fault::Crash { host: "lb1".into() }),
        7,
    );
    let r = sim.record();
    assert!(r.defended(DefenceKind::FenceFailed, Some("www")));
    assert!(r.defended(DefenceKind::MasterVetoed, Some("www")));
    assert!(became_master(&sim, "lb2", "www", at(ms(1000))).is_none());
    // The hung master's kernel still holds the VIP; nobody else does.
    assert_eq!(sim.holders(c.vip("www")), vec!["lb1"]);
}

#[test]
fn crashed_master_leaves_its_vip_and_the_restart_removes_it() {
    let c = pair();
    let (crash, restart) = (ms(2000), ms(3000));
    let sim = run(
        &c,
        Scenario::new("vigild on lb1 is killed and restarted", ms(5000))
            .at(crash, Fault::Crash { host: "lb1".into() })
            .at(restart, Fault::Restart { host: "lb1".into() }),
        8,
    );
    let vip = c.vip("www");
    let r = sim.record();
    // A crash cannot clean up: both kernels carry the VIP until the restart.
    let doubles = overlaps(&sim, vip);
    assert_eq!(doubles.len(), 1, "{doubles:?}");
    assert_eq!(doubles[0].to, at(restart), "the restart removes it at once");
    assert!(r.defended(DefenceKind::StaleAddressRemoved, None));
    assert!(became_master(&sim, "lb1", "www", at(restart)).is_some());
    assert_eq!(sim.holders(vip), vec!["lb1"]);
}

#[test]
fn reload_in_place_never_moves_the_vip() {
    let c = pair();
    let mut changed = c.plan("lb1");
    changed.topology_hash.push_str("-v2");
    for r in &mut changed.routers {
        r.notify.timeout_ms = 6000;
        r.garp.repeat = 4;
        r.priority = 140;
        r.preempt_delay_ms = 50;
    }
    let mut backup = c.plan("lb2");
    backup.topology_hash.push_str("-v2");
    backup.routers[0].notify.timeout_ms = 6000;
    let sim = run(
        &c,
        Scenario::new("SIGHUP with small changes", ms(4000))
            .at(
                ms(2000),
                Fault::Reload {
                    host: "lb1".into(),
                    plan: Box::new(changed),
                },
            )
            .at(
                ms(2500),
                Fault::Reload {
                    host: "lb2".into(),
                    plan: Box::new(backup),
                },
            ),
        9,
    );
    let r = sim.record();
    let vip = c.vip("www");
    let changes: Vec<_> = r.holders.iter().filter(|h| h.vip == vip).collect();
    assert_eq!(
        changes.len(),
        2,
        "nobody, then lb1, and nothing else: {changes:?}"
    );
    assert!(
        r.transitions.iter().all(|t| t.at < at(ms(1000))),
        "no state change after the election: {:?}",
        r.transitions
    );
    let node = sim.node("lb1").unwrap();
    let doc = node.status_document(sim.now());
    assert_eq!(doc["routers"][0]["priority"]["advertised"], 140);
}

#[test]
fn reloading_a_demoted_master_does_not_flash_its_configured_priority() {
    // lb1's check fails at 1 s: after `fall` runs it advertises
    // 150 - 60 = 90 and lb2 (100) must preempt within a master-down
    // interval, even while SIGHUPs keep reloading lb1 in place.
    let mut c = pair();
    c.routers[0].trackers = vec![cmd_tracker("app", PlanOnFail::Demote { weight: 60 })];
    let mut s = Scenario::new("SIGHUPs on a demoted master", ms(4000)).at(
        ms(1000),
        Fault::TrackerFails {
            host: "lb1".into(),
            tracker: "app".into(),
            fails: true,
        },
    );
    for i in 0..10u64 {
        let mut plan = c.plan("lb1");
        plan.topology_hash.push_str(&format!("-{i}"));
        plan.routers[0].notify.timeout_ms += 100 * (i % 2 + 1);
        s = s.at(
            ms(1300 + 150 * i),
            Fault::Reload {
                host: "lb1".into(),
                plan: Box::new(plan),
            },
        );
    }
    let sim = run(&c, s, 15);
    let demoted = sim
        .record()
        .defences
        .iter()
        .find(|d| d.kind == DefenceKind::Tracker && d.host == "lb1")
        .map(|d| d.at)
        .expect("the tracker went down");
    let (t, _) = became_master(&sim, "lb2", "www", demoted).expect("lb2 preempts");
    let bound = master_down_interval(100, adv(10)) + adv_duration(10) + ms(2);
    assert!(
        t.saturating_since(demoted) <= bound,
        "lb2 preempted {:?} after the demotion (bound {bound:?})",
        t.saturating_since(demoted)
    );
}

fn adv_duration(cs: u64) -> Duration {
    Duration::from_millis(cs * 10)
}

#[test]
fn interface_deleted_and_recreated_leaves_fault_within_one_advert_interval() {
    // With arbitration, the lost link also made the reference IP
    // unreachable long enough to isolate lb1: that must not hold it in
    // FAULT beyond one advert interval of the new link either.
    let mut plain = pair();
    plain.routers[0].arbitration = None;
    for (what, c) in [("without arbitration", plain), ("with arbitration", pair())] {
        let (del, create) = (ms(2000), ms(3000));
        let sim = run(
            &c,
            Scenario::new("lb1's eth0 is deleted and re-created", ms(5000))
                .at(
                    del,
                    Fault::LinkDelete {
                        host: "lb1".into(),
                        interface: "eth0".into(),
                    },
                )
                .at(
                    create,
                    Fault::LinkCreate {
                        host: "lb1".into(),
                        interface: "eth0".into(),
                    },
                ),
            10,
        );
        let r = sim.record();
        assert!(
            became_master(&sim, "lb2", "www", at(del)).is_some(),
            "{what}"
        );
        let leave = r
            .transitions_of("www")
            .find(|t| t.host == "lb1" && t.from == "fault" && t.at >= at(create))
            .expect("lb1 leaves FAULT");
        assert!(
            leave.at <= at(create + ms(100)),
            "{what}: left FAULT {:?} after the new link",
            leave.at.saturating_since(at(create))
        );
        assert!(
            became_master(&sim, "lb1", "www", at(create)).is_some(),
            "{what}"
        );
        assert_eq!(sim.masters("www"), vec!["lb1"], "{what}");
        let ifindex = sim.kernel("lb1").unwrap().links["eth0"].ifindex;
        assert_ne!(ifindex, 2, "a new ifindex");
    }
}

#[test]
fn gateway_unreachable_from_the_master_moves_the_vip_to_the_side_that_reaches_it() {
    let c = pair();
    let gw = c.reference("front");
    let sim = run(
        &c,
        Scenario::new("lb1 cannot reach the gateway", ms(4000)).at(
            ms(2000),
            Fault::Cut {
                id: "gw".into(),
                cut: Cut::between(
                    Some("front"),
                    vec![Endpoint::Host("lb1".into())],
                    vec![Endpoint::Reference(gw)],
                ),
            },
        ),
        11,
    );
    let r = sim.record();
    assert!(r.defended(DefenceKind::Isolation, Some("www")));
    assert!(r.defended(DefenceKind::PriorityZero, Some("www")));
    assert_eq!(sim.state("lb1", "www"), Some(State::Fault));
    assert_eq!(sim.masters("www"), vec!["lb2"]);
    assert!(r.double_holders(c.vip("www"), sim.now()).is_empty());
}

#[test]
fn the_virtual_service_follows_the_master_and_a_dead_real_server_is_inhibited() {
    let c = Cluster {
        virtual_servers: vec!["www".into()],
        ..pair()
    };
    let dead = c.addr("front", 201);
    let mut sim = Sim::new(
        c.topology(),
        Scenario::new("lb1 dies, a real server too", ms(6000))
            .at(
                ms(1500),
                Fault::RealServerDown {
                    address: dead,
                    down: true,
                },
            )
            .at(ms(2000), Fault::PowerOff { host: "lb1".into() })
            .at(ms(4000), Fault::Restart { host: "lb1".into() }),
        14,
    )
    .unwrap();
    let services = |sim: &Sim, host: &str| sim.kernel(host).unwrap().ipvs.clone();
    let weight = |sim: &Sim, host: &str| {
        services(sim, host).first().and_then(|s| {
            s.dests
                .iter()
                .find(|d| d.key.addr == dead)
                .map(|d| d.weight)
        })
    };
    sim.run_until(at(ms(1400))).unwrap();
    assert_eq!(services(&sim, "lb1").len(), 1, "on the master");
    assert!(services(&sim, "lb2").is_empty(), "not on the backup");
    assert_eq!(weight(&sim, "lb1"), Some(1));
    sim.run_until(at(ms(1900))).unwrap();
    assert_eq!(
        weight(&sim, "lb1"),
        Some(0),
        "inhibited after `fall` failed checks"
    );
    sim.run_until(at(ms(3000))).unwrap();
    assert_eq!(services(&sim, "lb2").len(), 1, "moved with the VIP");
    sim.run().unwrap();
    assert_eq!(sim.masters("www"), vec!["lb1"]);
    assert_eq!(services(&sim, "lb1").len(), 1);
    assert!(
        services(&sim, "lb2").is_empty(),
        "gone when lb2 stepped down"
    );
}

#[test]
fn the_checker_reports_a_dual_master_that_hears_itself() {
    // Members that disagree on the VIP list discard each other's adverts
    // (RFC 5798 §7.1): both stay master while hearing each other. The
    // simulation must say so, with the seed and a trace.
    let c = pair();
    let mut topo = c.topology();
    topo.hosts[1].plan.routers[0].vips[0].address = "10.20.0.152".parse().unwrap();
    let mut sim = Sim::new(topo, Scenario::new("mismatched VIPs", ms(3000)), 12).unwrap();
    let failure = sim.run().expect_err("a dual master is reported");
    assert_eq!(failure.violation.invariant, Invariant::SingleMaster);
    assert_eq!(failure.seed, 12);
    let text = failure.to_string();
    assert!(
        text.contains("seed 12") && text.contains("hear each other"),
        "{text}"
    );
    assert!(
        text.contains("advert on eth0"),
        "the trace shows the adverts: {text}"
    );
}

#[test]
fn same_seed_same_run() {
    let topo = sweep_clusters()[1].1.topology();
    let runs: Vec<String> = (0..2)
        .map(|_| {
            let s = random_scenario(77, &topo, &ScheduleOptions::default());
            let mut sim = Sim::new(topo.clone(), s, 77).unwrap();
            sim.set_trace_len(100_000);
            let _ = sim.run();
            format!("{}{:?}", sim.trace(), sim.record().transitions)
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].lines().count() > 100);
}

// --- the seeded sweep ---------------------------------------------------------

/// The clusters the sweep cycles through: every defence and feature the
/// node has, each in a small cluster.
fn sweep_clusters() -> Vec<(&'static str, Cluster)> {
    let mut fenced = Router::new("db", "front", 60, &[("lb1", 150), ("lb2", 100)]);
    fenced.arbitration = Some(Arb {
        fence: Some(fence(true)),
        ..Arb::fast()
    });
    let mut soft_fence = Router::new("cache", "front", 61, &[("lb1", 150), ("lb2", 100)]);
    soft_fence.arbitration = Some(Arb {
        fence: Some(fence(false)),
        ..Arb::fast()
    });
    let mut edge = Router::new("edge", "front", 10, &[("lb1", 200), ("lb2", 100)]);
    edge.sync_group = Some("lb".into());
    let mut gw = Router::new("gw", "back", 20, &[("lb1", 200), ("lb2", 100)]);
    gw.sync_group = Some("lb".into());
    gw.trackers = vec![cmd_tracker("conntrackd", PlanOnFail::Fault)];
    let mut api = Router::new(
        "api",
        "app",
        30,
        &[("app1", 150), ("app2", 120), ("app3", 100)],
    );
    api.unicast = true;
    api.heartbeat = vec!["hb".into()];
    api.trackers = vec![cmd_tracker("api-health", PlanOnFail::Demote { weight: 60 })];
    let mut owned = Router::new("owned", "front", 70, &[("lb1", 255), ("lb2", 100)]);
    owned.arbitration = None;
    owned.preempt_delay_ms = 200;
    let mut leased = Router::new("leased", "front", 80, &[("lb1", 150), ("lb2", 100)]);
    leased.lease_ttl_ms = Some(2000);
    let mut lazy = Router::new("lazy", "front", 71, &[("lb1", 150), ("lb2", 100)]);
    lazy.preempt = false;
    lazy.advert_interval_cs = 5;
    vec![
        (
            "pair-with-ipvs",
            Cluster {
                virtual_servers: vec!["www".into()],
                ..pair()
            },
        ),
        (
            "sync-group",
            Cluster::default()
                .segment("front", 10, true)
                .segment("back", 11, true)
                .host("lb1", &["front", "back"])
                .host("lb2", &["front", "back"])
                .router(edge)
                .router(gw),
        ),
        (
            "unicast-three-heartbeat",
            Cluster::default()
                .segment("app", 30, true)
                .segment("hb", 31, false)
                .host("app1", &["app", "hb"])
                .host("app2", &["app", "hb"])
                .host("app3", &["app", "hb"])
                .router(api),
        ),
        (
            "fences",
            Cluster::default()
                .segment("front", 40, true)
                .host("lb1", &["front"])
                .host("lb2", &["front"])
                .router(fenced)
                .router(soft_fence),
        ),
        (
            "lease-and-reference-ips",
            Cluster::default()
                .segment("front", 60, true)
                .host("lb1", &["front"])
                .host("lb2", &["front"])
                .router(leased),
        ),
        (
            "owner-no-arbitration",
            Cluster {
                startup_delay_ms: 200,
                ..Cluster::default()
                    .segment("front", 50, true)
                    .host("lb1", &["front"])
                    .host("lb2", &["front"])
                    .router(owned)
                    .router(lazy)
            },
        ),
    ]
}

/// What one schedule exercised.
#[derive(Default)]
struct Coverage {
    steps: u64,
    /// Schedules in which a member other than the first master took over.
    takeovers: u64,
    /// Schedules in which each defence acted.
    defences: BTreeMap<DefenceKind, u64>,
}

impl Coverage {
    fn add(&mut self, other: Coverage) {
        self.steps += other.steps;
        self.takeovers += other.takeovers;
        for (k, n) in other.defences {
            *self.defences.entry(k).or_default() += n;
        }
    }
}

/// The schedules' shape; `VIGIL_SIM_MAX_FAULTS` allows more faults per
/// schedule (exploration beyond CI's default of 3).
fn sweep_options() -> ScheduleOptions {
    let mut o = ScheduleOptions::default();
    if let Some(n) = std::env::var("VIGIL_SIM_MAX_FAULTS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        o.max_faults = n;
        o.fault_window = o.fault_window * u32::try_from(n).unwrap_or(1).max(3) / 3;
    }
    o
}

/// Runs one seed of the sweep: `Err` carries the failure, printed.
fn sweep_one(
    seed: u64,
    clusters: &[(&str, vigild::sim::SimTopology)],
    trace: usize,
) -> Result<Coverage, String> {
    let (name, topo) = &clusters[(seed % clusters.len() as u64) as usize];
    let scenario = random_scenario(seed, topo, &sweep_options());
    let mut sim = Sim::new(topo.clone(), scenario.clone(), seed).map_err(|e| e.to_string())?;
    // Fast first; a failure is replayed (same seed, same run) with a trace.
    sim.set_trace_len(0);
    if sim.run().is_ok() {
        let r = sim.record();
        let mut masters = r.transitions.iter().filter(|t| t.to == "master");
        let first = masters.next().map(|t| t.host.clone());
        let mut c = Coverage {
            steps: sim.steps(),
            takeovers: u64::from(masters.any(|t| Some(&t.host) != first.as_ref())),
            ..Coverage::default()
        };
        for d in &r.defences {
            c.defences.insert(d.kind, 1);
        }
        return Ok(c);
    }
    let mut sim = Sim::new(topo.clone(), scenario, seed).map_err(|e| e.to_string())?;
    sim.set_trace_len(trace);
    match sim.run() {
        Ok(()) => Err(format!(
            "cluster `{name}`: seed {seed} failed once and passed on replay: the run is not deterministic"
        )),
        Err(f) => Err(format!("cluster `{name}`: {f}")),
    }
}

#[test]
fn sweep_of_seeded_fault_schedules_keeps_every_invariant() {
    let clusters: Vec<(&str, vigild::sim::SimTopology)> = sweep_clusters()
        .iter()
        .map(|(n, c)| (*n, c.topology()))
        .collect();
    if let Ok(seed) = std::env::var("VIGIL_SIM_SEED") {
        let seed: u64 = seed.parse().expect("VIGIL_SIM_SEED is a number");
        let (name, topo) = &clusters[(seed % clusters.len() as u64) as usize];
        let scenario = random_scenario(seed, topo, &sweep_options());
        println!("cluster `{name}`, schedule:");
        for e in scenario.sorted_events() {
            println!("  {:>8?} {}", e.at, e.fault.describe());
        }
        if let Err(f) = sweep_one(seed, &clusters, 5000) {
            panic!("{f}");
        }
        return;
    }
    let first: u64 = std::env::var("VIGIL_SIM_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let count: u64 = std::env::var("VIGIL_SIM_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let started = WallClock::now();
    let threads = 2u64;
    let results: Vec<(Coverage, Vec<(u64, String)>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let clusters = &clusters;
                scope.spawn(move || {
                    let mut coverage = Coverage::default();
                    let mut failures = Vec::new();
                    for seed in (first + t..first + count).step_by(threads as usize) {
                        match sweep_one(seed, clusters, 300) {
                            Ok(c) => coverage.add(c),
                            Err(f) => failures.push((seed, f)),
                        }
                    }
                    (coverage, failures)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sweep thread"))
            .collect()
    });
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    for (c, f) in results {
        coverage.add(c);
        failures.extend(f);
    }
    failures.sort_by_key(|f| f.0);
    println!(
        "{count} schedules, {} steps in {:.1?} ({} failed); {} with a takeover; defences (schedules): {:?}",
        coverage.steps,
        started.elapsed(),
        failures.len(),
        coverage.takeovers,
        coverage.defences
    );
    if let Some((seed, first)) = failures.first() {
        let seeds: Vec<String> = failures.iter().take(30).map(|f| f.0.to_string()).collect();
        panic!(
            "{} of {count} schedules broke an invariant (seeds {}{}).\n\
             Replay one: VIGIL_SIM_SEED={seed} cargo test -p vigild --test sim_cluster sweep -- --nocapture\n\n{first}",
            failures.len(),
            seeds.join(", "),
            if failures.len() > 30 { ", ..." } else { "" }
        );
    }
    // The schedules must exercise what the invariants guard: each defence
    // in at least one schedule in 500.
    if count >= 1000 {
        assert!(coverage.takeovers * 4 >= count, "too few takeovers");
        for kind in [
            DefenceKind::MasterVetoed,
            DefenceKind::Isolation,
            DefenceKind::Fence,
            DefenceKind::FenceFailed,
            DefenceKind::PriorityZero,
            DefenceKind::SyncGroup,
            DefenceKind::Tracker,
            DefenceKind::Link,
            DefenceKind::StaleAddressRemoved,
        ] {
            assert!(
                coverage
                    .defences
                    .get(&kind)
                    .is_some_and(|n| *n * 500 >= count),
                "{kind:?} acted in too few schedules: {:?}",
                coverage.defences
            );
        }
    }
}

#[test]
fn a_vip_added_while_stepping_down_is_removed_when_the_kernel_answers() {
    // lb2 stops hearing lb1 for a moment and takes over; kernel answers
    // take 300 ms here, and lb1's next advert (one interval after the cut
    // heals) makes lb2 step down before the kernel has answered its add.
    let c = pair();
    let mut scenario = Scenario::new("late kernel answers", ms(3000))
        .at(
            ms(1000),
            Fault::Cut {
                id: "blip".into(),
                cut: Cut::between(
                    Some("front"),
                    vec![Endpoint::Host("lb1".into())],
                    vec![Endpoint::Host("lb2".into())],
                ),
            },
        )
        .at(ms(1400), Fault::Heal { id: "blip".into() });
    scenario.timing.answer_delay = (ms(300), ms(300));
    let mut sim = Sim::new(c.topology(), scenario, 3).unwrap();
    let result = sim.run();
    let vip = c.vip("www");
    let (took, _) = became_master(&sim, "lb2", "www", at(ms(1000))).expect("lb2 took over");
    let left = sim
        .record()
        .transitions_of("www")
        .find(|t| t.host == "lb2" && t.from == "master" && t.at > took)
        .expect("lb2 stepped down")
        .at;
    assert!(
        left < took + ms(300),
        "the scenario must exercise the window: took {took:?}, left {left:?}"
    );
    assert_eq!(sim.state("lb2", "www"), Some(State::Backup));
    assert_eq!(
        sim.holders(vip),
        vec!["lb1"],
        "the backup keeps a VIP it added: {}",
        result.err().map(|f| f.to_string()).unwrap_or_default()
    );
    assert!(sim.ledger("lb2").is_some_and(|l| l.addresses.is_empty()));
}

#[test]
fn crash_between_add_and_ledger_write() {
    // Kernel answers take 5 ms: kill lb1's daemon 1 ms after it took over,
    // while its VIP is in the kernel but not yet in its ledger.
    let c = pair();
    let mut probe = Scenario::new("election", ms(1000));
    probe.timing.answer_delay = (ms(5), ms(5));
    let sim = run(&c, probe.clone(), 13);
    let (t, _) = became_master(&sim, "lb1", "www", Instant::ZERO).unwrap();
    let crash = Duration::from_micros(t.as_micros()) + ms(1);
    let mut s = probe
        .at(crash, Fault::Crash { host: "lb1".into() })
        .at(ms(1500), Fault::Restart { host: "lb1".into() });
    s.name = "killed between add and ledger".into();
    s.duration = ms(2500);
    let mut sim = Sim::new(c.topology(), s, 13).unwrap();
    // Right after the restart lb1 is a backup (it preempts later).
    let _ = sim.run_until(at(ms(1600)));
    // The ledger recorded the add before it was made: the restart finds
    // proof and removes the VIP instead of leaving it as not its own.
    assert!(
        !sim.record()
            .defended(DefenceKind::ForeignAddressLeft, Some("www")),
        "the restart treated its own VIP as foreign"
    );
    assert_eq!(sim.state("lb1", "www"), Some(State::Backup));
    assert_eq!(
        sim.holders(c.vip("www")),
        vec!["lb2"],
        "only the master holds it"
    );
}
