//! Virtual MAC interop: vigild (lab host 1) and keepalived 2.2.7 with
//! `use_vmac` (host 2, its keepalived.conf emitted by `vigil build`) run two
//! VRRPv3 routers with `vmac = true`: `a` (vigild master) and `b`
//! (keepalived master). Host 3 is a client. Checked both ways: each daemon
//! hears the other through the shared virtual MAC (no dual master), each
//! master's VIP sits on its macvlan and resolves to 00:00:5e:00:01:VRID from
//! the client, a carrier loss on vigild's host moves `a` to keepalived and a
//! SIGTERM of keepalived moves `b` to vigild, with the client's ARP entries
//! unchanged and the VIPs answering.
//!
//! Needs root, iproute2, keepalived and the compiler binary; skipped like
//! the other interop tests when they are missing.

mod interop;
mod lab;

use std::process::Command;
use std::time::Duration;

use interop::Keepalived;
use lab::Lab;

const TOPOLOGY: &str = r#"[cluster]
name = "interop"

[segment.lab]
subnets = ["10.77.0.0/24"]

[host.n1.interface.eth0]
segment = "lab"
addresses = ["10.77.0.11/24"]

[host.n2]
runtime = "keepalived"
[host.n2.interface.eth0]
segment = "lab"
addresses = ["10.77.0.12/24"]

[router.a]
segment = "lab"
vrid = 10
version = 3
advert_interval = "100ms"
vips = ["10.77.0.110/24"]
vmac = true
accept_split_brain = "a two-host lab"
[router.a.member.n1]
priority = 150
[router.a.member.n2]
priority = 100

[router.b]
segment = "lab"
vrid = 11
version = 3
advert_interval = "100ms"
vips = ["10.77.0.111/24"]
vmac = true
accept_split_brain = "a two-host lab"
[router.b.member.n1]
priority = 100
[router.b.member.n2]
priority = 150
"#;

const A: (&str, &str, &str) = ("10.77.0.110/24", "vrrp.10", "00:00:5e:00:01:0a");
const B: (&str, &str, &str) = ("10.77.0.111/24", "vrrp.11", "00:00:5e:00:01:0b");

/// The interfaces of host `i` holding `vip` (as `ip -o addr` prints it).
fn holders_dev(lab: &Lab, i: usize, vip: &str) -> Vec<String> {
    lab::ip(&["-n", &lab.ns(i), "-o", "addr", "show"])
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == vip))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// (host, device) pairs holding `vip` on hosts 1 and 2.
fn placement(lab: &Lab, vip: &str) -> Vec<(usize, String)> {
    (1..=2)
        .flat_map(|h| holders_dev(lab, h, vip).into_iter().map(move |d| (h, d)))
        .collect()
}

fn ping(lab: &Lab, addr: &str) -> bool {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns(3),
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            addr,
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn neigh(lab: &Lab, addr: &str) -> Option<String> {
    let text = lab::ip(&["-n", &lab.ns(3), "neigh", "show", addr]);
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == "lladdr")
        .and_then(|p| words.get(p + 1))
        .map(|s| s.to_string())
}

/// The client forgets `addr`, pings it and returns the MAC it resolved.
fn resolve(lab: &Lab, addr: &str) -> Option<String> {
    let _ = Command::new("ip")
        .args(["-n", &lab.ns(3), "neigh", "flush", "to", addr])
        .status();
    ping(lab, addr).then(|| neigh(lab, addr)).flatten()
}

fn dump(lab: &Lab, kad: &Keepalived) -> String {
    format!(
        "a: {:?} b: {:?}\n--- vigild\n{}\n--- keepalived\n{}",
        placement(lab, A.0),
        placement(lab, B.0),
        lab.log("n1"),
        kad.log_text()
    )
}

fn addr_of(vip: &str) -> &str {
    vip.split('/').next().unwrap()
}

#[test]
fn vigild_and_keepalived_share_virtual_macs_both_ways() {
    if !lab::available() || !interop::tools_available() {
        return;
    }
    let mut lab = Lab::new("iv", 3);
    let _guard = interop::Cleanup::new(&lab);
    let topo = lab.write("topology.toml", TOPOLOGY);
    let out = lab.dir.join("out");
    interop::vigil_build(&topo, &out);
    let conf = std::fs::read_to_string(out.join("n2/keepalived.conf")).unwrap();
    assert!(
        conf.contains("use_vmac vrrp.10") && conf.contains("use_vmac vrrp.11"),
        "{conf}"
    );
    let conf = lab.write("keepalived.conf", &conf);
    let plan = out.join("n1/plan.json");

    let mut kad = Keepalived::start(&lab.ns(2), "n2", &conf, &lab.dir);
    let vd = lab.start_vigild(1, &plan, "n1");
    let converged = |lab: &Lab| {
        placement(lab, A.0) == vec![(1, A.1.to_string())]
            && placement(lab, B.0) == vec![(2, B.1.to_string())]
    };
    assert!(
        lab.wait_for(Duration::from_secs(10), || converged(&lab))
            .is_some(),
        "no convergence: {}",
        dump(&lab, &kad)
    );
    // Stable: nobody claims the other's router (each hears the other's
    // adverts, which carry the same virtual MAC as its own macvlan).
    std::thread::sleep(Duration::from_millis(1500));
    assert!(converged(&lab), "not stable: {}", dump(&lab, &kad));
    // keepalived sets arp_ignore on its host but not arp_announce: its
    // host then asks for the client with a VIP as the sender and its own
    // MAC, which teaches the client that MAC for the VIP. Set it as vigild
    // does on its own host (what an operator of keepalived does by hand).
    let sysctl = |key: &str| {
        let out = Command::new("ip")
            .args(["netns", "exec", &lab.ns(2), "sysctl", "-n", key])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    println!(
        "FIGURE keepalived host: eth0 arp_ignore={} arp_announce={} arp_filter={}",
        sysctl("net.ipv4.conf.eth0.arp_ignore"),
        sysctl("net.ipv4.conf.eth0.arp_announce"),
        sysctl("net.ipv4.conf.eth0.arp_filter")
    );
    lab.sysctl(2, "net.ipv4.conf.eth0.arp_announce", "2");
    assert_eq!(kad.state("a"), "BACKUP", "{}", kad.log_text());
    assert_eq!(kad.state("b"), "MASTER", "{}", kad.log_text());
    for (vip, _, mac) in [A, B] {
        assert_eq!(resolve(&lab, addr_of(vip)).as_deref(), Some(mac), "{vip}");
    }

    // vigild's host loses its carrier: keepalived takes a; the client's
    // entry for a is still the virtual MAC and a answers from host 2.
    lab.cut(1);
    assert!(
        lab.wait_for(Duration::from_secs(5), || placement(&lab, A.0)
            == vec![(2, A.1.to_string())])
            .is_some(),
        "keepalived did not take a: {}",
        dump(&lab, &kad)
    );
    assert_eq!(neigh(&lab, addr_of(A.0)).as_deref(), Some(A.2));
    assert!(
        lab.wait_for(Duration::from_secs(3), || ping(&lab, addr_of(A.0)))
            .is_some()
    );
    assert_eq!(resolve(&lab, addr_of(A.0)).as_deref(), Some(A.2));
    // Heal: vigild preempts a back.
    lab.heal(1);
    assert!(
        lab.wait_for(Duration::from_secs(5), || converged(&lab))
            .is_some(),
        "vigild did not take a back: {}",
        dump(&lab, &kad)
    );

    // keepalived stops (priority 0): vigild takes b on its macvlan.
    kad.stop();
    assert!(
        lab.wait_for(Duration::from_secs(5), || placement(&lab, B.0)
            == vec![(1, B.1.to_string())])
            .is_some(),
        "vigild did not take b: {}",
        dump(&lab, &kad)
    );
    assert_eq!(neigh(&lab, addr_of(B.0)).as_deref(), Some(B.2));
    assert!(
        lab.wait_for(Duration::from_secs(3), || ping(&lab, addr_of(B.0)))
            .is_some()
    );
    assert_eq!(resolve(&lab, addr_of(B.0)).as_deref(), Some(B.2));
    let _ = vd;
}
