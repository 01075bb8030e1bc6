//! vigild end to end in the namespace lab: election, VIP placement, link
//! loss, graceful takeover, preemption, IPv6, unicast, crash recovery,
//! reload and dump. Hosts 1 and 2 run vigild; host 3 is an observer that
//! timestamps every gratuitous ARP it sees. Failover times are printed (run
//! with `--nocapture` to see them), and asserted only loosely.

mod lab;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lab::Lab;
use nix::sys::signal::Signal;
use vigild::net::arp_socket::ArpSocket;
use vigild::netlink::{NlConn, link};
use vigild::wire::arp;

const VIP: &str = "10.77.0.100/24";
const VIP6: &str = "fd00:77::100/64";

fn plan(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plans")
        .join(name)
}

/// A plan file changed by `edit` (written into the lab directory).
fn edited_plan(lab: &Lab, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plan(name)).unwrap()).unwrap();
    edit(&mut v);
    lab.write(name, &serde_json::to_string_pretty(&v).unwrap())
}

/// One gratuitous ARP: arrival time, announcing MAC, announced address.
type Seen = (Instant, [u8; 6], Ipv4Addr);

/// Gratuitous ARPs seen by an observer host, with arrival times.
struct GarpWatch {
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl GarpWatch {
    fn start(lab: &Lab, observer: usize) -> GarpWatch {
        let sock = lab.in_ns(observer, || {
            let idx = link::get_by_name(&mut NlConn::open().unwrap(), "eth0")
                .unwrap()
                .ifindex;
            ArpSocket::listener(idx).unwrap()
        });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while !st2.load(Ordering::Relaxed) {
                match sock.recv(&mut buf) {
                    Ok(Some((n, _))) => {
                        if let Ok(r) = arp::Repr::parse(&arp::Packet::new_unchecked(&buf[..n])) {
                            s2.lock()
                                .unwrap()
                                .push((Instant::now(), r.mac.0, r.address));
                        }
                    }
                    _ => std::thread::sleep(Duration::from_micros(200)),
                }
            }
        });
        GarpWatch { seen, stop }
    }

    /// The first GARP for `vip` from `mac` after `after`, waiting up to `timeout`.
    fn first_after(
        &self,
        mac: [u8; 6],
        vip: Ipv4Addr,
        after: Instant,
        timeout: Duration,
    ) -> Option<Instant> {
        let end = Instant::now() + timeout;
        loop {
            let hit = self
                .seen
                .lock()
                .unwrap()
                .iter()
                .find(|(t, m, a)| *t >= after && *m == mac && *a == vip)
                .map(|e| e.0);
            if hit.is_some() || Instant::now() > end {
                return hit;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for GarpWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn vip4() -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, 100)
}

fn vm_rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn v2_1s_election_link_cut_failover_preempt_and_dissection() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("f2", 3);
    let cap = lab.start_capture("v2");
    let watch = GarpWatch::start(&lab, 3);
    let c2 = lab.start_vigild(2, &plan("v2_1s_ha2.json"), "ha2");
    let c1 = lab.start_vigild(1, &plan("v2_1s_ha1.json"), "ha1");
    let t = lab.wait_for(Duration::from_secs(6), || lab.holders(VIP) == vec![1]);
    assert!(
        t.is_some(),
        "ha1 never became the only holder; holders {:?}\n{}\n{}",
        lab.holders(VIP),
        lab.log("ha1"),
        lab.log("ha2")
    );
    assert!(
        lab.log("ha1").contains(r#""event":"state_change""#)
            && lab.log("ha1").contains(r#""plan":"test-v2_1s""#)
    );
    assert!(
        lab.log("ha1").contains(r#""to":"master""#),
        "{}",
        lab.log("ha1")
    );
    assert!(
        lab.addrs(1).contains(" eth0:vi77"),
        "label missing: {}",
        lab.addrs(1)
    );
    // Idle footprint of a running vigild.
    std::thread::sleep(Duration::from_secs(2));
    let rss1 = vm_rss_kb(lab.pid(c1));
    let rss2 = vm_rss_kb(lab.pid(c2));
    println!("FIGURE idle VmRSS: master {rss1} kB, backup {rss2} kB");
    assert!(rss1 < 50_000 && rss2 < 50_000);

    // Host death: carrier loss on ha1.
    let t_cut = Instant::now();
    lab.cut(1);
    let garp = watch.first_after(lab.mac(2), vip4(), t_cut, Duration::from_secs(8));
    let garp = garp.unwrap_or_else(|| panic!("no GARP from ha2 after cut\n{}", lab.log("ha2")));
    println!(
        "FIGURE v2 1s link cut -> first GARP from backup: {:.1} ms (theory 3000-3609 after the last advert)",
        ms(garp - t_cut)
    );
    assert!(lab.holds(2, VIP));
    let released = lab.wait_for(Duration::from_secs(2), || !lab.holds(1, VIP));
    assert!(
        released.is_some(),
        "ha1 kept the VIP in fault: {}",
        lab.log("ha1")
    );
    assert!(
        lab.log("ha1").contains(r#""to":"fault""#),
        "{}",
        lab.log("ha1")
    );

    // The link returns: ha1 (priority 150) preempts.
    let t_heal = Instant::now();
    lab.heal(1);
    let back = watch.first_after(lab.mac(1), vip4(), t_heal, Duration::from_secs(8));
    let back = back.unwrap_or_else(|| panic!("ha1 did not preempt\n{}", lab.log("ha1")));
    println!(
        "FIGURE v2 1s heal -> first GARP from returning master: {:.1} ms (theory 3414)",
        ms(back - t_heal)
    );
    assert!(
        lab.wait_for(Duration::from_secs(2), || lab.holders(VIP) == vec![1])
            .is_some(),
        "holders {:?}",
        lab.holders(VIP)
    );

    // Every advert on the wire is VRRPv2 with a good checksum, TTL 255, from ha1 or ha2.
    let file = lab.stop_capture(cap);
    let out = lab::tshark_read(
        &file,
        &[
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            "vrrp",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "vrrp.version",
            "-e",
            "vrrp.checksum.status",
            "-e",
            "ip.ttl",
            "-e",
            "vrrp.prio",
            "-e",
            "ip.checksum.status",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 5, "too few adverts:\n{out}");
    for l in &lines {
        let f: Vec<&str> = l.split('\t').collect();
        assert!(f[0] == "10.77.0.11" || f[0] == "10.77.0.12", "{l}");
        assert_eq!(&f[1..4], &["2", "1", "255"], "{l}");
        assert_eq!(f[5], "1", "IP header checksum not good: {l}");
    }
    drop(watch);
}

#[test]
fn v3_100ms_sigterm_takeover_restart_preempt_and_cut() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("f3", 3);
    let watch = GarpWatch::start(&lab, 3);
    let _c2 = lab.start_vigild(2, &plan("v3_100ms_ha2.json"), "ha2");
    let c1 = lab.start_vigild(1, &plan("v3_100ms_ha1.json"), "ha1");
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders(VIP) == vec![1])
            .is_some(),
        "{}",
        lab.log("ha1")
    );
    std::thread::sleep(Duration::from_millis(500));

    // Graceful stop: priority 0, the backup takes over after its skew time.
    let t_term = Instant::now();
    lab.signal(c1, Signal::SIGTERM);
    let garp = watch
        .first_after(lab.mac(2), vip4(), t_term, Duration::from_secs(3))
        .expect("no GARP from ha2 after SIGTERM");
    println!(
        "FIGURE v3 100ms SIGTERM -> first GARP from backup: {:.1} ms (theory skew 60.9)",
        ms(garp - t_term)
    );
    let st = lab
        .wait_exit(c1, Duration::from_secs(3))
        .expect("ha1 did not exit on SIGTERM");
    assert!(st.success(), "exit status {st:?}");
    assert!(!lab.holds(1, VIP), "ha1 left its VIP behind after SIGTERM");
    assert!(ms(garp - t_term) < 1000.0);

    // Restart: ha1 preempts after its master-down interval.
    let t_start = Instant::now();
    let c1 = lab.start_vigild(1, &plan("v3_100ms_ha1.json"), "ha1");
    let back = watch
        .first_after(lab.mac(1), vip4(), t_start, Duration::from_secs(3))
        .expect("ha1 did not preempt");
    println!(
        "FIGURE v3 100ms restart -> first GARP from preempting master: {:.1} ms (theory 341 + start-up)",
        ms(back - t_start)
    );
    assert!(
        lab.wait_for(Duration::from_secs(1), || lab.holders(VIP) == vec![1])
            .is_some(),
        "holders {:?}",
        lab.holders(VIP)
    );

    // Host death at 100 ms.
    std::thread::sleep(Duration::from_millis(500));
    let t_cut = Instant::now();
    lab.cut(1);
    let garp = watch
        .first_after(lab.mac(2), vip4(), t_cut, Duration::from_secs(3))
        .expect("no GARP from ha2 after cut");
    println!(
        "FIGURE v3 100ms link cut -> first GARP from backup: {:.1} ms (theory 300-361)",
        ms(garp - t_cut)
    );
    assert!(ms(garp - t_cut) < 2000.0);
    let _ = c1;
}

#[test]
fn no_preempt_leaves_the_lower_priority_master_in_place() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("fnp", 2);
    let _c2 = lab.start_vigild(2, &plan("v3_100ms_ha2.json"), "ha2");
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders(VIP) == vec![2])
            .is_some(),
        "{}",
        lab.log("ha2")
    );
    let p1 = edited_plan(&lab, "v3_100ms_ha1.json", |v| {
        v["routers"][0]["preempt"] = false.into()
    });
    let _c1 = lab.start_vigild(1, &p1, "ha1");
    // Well past ha1's master-down interval (about 341 ms).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lab.holders(VIP),
        vec![2],
        "ha1 preempted although preempt = false\n{}",
        lab.log("ha1")
    );
    assert!(
        lab.log("ha1").contains(r#""to":"backup""#) && !lab.log("ha1").contains(r#""to":"master""#),
        "{}",
        lab.log("ha1")
    );
}

#[test]
fn ipv6_v3_election_takeover_and_unsolicited_na() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("f6", 3);
    // Host 3 records neighbour advertisements for the VIP (ICMPv6 type 136).
    let na_sock = lab.in_ns(3, || {
        let s = socket2::Socket::new(
            socket2::Domain::IPV6,
            socket2::Type::RAW,
            Some(socket2::Protocol::ICMPV6),
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        s
    });
    let nas: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (nas2, stop2) = (nas.clone(), stop.clone());
    let vip6: std::net::Ipv6Addr = "fd00:77::100".parse().unwrap();
    std::thread::spawn(move || {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 512];
        while !stop2.load(Ordering::Relaxed) {
            if let Ok((n, _)) = na_sock.recv_from(&mut buf) {
                // SAFETY: recv_from initialised the first n bytes.
                let d: Vec<u8> = buf[..n]
                    .iter()
                    .map(|b| unsafe { b.assume_init() })
                    .collect();
                if n >= 24 && d[0] == 136 && d[8..24] == vip6.octets() {
                    nas2.lock().unwrap().push(Instant::now());
                }
            }
        }
    });
    let _c2 = lab.start_vigild(2, &plan("v3_ipv6_ha2.json"), "ha2");
    let c1 = lab.start_vigild(1, &plan("v3_ipv6_ha1.json"), "ha1");
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders(VIP6) == vec![1])
            .is_some(),
        "holders {:?}\n{}\n{}",
        lab.holders(VIP6),
        lab.log("ha1"),
        lab.log("ha2")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.holders(VIP6), vec![1], "{}", lab.log("ha2"));
    assert!(
        !nas.lock().unwrap().is_empty(),
        "no unsolicited NA from the first master"
    );
    let t = Instant::now();
    lab.signal(c1, Signal::SIGTERM);
    let took = lab.wait_for(Duration::from_secs(3), || lab.holders(VIP6) == vec![2]);
    let took = took.unwrap_or_else(|| panic!("ha2 did not take over\n{}", lab.log("ha2")));
    let na = lab.wait_for(Duration::from_secs(1), || {
        nas.lock().unwrap().iter().any(|x| *x > t)
    });
    assert!(na.is_some(), "no unsolicited NA after takeover");
    let first_na = *nas.lock().unwrap().iter().find(|x| **x > t).unwrap();
    println!(
        "FIGURE v3 IPv6 100ms SIGTERM -> VIP on backup (polled) {:.1} ms, -> first NA {:.1} ms",
        ms(took),
        ms(first_na - t)
    );
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn v2_password_auth_elects_and_mismatch_is_counted() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("fa", 2);
    let good = lab.write("pw-good", "s3cret\n");
    let bad = lab.write("pw-bad", "other\n");
    let auth = |p: &PathBuf| serde_json::json!({"password_file": p.to_str().unwrap()});
    let p1 = edited_plan(&lab, "v2_1s_ha1.json", |v| {
        v["routers"][0]["auth"] = auth(&good)
    });
    let p2 = edited_plan(&lab, "v2_1s_ha2.json", |v| {
        v["routers"][0]["auth"] = auth(&bad)
    });
    let _c1 = lab.start_vigild(1, &p1, "ha1");
    let c2 = lab.start_vigild(2, &p2, "ha2");
    // With different passwords ha2 ignores ha1: both claim the VIP, and ha2 counts failures.
    assert!(
        lab.wait_for(Duration::from_secs(6), || lab.holders(VIP) == vec![1, 2])
            .is_some(),
        "holders {:?}",
        lab.holders(VIP)
    );
    lab.signal(c2, Signal::SIGUSR1);
    assert!(
        lab.wait_for(Duration::from_secs(2), || lab
            .log("ha2")
            .contains(r#""event":"dump""#))
            .is_some()
    );
    let dump = lab
        .log("ha2")
        .lines()
        .find(|l| l.contains(r#""event":"dump""#))
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert!(
        v["routers"][0]["stats"]["auth_failures"].as_u64().unwrap() >= 1,
        "{dump}"
    );
    // Same password on ha2 (reloaded): ha2 hears ha1 again and steps down.
    std::fs::write(&bad, "s3cret\n").unwrap();
    lab.signal(c2, Signal::SIGHUP);
    assert!(
        lab.wait_for(Duration::from_secs(4), || lab.holders(VIP) == vec![1])
            .is_some(),
        "holders {:?}\n{}",
        lab.holders(VIP),
        lab.log("ha2")
    );
}

#[test]
fn unicast_v3_election_takeover_and_unicast_adverts() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("fu", 2);
    let cap = lab.start_capture("unicast");
    let _c2 = lab.start_vigild(2, &plan("v3_unicast_ha2.json"), "ha2");
    let c1 = lab.start_vigild(1, &plan("v3_unicast_ha1.json"), "ha1");
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders(VIP) == vec![1])
            .is_some(),
        "{}",
        lab.log("ha1")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.holders(VIP), vec![1]);
    lab.signal(c1, Signal::SIGTERM);
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders(VIP) == vec![2])
            .is_some(),
        "{}",
        lab.log("ha2")
    );
    let file = lab.stop_capture(cap);
    // ICMP errors quoting an advert (ha1's kernel after ha1 stopped) are not adverts.
    let out = lab::tshark_read(
        &file,
        &[
            "-Y",
            "vrrp && !icmp",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "vrrp.checksum.status",
        ],
    );
    assert!(out.lines().count() >= 3, "{out}");
    for l in out.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        let ok = (f[0] == "10.77.0.11" && f[1] == "10.77.0.12")
            || (f[0] == "10.77.0.12" && f[1] == "10.77.0.11");
        assert!(
            ok && f[2] == "1",
            "not a unicast advert between the peers: {l}"
        );
    }
}

#[test]
fn stale_vip_is_removed_after_kill9_and_restart() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("fk", 2);
    let _c2 = lab.start_vigild(2, &plan("v3_100ms_ha2.json"), "ha2");
    let c1 = lab.start_vigild(1, &plan("v3_100ms_ha1.json"), "ha1");
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders(VIP) == vec![1])
            .is_some(),
        "{}",
        lab.log("ha1")
    );
    lab.signal(c1, Signal::SIGKILL);
    lab.wait_exit(c1, Duration::from_secs(2)).expect("kill -9");
    // A crash resigns nothing: the VIP stays on ha1 while ha2 takes over.
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders(VIP) == vec![1, 2])
            .is_some(),
        "holders {:?}",
        lab.holders(VIP)
    );
    let _c1 = lab.start_vigild(1, &plan("v3_100ms_ha1.json"), "ha1");
    assert!(
        lab.wait_for(Duration::from_secs(2), || lab
            .log("ha1")
            .contains(r#""event":"stale_vip_removed""#))
            .is_some(),
        "{}",
        lab.log("ha1")
    );
    // ha1 then preempts and ha2 releases: one holder again.
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders(VIP) == vec![1])
            .is_some(),
        "holders {:?}",
        lab.holders(VIP)
    );
}

#[test]
fn sighup_reload_and_sigusr1_dump() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("fr", 1);
    let p = edited_plan(&lab, "v3_100ms_ha1.json", |_| {});
    let c = lab.start_vigild(1, &p, "ha1");
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holds(1, VIP))
            .is_some(),
        "{}",
        lab.log("ha1")
    );
    lab.signal(c, Signal::SIGUSR1);
    assert!(
        lab.wait_for(Duration::from_secs(2), || lab
            .log("ha1")
            .contains(r#""event":"dump""#))
            .is_some()
    );
    let dump = lab
        .log("ha1")
        .lines()
        .find(|l| l.contains(r#""event":"dump""#))
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(v["routers"][0]["state"], "master", "{dump}");
    assert!(
        v["routers"][0]["stats"]["adverts_sent"].as_u64().unwrap() >= 1,
        "{dump}"
    );

    // Unchanged plan: the router keeps running.
    lab.signal(c, Signal::SIGHUP);
    assert!(
        lab.wait_for(Duration::from_secs(2), || lab
            .log("ha1")
            .contains(r#""kept":["vi77"]"#))
            .is_some(),
        "{}",
        lab.log("ha1")
    );
    // Changed priority, same identity: applied in place, the VIP never moves.
    edited_plan(&lab, "v3_100ms_ha1.json", |v| {
        v["routers"][0]["priority"] = 200.into();
        v["topology_hash"] = "test-reloaded".into();
    });
    lab.signal(c, Signal::SIGHUP);
    let start = std::time::Instant::now();
    let mut reloaded = false;
    while start.elapsed() < Duration::from_secs(2) {
        assert!(
            lab.holds(1, VIP),
            "VIP left during an in-place reload\n{}",
            lab.log("ha1")
        );
        reloaded |= lab.log("ha1").contains(r#""reloaded":["vi77"]"#);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(reloaded, "{}", lab.log("ha1"));
    // Changed identity (VRID): restarted (resigns, starts again, becomes master).
    edited_plan(&lab, "v3_100ms_ha1.json", |v| {
        v["routers"][0]["priority"] = 200.into();
        v["routers"][0]["vrid"] = 79.into();
        v["topology_hash"] = "test-restarted".into();
    });
    lab.signal(c, Signal::SIGHUP);
    assert!(
        lab.wait_for(Duration::from_secs(2), || lab
            .log("ha1")
            .contains(r#""restarted":["vi77"]"#))
            .is_some(),
        "{}",
        lab.log("ha1")
    );
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.log("ha1").lines().any(|l| l
            .contains(r#""to":"master""#)
            && l.contains("test-restarted")))
            .is_some(),
        "{}",
        lab.log("ha1")
    );
    // A broken plan is refused and the router keeps running.
    lab.write("v3_100ms_ha1.json", "{ not json");
    lab.signal(c, Signal::SIGHUP);
    assert!(
        lab.wait_for(Duration::from_secs(2), || lab
            .log("ha1")
            .contains(r#""event":"reload_failed""#))
            .is_some()
    );
    assert!(lab.holds(1, VIP));
}

#[test]
fn ready_is_notified_to_systemd() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("fn", 1);
    let sock_path = lab.dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _c = lab.start_vigild_env(
        1,
        &plan("v3_100ms_ha1.json"),
        "ha1",
        &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())],
    );
    let mut buf = [0u8; 64];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no sd_notify message: {e}\n{}", lab.log("ha1")));
    assert_eq!(&buf[..n], b"READY=1");
}

#[test]
fn two_routers_on_one_interface_each_elect_their_own_master() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("f22", 2);
    // A second router (VRID 78, VIP .101) where ha2 has the higher priority.
    let add_second = |v: &mut serde_json::Value, prio: u8| {
        let mut r = v["routers"][0].clone();
        r["name"] = "vi78".into();
        r["vrid"] = 78.into();
        r["priority"] = prio.into();
        r["vips"][0]["address"] = "10.77.0.101".into();
        r["vips"][0]["label"] = "eth0:vi78".into();
        v["routers"].as_array_mut().unwrap().push(r);
    };
    let p1 = edited_plan(&lab, "v3_100ms_ha1.json", |v| add_second(v, 100));
    let p2 = edited_plan(&lab, "v3_100ms_ha2.json", |v| add_second(v, 150));
    let _c1 = lab.start_vigild(1, &p1, "ha1");
    let c2 = lab.start_vigild(2, &p2, "ha2");
    let placed = lab.wait_for(Duration::from_secs(3), || {
        lab.holders(VIP) == vec![1] && lab.holders("10.77.0.101/24") == vec![2]
    });
    assert!(
        placed.is_some(),
        "vi77 on {:?}, vi78 on {:?}",
        lab.holders(VIP),
        lab.holders("10.77.0.101/24")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        (lab.holders(VIP), lab.holders("10.77.0.101/24")),
        (vec![1], vec![2])
    );
    // ha2 stops: ha1 takes vi78 and keeps vi77.
    lab.signal(c2, Signal::SIGTERM);
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab.holders("10.77.0.101/24")
            == vec![1])
            .is_some()
    );
    assert_eq!(lab.holders(VIP), vec![1]);
}
