//! vigild against the real keepalived (Debian's 2.2.7) in the namespace lab.
//!
//! Each test compiles one topology with `vigil build`: one host runs vigild
//! with its plan, the other (`runtime = "keepalived"`) runs keepalived with
//! the emitted `keepalived.conf`. Every test has three routers on the
//! segment, so both directions run in the same pair of daemons:
//!
//! * `a`: vigild priority 150, keepalived 100 (vigild is master);
//! * `b`: vigild 100, keepalived 150 (keepalived is master);
//! * `t`: both 100 (patched after the build: the compiler refuses ties on
//!   purpose), so after a split brain heals the higher primary address wins.
//!
//! The matrix is VRRPv2 IPv4, VRRPv3 IPv4 and VRRPv3 IPv6, multicast and
//! unicast; each runs the same sequence: convergence, split brain and heal
//! (tie-break), carrier loss on each host and preemption back, SIGTERM of
//! each daemon (priority-0 takeover in about the skew time) and restart.
//! A separate test covers VRRPv2 password interop, a wrong password and a
//! foreign VRID. Assertions read VIP placement in the kernel and the state
//! both daemons report (vigild's SIGUSR1 dump, keepalived's state lines).
//!
//! Needs root, iproute2, keepalived and the compiler binary
//! (`cargo build -p vigil`); with `VIGIL_SKIP_NETNS=1` the tests are skipped
//! instead of failing when one of them is missing.

mod interop;
mod lab;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use interop::{Keepalived, kad_set, ms, plan_set, vigild_dump, vigild_transitions};
use lab::Lab;
use nix::sys::signal::Signal;

#[derive(Clone, Copy, PartialEq)]
enum Fam {
    V4,
    V6,
}

struct Case {
    tag: &'static str,
    version: u8,
    fam: Fam,
    unicast: bool,
    /// Advertisement interval in ms.
    adv_ms: u64,
    /// The lab host (1 or 2) running vigild; the other runs keepalived.
    vigild_host: usize,
}

impl Case {
    fn kad_host(&self) -> usize {
        3 - self.vigild_host
    }

    fn interval(&self) -> String {
        if self.adv_ms % 1000 == 0 {
            format!("{}s", self.adv_ms / 1000)
        } else {
            format!("{}ms", self.adv_ms)
        }
    }

    /// The VIP of router number `n` as `ip -o addr` prints it.
    fn vip(&self, n: u8) -> String {
        match self.fam {
            Fam::V4 => format!("10.77.0.{}/24", 110 + n),
            Fam::V6 => format!("fd00:77::{}/64", 110 + n),
        }
    }

    fn vips_toml(&self, n: u8) -> String {
        match self.fam {
            Fam::V4 => format!("[\"10.77.0.{}/24\"]", 110 + n),
            // A link-local VIP first, as RFC 5798 §5.2.9 wants for IPv6.
            Fam::V6 => format!("[\"fe80::77:{0}/64\", \"fd00:77::{0}/64\"]", 110 + n),
        }
    }

    /// Master_Down_Interval of a priority-100 backup, in ms.
    fn master_down_ms(&self) -> u64 {
        3 * self.adv_ms + (256 - 100) * self.adv_ms / 256
    }

    fn name(&self, i: usize) -> String {
        format!("n{i}")
    }
}

/// The topology of a case: hosts n1, n2 (lab hosts 1, 2), routers a, b, t.
fn topology(c: &Case) -> String {
    let mut s = String::from(
        "[cluster]\nname = \"interop\"\n\n[segment.lab]\nsubnets = [\"10.77.0.0/24\", \"fd00:77::/64\", \"fe80::/64\"]\n\n",
    );
    for i in 1..=2usize {
        s += &format!("[host.n{i}]\n");
        if i == c.kad_host() {
            s += "runtime = \"keepalived\"\n";
        }
        s += &format!(
            "[host.n{i}.interface.eth0]\nsegment = \"lab\"\naddresses = [\"10.77.0.{}/24\", \"fe80::ff:fe00:4d{:02x}/64\"]\n\n",
            10 + i,
            i
        );
    }
    let v = c.vigild_host;
    let k = c.kad_host();
    for (n, name, pv, pk) in [(0u8, "a", 150, 100), (1, "b", 100, 150), (2, "t", 150, 100)] {
        s += &format!(
            "[router.{name}]\nsegment = \"lab\"\nvrid = {}\nversion = {}\nadvert_interval = \"{}\"\nvips = {}\nunicast = {}\naccept_split_brain = \"a two-host lab; split brain is part of the test\"\n\n",
            10 + n,
            c.version,
            c.interval(),
            c.vips_toml(n),
            c.unicast
        );
        s += &format!(
            "[router.{name}.member.n{v}]\npriority = {pv}\n[router.{name}.member.n{k}]\npriority = {pk}\n\n"
        );
    }
    s
}

/// Builds the case's topology and returns (vigild plan, keepalived.conf) paths,
/// with router `t` patched to equal priorities on both sides.
fn build(lab: &Lab, c: &Case) -> (PathBuf, PathBuf) {
    let topo = lab.write("topology.toml", &topology(c));
    let out = lab.dir.join("out");
    interop::vigil_build(&topo, &out);
    let vname = c.name(c.vigild_host);
    let kname = c.name(c.kad_host());
    let plan = std::fs::read_to_string(out.join(&vname).join("plan.json")).unwrap();
    let plan = plan_set(&plan, "t", "priority", 100.into());
    let plan_path = lab.write("vigild-plan.json", &plan);
    let conf = std::fs::read_to_string(out.join(&kname).join("keepalived.conf")).unwrap();
    assert!(conf.contains("vrrp_instance t {"), "{conf}");
    let conf = kad_set(&conf, "t", "priority", "priority 100");
    let conf_path = lab.write("keepalived.conf", &conf);
    (plan_path, conf_path)
}

/// Waits until `cond` holds, or panics with `what` and both daemons' logs.
fn wait(
    lab: &Lab,
    kad: &Keepalived,
    vname: &str,
    timeout: Duration,
    what: &str,
    cond: impl FnMut() -> bool,
) -> Duration {
    match lab.wait_for(timeout, cond) {
        Some(d) => d,
        None => panic!(
            "timed out after {timeout:?} waiting for: {what}\n--- vigild log\n{}\n--- keepalived log\n{}\n--- addresses\n{}\n{}",
            lab.log(vname),
            kad.log_text(),
            lab.addrs(1),
            lab.addrs(2)
        ),
    }
}

/// The matrix sequence for one case.
fn run_case(c: Case) {
    if !lab::available() || !interop::tools_available() {
        return;
    }
    let mut lab = Lab::new(c.tag, 2);
    let guard = interop::Cleanup::new(&lab);
    let (v, k) = (c.vigild_host, c.kad_host());
    let vname = c.name(v);
    let kname = c.name(k);
    let (plan, conf) = build(&lab, &c);
    let (va, vb, vt) = (c.vip(0), c.vip(1), c.vip(2));
    let adv = Duration::from_millis(c.adv_ms);
    let md = Duration::from_millis(c.master_down_ms());
    // Generous: a master-down, a startup, scheduling on a loaded machine.
    let long = md * 3 + Duration::from_secs(3);

    let mut kad = Keepalived::start(&lab.ns(k), &kname, &conf, &lab.dir);
    let mut vd = lab.start_vigild(v, &plan, &vname);

    // 1. Convergence: a on vigild, b on keepalived, t on exactly one host.
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "a on vigild, b on keepalived",
        || {
            lab.holders(&va) == vec![v]
                && lab.holders(&vb) == vec![k]
                && lab.holders(&vt).len() == 1
        },
    );
    std::thread::sleep(adv * 5);
    assert_eq!(lab.holders(&va), vec![v], "a moved");
    assert_eq!(lab.holders(&vb), vec![k], "b moved");
    let d = vigild_dump(&lab, vd, &vname);
    assert_eq!(d.state("a"), "master", "{d:?}");
    assert_eq!(d.state("b"), "backup", "{d:?}");
    assert_eq!(kad.state("a"), "BACKUP", "{}", kad.log_text());
    assert_eq!(kad.state("b"), "MASTER", "{}", kad.log_text());
    assert!(d.stat("b", "adverts_received") > 0 && d.stat("a", "adverts_sent") > 0);

    // 2. Split brain (host 1's port leaves the bridge, carrier stays up):
    // everyone is master; on heal the priorities decide a and b, and the
    // higher primary address (host 2) wins the tie on t, on both daemons.
    let br = lab.bridge_ns();
    lab::ip(&["-n", &br, "link", "set", "p1", "nomaster"]);
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "split brain: both hold a, b and t",
        || {
            lab.holders(&va).len() == 2
                && lab.holders(&vb).len() == 2
                && lab.holders(&vt).len() == 2
        },
    );
    lab::ip(&["-n", &br, "link", "set", "p1", "master", "br0"]);
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "split brain healed: a on vigild, b on keepalived, t on host 2",
        || {
            lab.holders(&va) == vec![v]
                && lab.holders(&vb) == vec![k]
                && lab.holders(&vt) == vec![2]
        },
    );
    std::thread::sleep(adv * 5);
    assert_eq!(lab.holders(&vt), vec![2], "tie-break did not hold");
    let d = vigild_dump(&lab, vd, &vname);
    let (vt_state, kt_state) = if v == 2 {
        ("master", "BACKUP")
    } else {
        ("backup", "MASTER")
    };
    assert_eq!(d.state("t"), vt_state, "vigild tie-break: {d:?}");
    assert_eq!(
        kad.state("t"),
        kt_state,
        "keepalived tie-break:\n{}",
        kad.log_text()
    );
    assert_eq!(
        (d.state("a"), d.state("b")),
        ("master".into(), "backup".into())
    );
    assert_eq!(
        (kad.state("a"), kad.state("b")),
        ("BACKUP".into(), "MASTER".into())
    );
    println!(
        "FIGURE {}: tie on t won by host 2 ({})",
        c.tag,
        if v == 2 { "vigild" } else { "keepalived" }
    );

    // 3. Carrier loss on vigild's host: keepalived takes a; vigild faults
    // and drops every VIP; on heal vigild preempts a back, b stays.
    lab.cut(v);
    let t = wait(
        &lab,
        &kad,
        &vname,
        long,
        "keepalived takes a after vigild's link is cut",
        || lab.holders(&va) == vec![k],
    );
    println!(
        "FIGURE {}: cut vigild host -> keepalived holds a: {:.0} ms (master-down {} ms)",
        c.tag,
        ms(t),
        md.as_millis()
    );
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "vigild drops its VIPs in fault",
        || !lab.holds(v, &va) && !lab.holds(v, &vb) && !lab.holds(v, &vt),
    );
    let d = vigild_dump(&lab, vd, &vname);
    assert!(
        ["a", "b", "t"].iter().all(|r| d.state(r) == "fault"),
        "{d:?}"
    );
    assert_eq!(kad.state("a"), "MASTER", "{}", kad.log_text());
    lab.heal(v);
    let t = wait(
        &lab,
        &kad,
        &vname,
        long,
        "vigild preempts a back after heal",
        || lab.holders(&va) == vec![v] && lab.holders(&vb) == vec![k],
    );
    println!(
        "FIGURE {}: heal -> vigild holds a again: {:.0} ms",
        c.tag,
        ms(t)
    );
    wait(
        &lab,
        &kad,
        &vname,
        adv * 10,
        "keepalived back to BACKUP for a",
        || kad.state("a") == "BACKUP",
    );
    assert_eq!(vigild_dump(&lab, vd, &vname).state("a"), "master");

    // 4. Carrier loss on keepalived's host: vigild takes b, keepalived
    // preempts it back on heal.
    lab.cut(k);
    let t = wait(
        &lab,
        &kad,
        &vname,
        long,
        "vigild takes b after keepalived's link is cut",
        || lab.holders(&vb) == vec![v],
    );
    println!(
        "FIGURE {}: cut keepalived host -> vigild holds b: {:.0} ms",
        c.tag,
        ms(t)
    );
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "keepalived in FAULT for b",
        || kad.state("b") == "FAULT",
    );
    assert_eq!(vigild_dump(&lab, vd, &vname).state("b"), "master");
    lab.heal(k);
    let t = wait(
        &lab,
        &kad,
        &vname,
        long,
        "keepalived preempts b back after heal",
        || lab.holders(&vb) == vec![k] && lab.holders(&va) == vec![v],
    );
    println!(
        "FIGURE {}: heal -> keepalived holds b again: {:.0} ms",
        c.tag,
        ms(t)
    );
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "vigild back to backup for b",
        || vigild_dump(&lab, vd, &vname).state("b") == "backup",
    );

    // 5. SIGTERM of vigild: priority 0, keepalived takes a in about the
    // skew time (well before a master-down), then vigild comes back.
    lab.signal(vd, Signal::SIGTERM);
    let t = wait(
        &lab,
        &kad,
        &vname,
        long,
        "keepalived takes a after vigild's priority 0",
        || lab.holders(&va) == vec![k],
    );
    println!(
        "FIGURE {}: SIGTERM vigild -> keepalived holds a: {:.1} ms (skew {:.1} ms, master-down {} ms)",
        c.tag,
        ms(t),
        c.adv_ms as f64 * 156.0 / 256.0,
        md.as_millis()
    );
    assert!(
        t < adv * 2,
        "takeover after priority 0 took {t:?}: not the skew time"
    );
    let st = lab
        .wait_exit(vd, Duration::from_secs(5))
        .expect("vigild did not exit on SIGTERM");
    assert!(st.success(), "vigild exit status {st:?}");
    assert!(
        !lab.holds(v, &va) && !lab.holds(v, &vt),
        "vigild left VIPs behind"
    );
    vd = lab.start_vigild(v, &plan, &vname);
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "restarted vigild preempts a",
        || lab.holders(&va) == vec![v] && lab.holders(&vb) == vec![k],
    );

    // 6. SIGTERM of keepalived: vigild takes b in about the skew time.
    let before = vigild_dump(&lab, vd, &vname).stat("b", "priority_zero_received");
    let t0 = Instant::now();
    kad.terminate();
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "vigild takes b after keepalived's priority 0",
        || lab.holders(&vb) == vec![v],
    );
    let t = t0.elapsed();
    kad.stop();
    println!(
        "FIGURE {}: SIGTERM keepalived -> vigild holds b: {:.1} ms",
        c.tag,
        ms(t)
    );
    let d = vigild_dump(&lab, vd, &vname);
    assert!(
        t < adv * 2,
        "takeover after priority 0 took {t:?}: not the skew time"
    );
    assert!(d.stat("b", "priority_zero_received") > before, "{d:?}");
    assert_eq!(d.state("b"), "master");
    kad.restart();
    wait(
        &lab,
        &kad,
        &vname,
        long,
        "restarted keepalived preempts b",
        || lab.holders(&vb) == vec![k] && lab.holders(&va) == vec![v],
    );

    // 7. Nobody complained about anybody's packets.
    std::thread::sleep(adv * 3);
    let d = vigild_dump(&lab, vd, &vname);
    for r in ["a", "b", "t"] {
        assert_eq!(d.rx_errors(r), 0, "vigild rejected packets of {r}: {d:?}");
    }
    let unattributed: u64 = d
        .unattributed
        .as_object()
        .unwrap()
        .values()
        .filter_map(|x| x.as_u64())
        .sum();
    assert_eq!(unattributed, 0, "{d:?}");
    assert_eq!(d.shell["malformed_ip"], 0, "{d:?}");
    let complaints = kad.complaints(0);
    assert!(
        complaints.is_empty(),
        "keepalived complained:\n{}",
        complaints.join("\n")
    );
    assert!(
        vigild_transitions(&lab, &vname, "a")
            .iter()
            .any(|(_, to, _)| to == "fault"),
        "vigild logged no fault transition"
    );
    drop(kad);
    drop(guard);
}

#[test]
fn v2_ipv4_multicast_vigild_and_keepalived() {
    run_case(Case {
        tag: "iv2m",
        version: 2,
        fam: Fam::V4,
        unicast: false,
        adv_ms: 1000,
        vigild_host: 1,
    });
}

#[test]
fn v2_ipv4_unicast_vigild_and_keepalived() {
    run_case(Case {
        tag: "iv2u",
        version: 2,
        fam: Fam::V4,
        unicast: true,
        adv_ms: 1000,
        vigild_host: 2,
    });
}

#[test]
fn v3_ipv4_multicast_vigild_and_keepalived() {
    run_case(Case {
        tag: "iv3m",
        version: 3,
        fam: Fam::V4,
        unicast: false,
        adv_ms: 100,
        vigild_host: 2,
    });
}

#[test]
fn v3_ipv4_unicast_vigild_and_keepalived() {
    run_case(Case {
        tag: "iv3u",
        version: 3,
        fam: Fam::V4,
        unicast: true,
        adv_ms: 100,
        vigild_host: 1,
    });
}

#[test]
fn v3_ipv6_multicast_vigild_and_keepalived() {
    run_case(Case {
        tag: "iv6m",
        version: 3,
        fam: Fam::V6,
        unicast: false,
        adv_ms: 100,
        vigild_host: 1,
    });
}

/// VRRPv2 simple-password interop, a wrong password, a foreign VRID.
///
/// Host 1 runs vigild, host 2 keepalived, both with the password the
/// compiler put into their files; router `pa` has vigild as master, `pb`
/// keepalived. Host 3 then runs a second keepalived (from host 2's emitted
/// file, patched) that claims both routers with a wrong
/// password (priority 255, so it is master from its start: a keepalived
/// backup treats even rejected adverts as a sign of life and would never
/// time out into master) and also runs VRID 99, which nobody else has. Neither vigild nor
/// keepalived may react: vigild counts auth failures and unknown VRIDs in
/// its dump, keepalived logs them, and no state changes.
#[test]
fn v2_password_interop_wrong_password_and_foreign_vrid_ignored() {
    if !lab::available() || !interop::tools_available() {
        return;
    }
    let lab = Lab::new("iauth", 3);
    let guard = interop::Cleanup::new(&lab);
    let mut lab = lab;
    let topo = "[cluster]\nname = \"interop\"\nstartup_delay = \"0s\"\n\n[segment.lab]\nsubnets = [\"10.77.0.0/24\"]\n\n\
        [host.n1.interface.eth0]\nsegment = \"lab\"\naddresses = [\"10.77.0.11/24\"]\n\n\
        [host.n2]\nruntime = \"keepalived\"\n[host.n2.interface.eth0]\nsegment = \"lab\"\naddresses = [\"10.77.0.12/24\"]\n\n\
        [router.pa]\nsegment = \"lab\"\nvrid = 20\nversion = 2\nadvert_interval = \"1s\"\nvips = [\"10.77.0.120/24\"]\n\
        auth = { type = \"pass\", password = \"vrrp-42\" }\naccept_split_brain = \"lab\"\n\
        [router.pa.member.n1]\npriority = 150\n[router.pa.member.n2]\npriority = 100\n\n\
        [router.pb]\nsegment = \"lab\"\nvrid = 21\nversion = 2\nadvert_interval = \"1s\"\nvips = [\"10.77.0.121/24\"]\n\
        auth = { type = \"pass\", password = \"vrrp-42\" }\naccept_split_brain = \"lab\"\n\
        [router.pb.member.n1]\npriority = 100\n[router.pb.member.n2]\npriority = 150\n";
    let topo = lab.write("topology.toml", topo);
    let out = lab.dir.join("out");
    interop::vigil_build(&topo, &out);
    // The plan names the secret by its installed path; point it at the build output.
    let mut plan = std::fs::read_to_string(out.join("n1/plan.json")).unwrap();
    for r in ["pa", "pb"] {
        let secret = out.join(format!("n1/secrets/{r}.pass"));
        assert!(secret.exists(), "no secret {}", secret.display());
        plan = plan_set(
            &plan,
            r,
            "auth",
            serde_json::json!({"password_file": secret}),
        );
    }
    let plan = lab.write("n1-plan.json", &plan);
    let conf = std::fs::read_to_string(out.join("n2/keepalived.conf")).unwrap();
    assert!(conf.contains("auth_pass vrrp-42"), "{conf}");
    // Make keepalived say when it ignores a VRID it does not run.
    let conf = conf.replacen("global_defs {", "global_defs {\n    log_unknown_vrids", 1);
    let conf2 = lab.write("n2.conf", &conf);
    let mut intruder = conf.replace("router_id n2", "router_id n3");
    for r in ["pa", "pb"] {
        // Priority 255 (address owner): keepalived claims mastership at once,
        // and a receiver accepting these adverts would yield at once.
        intruder = kad_set(&intruder, r, "priority", "priority 255");
        intruder = kad_set(&intruder, r, "auth_pass", "auth_pass wrong-pw");
    }
    intruder += "\nvrrp_instance x {\n    state BACKUP\n    interface eth0\n    virtual_router_id 99\n    version 2\n    priority 254\n    advert_int 1\n    virtual_ipaddress {\n        10.77.0.199/24 dev eth0\n    }\n}\n";
    let conf3 = lab.write("n3.conf", &intruder);
    let (va, vb) = ("10.77.0.120/24", "10.77.0.121/24");

    let kad = Keepalived::start(&lab.ns(2), "n2", &conf2, &lab.dir);
    let vd = lab.start_vigild(1, &plan, "n1");
    let long = Duration::from_secs(12);
    // Authenticated adverts are accepted both ways: one holder each.
    wait(
        &lab,
        &kad,
        "n1",
        long,
        "pa on vigild, pb on keepalived",
        || lab.holders(va) == vec![1] && lab.holders(vb) == vec![2],
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!((lab.holders(va), lab.holders(vb)), (vec![1], vec![2]));
    let d0 = vigild_dump(&lab, vd, "n1");
    assert_eq!(
        (d0.state("pa"), d0.state("pb")),
        ("master".into(), "backup".into())
    );
    assert_eq!(
        (kad.state("pa"), kad.state("pb")),
        ("BACKUP".into(), "MASTER".into())
    );
    assert_eq!(
        d0.stat("pa", "auth_failures") + d0.stat("pb", "auth_failures"),
        0,
        "{d0:?}"
    );
    assert!(d0.stat("pb", "adverts_received") > 0, "{d0:?}");
    assert!(
        kad.complaints(0).is_empty(),
        "{}",
        kad.complaints(0).join("\n")
    );
    let kad_lines = kad.line_count();
    let pa_before = vigild_transitions(&lab, "n1", "pa").len();
    let pb_before = vigild_transitions(&lab, "n1", "pb").len();

    // The intruder: priority 254, wrong password, plus VRID 99.
    let intr = Keepalived::start(&lab.ns(3), "n3", &conf3, &lab.dir);
    wait(
        &lab,
        &kad,
        "n1",
        long,
        "the intruder claims pa, pb and x",
        || ["pa", "pb", "x"].iter().all(|r| intr.state(r) == "MASTER"),
    );
    // Let the intruder advertise for a while; vigild must count what it rejects.
    let mut d = vigild_dump(&lab, vd, "n1");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(12) {
        d = vigild_dump(&lab, vd, "n1");
        if d.stat("pa", "auth_failures") >= 3
            && d.stat("pb", "auth_failures") >= 1
            && d.unattributed["vrid_errors"].as_u64().unwrap_or(0) >= 3
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        (d.state("pa"), d.state("pb")),
        ("master".into(), "backup".into()),
        "{d:?}"
    );
    assert!(
        d.stat("pa", "auth_failures") >= 3 && d.stat("pb", "auth_failures") >= 1,
        "vigild did not count the wrong password: {d:?}"
    );
    assert!(
        d.unattributed["vrid_errors"].as_u64().unwrap() >= 3,
        "vigild did not count VRID 99: {d:?}"
    );
    assert_eq!(
        vigild_transitions(&lab, "n1", "pa").len(),
        pa_before,
        "vigild (master of pa) changed state because of the intruder:\n{}",
        lab.log("n1")
    );
    // pb: keepalived (n2) is its master, and a keepalived master re-arms its
    // own advert timer on every advert it rejects; the intruder advertising
    // pb every second can silence n2 for longer than the master-down
    // interval (n2's log then shows the rejections and no timeout of its
    // own). vigild then rightly takes pb over and hands it back on n2's next
    // advert. Anything else is a reaction to the intruder itself.
    let pb_after: Vec<(String, String, String)> = vigild_transitions(&lab, "n1", "pb")
        .into_iter()
        .skip(pb_before)
        .collect();
    let silenced = kad.log_text().contains("(pb) received an invalid passwd!");
    let only_master_down_and_back = pb_after.chunks(2).all(|c| {
        c.len() == 2
            && c[0] == ("backup".into(), "master".into(), "\"MasterDown\"".into())
            && c[1]
                == (
                    "master".into(),
                    "backup".into(),
                    "\"HigherPriority\"".into(),
                )
    });
    assert!(
        pb_after.is_empty() || (silenced && only_master_down_and_back),
        "vigild (backup of pb) changed state because of the intruder: {pb_after:?}\n{}",
        lab.log("n1")
    );
    // keepalived: still BACKUP/MASTER, no new state lines, and it says why.
    assert_eq!(
        (kad.state("pa"), kad.state("pb")),
        ("BACKUP".into(), "MASTER".into())
    );
    let new: Vec<String> = kad
        .log_text()
        .lines()
        .skip(kad_lines)
        .map(str::to_string)
        .collect();
    assert!(
        !new.iter().any(|l| l.contains("Entering")),
        "keepalived changed state because of the intruder:\n{}",
        new.join("\n")
    );
    // Which side rejects pb's wrong password depends on who advertised
    // first: both are keepalived masters of pb, and a keepalived master
    // re-arms its advert timer on every advert it rejects, so the one that
    // speaks first can keep the other silent for the whole run. Either
    // way a keepalived must say it refused the password.
    let rejected_by_n2 = new
        .iter()
        .any(|l| l.contains("(pb) received an invalid passwd"));
    let rejected_by_intruder = intr.log_text().contains("(pb) received an invalid passwd");
    assert!(
        rejected_by_n2 || rejected_by_intruder,
        "no keepalived rejected pb's wrong password:\nn2:\n{}\nintruder:\n{}",
        new.join("\n"),
        intr.log_text()
    );
    assert!(
        new.iter().any(|l| l.contains("Unknown VRID(99)")),
        "keepalived did not log VRID 99:\n{}",
        new.join("\n")
    );
    // The VIPs stayed where they were on hosts 1 and 2 (the intruder holds
    // copies: it rejects everybody's adverts in turn).
    assert!(lab.holds(1, va) && !lab.holds(2, va));
    assert!(lab.holds(2, vb) && !lab.holds(1, vb));
    // The intruder rejects vigild's adverts as well: the password check is symmetric.
    assert!(
        intr.log_text().contains("(pa) received an invalid passwd"),
        "{}",
        intr.log_text()
    );
    drop(intr);
    drop(kad);
    drop(guard);
}
