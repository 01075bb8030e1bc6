//! Fencing, trackers and notify hooks on real kernel networking, in the
//! split-brain lab (see `splitbrain_lab`). Each test compiles
//! `tests/topologies/splitbrain-hb.toml` plus a few tables with `vigil
//! build`, runs two vigild hosts and asserts who holds the VIP in the kernel
//! at each step.
//!
//! Needs root; fails unless `VIGIL_SKIP_NETNS=1` when it cannot run.

mod splitbrain_lab;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use splitbrain_lab::{SbLab, topology};

/// Starts ha1, waits until it alone holds the VIP, then starts ha2 and
/// waits until it is backup.
fn start_pair(lab: &mut SbLab, p1: &Path, p2: &Path) -> (usize, usize) {
    let c1 = lab.start_vigild(1, p1);
    assert!(
        lab.wait_for(Duration::from_secs(5), || lab.holders() == vec![1])
            .is_some(),
        "ha1 never became master\n{}",
        lab.logs()
    );
    let c2 = lab.start_vigild(2, p2);
    assert!(
        lab.wait_for(Duration::from_secs(5), || lab
            .events(2, "state_change")
            .iter()
            .any(|e| e["to"] == "backup"))
            .is_some(),
        "ha2 never became backup\n{}",
        lab.logs()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.holders(), vec![1], "{}", lab.logs());
    (c1, c2)
}

fn ts(e: &serde_json::Value) -> f64 {
    e["ts"].as_f64().expect("ts")
}

#[test]
fn required_fence_failing_keeps_backup_and_raises_an_alarm() {
    if !splitbrain_lab::available() {
        return;
    }
    let mut lab = SbLab::new("ffl");
    // ha1 may fence ha2 (a no-op that succeeds); fencing ha1 fails.
    let topo = topology("splitbrain-hb.toml")
        + r#"
[router.web.arbitration.fence]
command = ["/bin/sh", "-c", "test x$VIGIL_PEER_HOSTS = xha2"]
required = true
timeout = "2s"
"#;
    let (p1, p2, _) = lab.build("fence-fail", &topo);
    let (c1, _) = start_pair(&mut lab, &p1, &p2);
    // A hung master: it stops advertising but keeps the VIP in its kernel.
    lab.signal(c1, Signal::SIGSTOP);
    std::thread::sleep(Duration::from_millis(800));
    lab.holds_for(Duration::from_secs(3), || lab.holders() == vec![1])
        .unwrap_or_else(|at| panic!("ha2 took over after {at:?}\n{}", lab.logs()));
    let alarms: Vec<_> = lab
        .events(2, "alarm")
        .into_iter()
        .filter(|e| e["alarm"]["kind"] == "fence_failed")
        .collect();
    assert!(!alarms.is_empty(), "no fence_failed alarm\n{}", lab.log(2));
    assert_eq!(alarms[0]["alarm"]["result"]["outcome"], "exited");
    assert_eq!(alarms[0]["alarm"]["result"]["code"], 1);
    assert!(
        !lab.events(2, "state_change")
            .iter()
            .any(|e| e["to"] == "master"),
        "{}",
        lab.log(2)
    );
    lab.signal(c1, Signal::SIGCONT);
}

#[test]
fn required_fence_succeeding_allows_the_takeover() {
    if !splitbrain_lab::available() {
        return;
    }
    let mut lab = SbLab::new("fok");
    // Fencing ha1 really fences it: its VIP is removed and its service
    // interface shut, from ha2's side (as a BMC power-off would).
    let h1 = lab.host_ns(1);
    let topo = topology("splitbrain-hb.toml")
        + &format!(
            r#"
[router.web.arbitration.fence]
command = ["/bin/sh", "-c", "test x$VIGIL_PEER_HOSTS = xha2 || {{ ip -n {h1} addr del 10.88.0.100/24 dev eth0 && ip -n {h1} link set eth0 down; }}"]
required = true
timeout = "2s"
"#
        );
    let (p1, p2, _) = lab.build("fence-ok", &topo);
    let (c1, _) = start_pair(&mut lab, &p1, &p2);
    lab.signal(c1, Signal::SIGSTOP);
    assert!(
        lab.wait_for(Duration::from_secs(5), || lab.holders() == vec![2])
            .is_some(),
        "{}",
        lab.logs()
    );
    let fence: Vec<_> = lab.events(2, "fence");
    assert_eq!(fence.len(), 1, "{}", lab.log(2));
    assert_eq!(fence[0]["ok"], true);
    let master = lab
        .events(2, "state_change")
        .into_iter()
        .find(|e| e["to"] == "master")
        .expect("ha2 master");
    assert_eq!(master["reason"], "VetoLifted");
    assert!(
        ts(&fence[0]) <= ts(&master),
        "takeover before the fence ended"
    );
    lab.signal(c1, Signal::SIGCONT);
}

#[test]
fn tracked_interface_down_faults_and_returns_per_preempt() {
    if !splitbrain_lab::available() {
        return;
    }
    let mut lab = SbLab::new("trk");
    let topo = topology("splitbrain-hb.toml")
        + r#"
[segment.trk]
subnets = ["10.111.0.0/24"]

[host.ha1.interface.trk0]
segment = "trk"

[host.ha2.interface.trk0]
segment = "trk"

[router.web.track.uplink]
interface = "trk0"
on_fail = "fault"
"#;
    let (p1, p2, _) = lab.build("track", &topo);
    start_pair(&mut lab, &p1, &p2);
    // trk0 loses carrier when its veth peer goes down.
    lab.set_link(1, "trk0p", false);
    assert!(
        lab.wait_for(Duration::from_secs(4), || lab.holders() == vec![2])
            .is_some(),
        "{}",
        lab.logs()
    );
    let tr = lab.events(1, "tracker");
    assert!(
        tr.iter()
            .any(|e| e["tracker"] == "uplink" && e["state"] == "down"),
        "{}",
        lab.log(1)
    );
    assert!(
        lab.events(1, "state_change")
            .iter()
            .any(|e| e["to"] == "fault"),
        "{}",
        lab.log(1)
    );
    // Up again: FAULT clears and ha1 (150, preempt always) takes the VIP back.
    lab.set_link(1, "trk0p", true);
    assert!(
        lab.wait_for(Duration::from_secs(4), || lab.holders() == vec![1])
            .is_some(),
        "{}",
        lab.logs()
    );
    lab.holds_for(Duration::from_secs(1), || lab.holders() == vec![1])
        .unwrap_or_else(|at| panic!("moved again after {at:?}\n{}", lab.logs()));
}

#[test]
fn command_tracker_demotes_below_the_peer_and_rises_back() {
    if !splitbrain_lab::available() {
        return;
    }
    let mut lab = SbLab::new("dem");
    let flag = lab.dir.join("svc-down");
    let topo = topology("splitbrain-hb.toml")
        + &format!(
            r#"
[router.web.track.svc]
command = ["/bin/sh", "-c", "! test -e {}"]
interval = "200ms"
timeout = "150ms"
rise = 2
fall = 2
on_fail = {{ demote = 60 }}
hosts = ["ha1"]
"#,
            flag.display()
        );
    let (p1, p2, _) = lab.build("demote", &topo);
    start_pair(&mut lab, &p1, &p2);
    std::fs::write(&flag, "").unwrap();
    assert!(
        lab.wait_for(Duration::from_secs(4), || lab.holders() == vec![2])
            .is_some(),
        "{}",
        lab.logs()
    );
    let down = lab
        .events(1, "tracker")
        .into_iter()
        .find(|e| e["state"] == "down")
        .expect("tracker down");
    assert_eq!(down["effective_priority"], 90);
    // ha1 is demoted, not faulted: it stays backup.
    assert!(
        !lab.events(1, "state_change")
            .iter()
            .any(|e| e["to"] == "fault")
    );
    // `vigild status` shows it: JSON and the table.
    let (ok, out) = lab.status(1, true);
    assert!(ok, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["host"], "ha1");
    let web = &doc["routers"][0];
    assert_eq!(web["router"], "web");
    assert_eq!(web["state"], "backup");
    assert_eq!(web["priority"]["configured"], 150);
    assert_eq!(web["priority"]["effective"], 90);
    assert_eq!(web["priority"]["advertised"], 90);
    assert_eq!(web["master"], "10.88.0.12");
    assert_eq!(web["arbitration"], "reachable");
    assert_eq!(web["trackers"][0]["name"], "svc");
    assert_eq!(web["trackers"][0]["state"], "down");
    assert!(web["trackers"][0]["failed_runs"].as_u64().unwrap() >= 2);
    assert!(web["counters"]["adverts_received"].as_u64().unwrap() > 0);
    let reference = &web["defences"]["arbitration"]["reference_ips"][0];
    assert_eq!(reference["address"], "10.88.0.1");
    assert!(reference["replies"].as_u64().unwrap() > 0);
    let (ok, table) = lab.status(2, false);
    assert!(ok, "{table}");
    let row: Vec<&str> = table.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        vec![
            "web",
            "eth0",
            "88",
            "master",
            "100/100",
            "10.88.0.12",
            "reachable",
            "-",
            "-"
        ],
        "{table}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(lab.control_socket(1))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    std::fs::remove_file(&flag).unwrap();
    assert!(
        lab.wait_for(Duration::from_secs(4), || lab.holders() == vec![1])
            .is_some(),
        "{}",
        lab.logs()
    );
}

/// `KEY=value` lines of a file.
fn env_file(p: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn notify_hooks_run_in_order_with_the_environment() {
    if !splitbrain_lab::available() {
        return;
    }
    let mut lab = SbLab::new("ntf");
    let d = lab.dir.display().to_string();
    let topo = topology("splitbrain-hb.toml")
        + &format!(
            r#"
[router.web.notify]
master = ["/bin/sh", "-c", "f={d}/master-$(ip netns identify $$).env; {{ env | grep ^VIGIL_; echo VIP_UP=$(ip -o addr show dev eth0 | grep -c 10.88.0.100/24); }} > $f.tmp && mv $f.tmp $f"]
backup = ["/bin/sh", "-c", "f={d}/backup-$(ip netns identify $$).env; {{ env | grep ^VIGIL_; echo VIP_UP=$(ip -o addr show dev eth0 | grep -c 10.88.0.100/24); }} > $f.tmp && mv $f.tmp $f"]
stop = ["/bin/sh", "-c", "f={d}/stop-$(ip netns identify $$).env; env | grep ^VIGIL_ > $f.tmp && mv $f.tmp $f"]
any = ["/bin/sh", "-c", "echo $(ip netns identify $$) $VIGIL_PREVIOUS_STATE $VIGIL_STATE >> {d}/any.log"]
timeout = "2s"
"#
        );
    let (p1, p2, _) = lab.build("notify", &topo);
    let hash = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&p1).unwrap())
        .unwrap()["topology_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let (c1, _) = start_pair(&mut lab, &p1, &p2);
    let (h1, h2) = (lab.host_ns(1), lab.host_ns(2));
    let master = lab.dir.join(format!("master-{h1}.env"));
    assert!(
        lab.wait_for(Duration::from_secs(3), || master.exists())
            .is_some(),
        "{}",
        lab.logs()
    );
    let env = env_file(&master);
    assert_eq!(env["VIGIL_ROUTER"], "web");
    assert_eq!(env["VIGIL_STATE"], "master");
    assert_eq!(env["VIGIL_PREVIOUS_STATE"], "backup");
    assert_eq!(env["VIGIL_VIPS"], "10.88.0.100/24");
    assert_eq!(env["VIGIL_VRID"], "88");
    assert_eq!(env["VIGIL_INTERFACE"], "eth0");
    assert_eq!(env["VIGIL_PLAN_HASH"], hash);
    assert_eq!(
        env["VIP_UP"], "1",
        "the master hook runs after the VIPs are up"
    );
    let backup = lab.dir.join(format!("backup-{h2}.env"));
    assert!(
        lab.wait_for(Duration::from_secs(3), || backup.exists())
            .is_some()
    );
    assert_eq!(env_file(&backup)["VIGIL_PREVIOUS_STATE"], "initialize");
    assert_eq!(env_file(&backup)["VIP_UP"], "0");

    // A graceful stop runs `stop` (vigild waits for it before exiting),
    // and ha2 takes over and runs `master`.
    lab.signal(c1, Signal::SIGTERM);
    let stop = lab.dir.join(format!("stop-{h1}.env"));
    assert!(
        lab.wait_for(Duration::from_secs(3), || stop.exists())
            .is_some(),
        "{}",
        lab.logs()
    );
    assert_eq!(env_file(&stop)["VIGIL_STATE"], "stop");
    assert_eq!(env_file(&stop)["VIGIL_PREVIOUS_STATE"], "master");
    let m2 = lab.dir.join(format!("master-{h2}.env"));
    assert!(
        lab.wait_for(Duration::from_secs(3), || m2.exists())
            .is_some()
    );
    std::thread::sleep(Duration::from_millis(300));
    // `any` ran after every state-specific hook, once per change, in order.
    let any = std::fs::read_to_string(lab.dir.join("any.log")).unwrap();
    let mine = |ns: &str| -> Vec<String> {
        any.lines()
            .filter(|l| l.starts_with(&format!("{ns} ")))
            .map(|l| l[ns.len() + 1..].to_string())
            .collect()
    };
    assert_eq!(
        mine(&h1),
        vec!["initialize backup", "backup master", "master stop"],
        "{any}"
    );
    assert_eq!(
        mine(&h2),
        vec!["initialize backup", "backup master"],
        "{any}"
    );
    // Every hook's outcome is a JSON log line.
    let hooks = lab.events(1, "hook");
    assert_eq!(hooks.len(), 6, "{}", lab.log(1));
    assert!(hooks.iter().all(|h| h["ok"] == true), "{}", lab.log(1));
}

#[test]
fn hanging_hook_is_killed_at_its_timeout_and_adverts_keep_leaving_on_time() {
    if !splitbrain_lab::available() {
        return;
    }
    let mut lab = SbLab::new("hng");
    let d = lab.dir.display().to_string();
    let topo = topology("splitbrain-hb.toml")
        + &format!(
            r#"
[router.web.notify]
master = ["/bin/sleep", "30"]
any = ["/bin/sh", "-c", "echo $VIGIL_STATE >> {d}/any-$(ip netns identify $$).log"]
timeout = "1500ms"
"#
        );
    let (p1, _, _) = lab.build("hang", &topo);
    // Capture ha1's multicast adverts on the service segment.
    let cap = lab.start_capture("br0");
    let start = std::time::Instant::now();
    lab.start_vigild(1, &p1);
    assert!(
        lab.wait_for(Duration::from_secs(5), || lab.holders() == vec![1])
            .is_some(),
        "{}",
        lab.logs()
    );
    let killed = lab.wait_for(Duration::from_secs(4), || {
        lab.events(1, "hook").iter().any(|h| h["hook"] == "master")
    });
    assert!(killed.is_some(), "master hook never ended\n{}", lab.log(1));
    std::thread::sleep(Duration::from_millis(1000));
    let out = lab.stop_capture(
        cap,
        &[
            "-Y",
            "vrrp && ip.src == 10.88.0.11",
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
        ],
    );
    let hook = lab
        .events(1, "hook")
        .into_iter()
        .find(|h| h["hook"] == "master")
        .unwrap();
    assert_eq!(hook["ok"], false);
    assert_eq!(hook["result"]["outcome"], "timed_out", "{hook}");
    let elapsed = hook["result"]["elapsed_ms"].as_u64().unwrap();
    assert!((1500..2000).contains(&elapsed), "killed after {elapsed} ms");
    // `any` ran after the killed hook.
    let any = std::fs::read_to_string(lab.dir.join(format!("any-{}.log", lab.host_ns(1))))
        .unwrap_or_default();
    assert!(any.lines().any(|l| l == "master"), "{any}");
    // Adverts every 200 ms throughout, hook or no hook.
    let times: Vec<f64> = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert!(
        times.len() >= 10,
        "too few adverts captured ({}) in {:?}",
        times.len(),
        start.elapsed()
    );
    // The capture spans the hook's whole life.
    let began = lab
        .events(1, "hook_started")
        .into_iter()
        .find(|h| h["hook"] == "master")
        .unwrap();
    // (The hook starts as the router becomes master, just before its first advert.)
    assert!(
        times[0] <= ts(&began) + 0.1 && *times.last().unwrap() >= ts(&hook),
        "capture {:.3}..{:.3}, hook {:.3}..{:.3}",
        times[0],
        times.last().unwrap(),
        ts(&began),
        ts(&hook)
    );
    let max_gap = times.windows(2).map(|w| w[1] - w[0]).fold(0.0f64, f64::max);
    println!(
        "FIGURE adverts while a hook hangs: {} adverts, largest gap {:.1} ms (interval 200 ms)",
        times.len(),
        max_gap * 1000.0
    );
    assert!(max_gap < 0.3, "an advert gap of {:.0} ms", max_gap * 1000.0);
}
