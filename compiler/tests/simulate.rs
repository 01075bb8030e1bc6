//! `vigil simulate` on the example scenarios: exit status, verdict and the
//! timeline's content (JSON), plus command-line faults and usage errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn path(rel: &str) -> String {
    root().join(rel).display().to_string()
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run vigil")
}

fn status(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// Runs a scenario with `--format json`; returns the exit status and report.
fn json(args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = vigil(&all);
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (status(&out), report)
}

fn router<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["routers"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no router {name} in {report}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The hosts holding the router's first VIP at `t` seconds.
fn holders_at(r: &Value, t: f64) -> Vec<String> {
    r["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| f(&s["from_s"]) <= t && t < f(&s["to_s"]))
        .map(|s| {
            s["holders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn master_down(r: &Value, host: &str) -> f64 {
    r["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["host"] == host)
        .map(|m| f(&m["master_down_s"]))
        .unwrap()
}

fn defences(r: &Value, host: &str) -> Vec<String> {
    r["defences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["host"] == host)
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lb1_dies_lb2_takes_the_whole_sync_group_within_the_bound() {
    let (code, r) = json(&[
        "simulate",
        "--scenario",
        &path("examples/scenarios/lb1-dies.toml"),
    ]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"]["ok"], true);
    assert_eq!(r["scenario"], "what if lb1 dies");
    for name in ["edge-v4", "edge-v6", "app-gw"] {
        let router = router(&r, name);
        assert_eq!(holders_at(router, 29.0), vec!["lb1"], "{name}");
        assert_eq!(holders_at(router, 59.0), vec!["lb2"], "{name}");
        assert_eq!(
            router["double_holders"].as_array().unwrap().len(),
            0,
            "{name}"
        );
        let outage = &router["longest_outage"];
        assert_eq!(
            f(&outage["from_s"]),
            30.0,
            "{name}: the VIPs go with lb1's power"
        );
        let len = f(&outage["to_s"]) - f(&outage["from_s"]);
        // Not before lb2's master-down interval after lb1's last advert
        // (sent at most one interval before the power loss), within the bound.
        let md = master_down(router, "lb2");
        let adv = f(&router["advert_interval_s"]);
        assert!(len >= md - adv && len <= 6.0, "{name}: outage {len}");
    }
    // edge-v4 waits for its fence (1 s in the scenario) after master-down.
    let edge = router(&r, "edge-v4");
    let len = f(&edge["longest_outage"]["to_s"]) - f(&edge["longest_outage"]["from_s"]);
    let app = router(&r, "app-gw");
    let app_len = f(&app["longest_outage"]["to_s"]) - f(&app["longest_outage"]["from_s"]);
    assert!(
        (len - app_len - 1.0).abs() < 0.01,
        "fence: {len} vs {app_len}"
    );
    let d = defences(edge, "lb2");
    assert!(
        d.contains(&"master_vetoed".to_string()) && d.contains(&"fence".to_string()),
        "{d:?}"
    );
    let states = edge["states"].as_array().unwrap();
    let takeover = states
        .iter()
        .find(|s| s["host"] == "lb2" && s["to"] == "master")
        .unwrap();
    assert_eq!(takeover["reason"], "VetoLifted");
    // The rest of the pod did not notice.
    for name in ["api", "cache", "db-primary", "nfs"] {
        let other = router(&r, name);
        assert!(
            other["states"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| f(&s["at_s"]) < 10.0),
            "{name}"
        );
    }
}

#[test]
fn heartbeat_cut_then_app_split_ends_in_a_double_holder() {
    let (code, r) = json(&[
        "simulate",
        "--scenario",
        &path("examples/scenarios/heartbeat-cut.toml"),
    ]);
    assert_eq!(code, 1, "a double holder fails the verdict: {r:#}");
    let db = router(&r, "db-primary");
    // The cut heartbeat link alone moves nothing.
    assert_eq!(holders_at(db, 29.9), vec!["db1"]);
    let doubles = db["double_holders"].as_array().unwrap();
    assert_eq!(doubles.len(), 1, "{doubles:?}");
    let from = f(&doubles[0]["from_s"]);
    let md = master_down(db, "db2");
    assert!(
        from > 30.0 + md - 1.0 && from <= 30.0 + md,
        "db2 takes over at master-down: {from}"
    );
    // The app VLAN heals at 40 s: the next advert either way ends it.
    let to = f(&doubles[0]["to_s"]);
    let adv = f(&db["advert_interval_s"]);
    assert!(to >= 40.0 && to <= 40.0 + adv + 0.01, "ends {to}");
    assert_eq!(holders_at(db, 50.0), vec!["db1"]);
    let problems = r["verdict"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .contains("db1 and db2 held 10.10.1.40/24")
    );
}

#[test]
fn gateway_unreachable_from_web1_moves_the_vip_and_it_comes_back_after_the_preempt_delay() {
    let (code, r) = json(&[
        "simulate",
        "--scenario",
        &path("examples/scenarios/gateway-one-side.toml"),
    ]);
    assert_eq!(code, 0, "{r:#}");
    let www = router(&r, "www");
    let d = defences(www, "web1");
    assert!(
        d.contains(&"isolation".to_string()) && d.contains(&"priority_zero".to_string()),
        "{d:?}"
    );
    // web1 resigns with priority 0: web2 waits only its skew time.
    let outage = &www["longest_outage"];
    let len = f(&outage["to_s"]) - f(&outage["from_s"]);
    let skew = www["members"][1]["skew_s"].as_f64().unwrap();
    assert!(len <= skew + 0.01, "outage {len}, skew {skew}");
    assert_eq!(holders_at(www, 50.0), vec!["web2"]);
    // Healed at 60 s; web1 preempts after its 10 s preempt delay.
    let back = www["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["host"] == "web1" && s["to"] == "master" && f(&s["at_s"]) > 60.0)
        .expect("web1 takes the VIP back");
    assert!(f(&back["at_s"]) >= 70.0, "{back}");
    assert_eq!(holders_at(www, 89.0), vec!["web1"]);
}

#[test]
fn command_line_faults_and_the_outage_bound() {
    let topo = path("examples/web-pair.toml");
    let (code, r) = json(&["simulate", &topo, "--fail", "host:web1", "--at", "10s"]);
    assert_eq!(code, 0, "{r:#}");
    let www = router(&r, "www");
    assert_eq!(f(&r["faults"][0]["at_s"]), 10.0);
    assert_eq!(holders_at(www, f(&r["duration_s"]) - 0.1), vec!["web2"]);
    // The same failover against a bound it cannot meet.
    let out = vigil(&[
        "simulate",
        &topo,
        "--fail",
        "host:web1",
        "--at",
        "10s",
        "--max-outage",
        "1s",
    ]);
    assert_eq!(status(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Verdict: FAIL") && text.contains("above the bound of 1.000s"),
        "{text}"
    );
    assert!(
        text.contains("RFC 5798 timings: web1 (priority 150): skew 0.414s, master-down 3.414s")
    );
    // A crash (kill -9) leaves the VIP in web1's kernel: a double holder
    // until the restart cleans it up.
    let (code, r) = json(&[
        "simulate",
        &topo,
        "--fail",
        "vigild:web1",
        "--at",
        "10s",
        "--for",
        "10s",
    ]);
    assert_eq!(code, 1);
    let www = router(&r, "www");
    let d = &www["double_holders"][0];
    assert!(
        (f(&d["to_s"]) - 20.0).abs() < 0.001,
        "cleaned at the restart: {d}"
    );
    assert!(defences(www, "web1").contains(&"stale_address_removed".to_string()));
}

#[test]
fn same_seed_same_output() {
    let args = [
        "simulate",
        "--scenario",
        &path("examples/scenarios/gateway-one-side.toml"),
    ];
    let a = vigil(&args);
    let b = vigil(&args);
    assert_eq!(a.stdout, b.stdout);
    assert!(!a.stdout.is_empty());
}

#[test]
fn usage_and_load_errors_exit_2() {
    let topo = path("examples/web-pair.toml");
    for (args, needle) in [
        (
            vec!["simulate", &topo, "--fail", "host:nope"],
            "no host `nope`",
        ),
        (
            vec!["simulate", &topo, "--cut", "back"],
            "no segment `back`",
        ),
        (
            vec!["simulate", &topo, "--cut", "front:web1/10.9.9.9"],
            "not a reference IP",
        ),
        (
            vec!["simulate", &topo, "--fail", "link:web1:eth7"],
            "no interface `eth7`",
        ),
        (
            vec!["simulate", &topo, "--fail", "melt:web1"],
            "unknown failure kind",
        ),
        (vec!["simulate", &topo, "--at", "1s"], "follows a `--fail`"),
        (
            vec!["simulate", &topo, "--router", "nope"],
            "no router `nope`",
        ),
        (vec!["simulate"], "needs topology files"),
    ] {
        let out = vigil(&args);
        assert_eq!(status(&out), 2, "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A topology with errors is not simulated.
    let out = vigil(&["simulate", &path("examples/broken/priority-tie.toml")]);
    assert_eq!(status(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was simulated"));
    // A scenario with an unknown key.
    let dir = std::env::temp_dir().join(format!("vigil-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nexplode = true\n").unwrap();
    let out = vigil(&["simulate", &topo, "--scenario", &bad.display().to_string()]);
    assert_eq!(status(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("explode"));
}
