//! Whole clusters of `vigild` nodes in the deterministic simulation
//! (`vigild::sim`): scripted failover scenarios with their RFC bounds, and
//! a seeded sweep of random fault schedules checked against the
//! simulation's invariants.
//!
//! Replay one seed of the sweep with its full trace:
//! `VIGIL_SIM_SEED=1234 cargo test -p vigild --test sim_cluster sweep -- --nocapture`;
//! `VIGIL_SIM_SCHEDULES=N` changes the number of schedules.

#[path = "sim_cluster/cluster.rs"]
mod cluster;

use std::net::IpAddr;
use std::time::{Duration, Instant as WallClock};

use cluster::{Arb, Cluster, Router, cmd_tracker, fence, ms};
use vigil_schema::plan::PlanOnFail;
use vigild::sim::{DefenceKind, Fault, Scenario, ScheduleOptions, Sim, random_scenario};
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
    let mut lazy = Router::new("lazy", "front", 71, &[("lb1", 150), ("lb2", 100)]);
    lazy.preempt = false;
    lazy.advert_interval_cs = 5;
    vec![
        ("pair", pair()),
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

/// Runs one seed of the sweep: `Err` carries the failure, printed.
fn sweep_one(
    seed: u64,
    clusters: &[(&str, vigild::sim::SimTopology)],
    trace: usize,
) -> Result<u64, String> {
    let (name, topo) = &clusters[(seed % clusters.len() as u64) as usize];
    let opts = ScheduleOptions::default();
    let scenario = random_scenario(seed, topo, &opts);
    let mut sim = Sim::new(topo.clone(), scenario, seed).map_err(|e| e.to_string())?;
    sim.set_trace_len(trace);
    match sim.run() {
        Ok(()) => Ok(sim.steps()),
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
        let scenario = random_scenario(seed, topo, &ScheduleOptions::default());
        println!("cluster `{name}`, schedule:");
        for e in scenario.sorted_events() {
            println!("  {:>8?} {}", e.at, e.fault.describe());
        }
        if let Err(f) = sweep_one(seed, &clusters, 5000) {
            panic!("{f}");
        }
        return;
    }
    let count: u64 = std::env::var("VIGIL_SIM_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let started = WallClock::now();
    let threads = 2u64;
    let results: Vec<(u64, Vec<(u64, String)>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let clusters = &clusters;
                scope.spawn(move || {
                    let mut steps = 0;
                    let mut failures = Vec::new();
                    for seed in (t..count).step_by(threads as usize) {
                        match sweep_one(seed, clusters, 300) {
                            Ok(s) => steps += s,
                            Err(f) => failures.push((seed, f)),
                        }
                    }
                    (steps, failures)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sweep thread"))
            .collect()
    });
    let steps: u64 = results.iter().map(|r| r.0).sum();
    let mut failures: Vec<(u64, String)> = results.into_iter().flat_map(|r| r.1).collect();
    failures.sort_by_key(|f| f.0);
    println!(
        "{count} schedules, {steps} steps in {:.1?} ({} failed)",
        started.elapsed(),
        failures.len()
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
}

#[test]
fn a_vip_added_while_stepping_down_is_removed_when_the_kernel_answers() {
    // The startup delay outlasts the master-down interval: both members
    // take over at its end, and lb2 hears lb1's higher priority before the
    // kernel has answered lb2's address add (answers take 5 ms here).
    let c = Cluster {
        startup_delay_ms: 500,
        ..pair()
    };
    let mut scenario = Scenario::new("late kernel answers", ms(1500));
    scenario.timing.answer_delay = (ms(5), ms(5));
    let mut sim = Sim::new(c.topology(), scenario, 3).unwrap();
    let result = sim.run();
    let vip = c.vip("www");
    assert_eq!(sim.state("lb2", "www"), Some(State::Backup));
    assert_eq!(
        sim.holders(vip),
        vec!["lb1"],
        "the backup keeps a VIP it added: {}",
        result.err().map(|f| f.to_string()).unwrap_or_default()
    );
    let lb2_took_it = sim
        .record()
        .holders
        .iter()
        .any(|c| c.holders.contains(&"lb2".to_string()));
    assert!(lb2_took_it, "the scenario must exercise the window");
    assert!(sim.ledger("lb2").is_some_and(|l| l.addresses.is_empty()));
}
