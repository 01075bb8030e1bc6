//! Virtual MAC (RFC 5798 §7.3) on a real kernel. Hosts 1 and 2 run vigild
//! with `vmac` on router vi77 (VRID 77); host 3 is a client. The test checks
//! that the VIP lives on the macvlan `vrrp.77` with 00:00:5e:00:01:4d, that
//! host 3 resolves the VIP to that MAC (and only to it), that adverts and
//! gratuitous ARPs leave with it, that a failover moves the VIP while the
//! client's ARP entry stays right, and that the macvlan is removed on
//! SIGTERM, reused after kill -9 + restart, and removed after kill -9 +
//! restart with a plan without it.

mod lab;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use lab::Lab;
use nix::sys::signal::Signal;
use serde_json::Value;

const VIP: &str = "10.77.0.100/24";
const VIP_ADDR: &str = "10.77.0.100";
const VMAC: &str = "vrrp.77";
const MAC: &str = "00:00:5e:00:01:4d";

/// A lab plan, with router vi77 on a virtual MAC when `vmac`.
fn plan(lab: &Lab, name: &str, vmac: bool) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plans")
        .join(name);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    if vmac {
        v["routers"][0]["vmac"] = serde_json::json!({"interface": VMAC, "mac": MAC});
        v["routers"][0]["vips"][0]["label"] = Value::Null;
    }
    let file = format!("{}{name}", if vmac { "vmac-" } else { "" });
    lab.write(&file, &serde_json::to_string_pretty(&v).unwrap())
}

/// `ip -o addr show` of every interface of host `i`.
fn all_addrs(lab: &Lab, i: usize) -> String {
    lab::ip(&["-n", &lab.ns(i), "-o", "addr", "show"])
}

/// The interface of host `i` holding the VIP, if any.
fn vip_dev(lab: &Lab, i: usize) -> Option<String> {
    all_addrs(lab, i)
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == VIP))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
}

/// `link/ether` of `dev` in host `i`, or `None` when there is no such interface.
fn link_mac(lab: &Lab, i: usize, dev: &str) -> Option<String> {
    let out = Command::new("ip")
        .args(["-n", &lab.ns(i), "-o", "link", "show", "dev", dev])
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == "link/ether")
        .and_then(|p| words.get(p + 1))
        .map(|s| s.to_string())
}

/// Host 3 forgets the VIP's neighbour entry, pings it, and returns the MAC it
/// resolved (`None` if the ping failed).
fn resolve_from_client(lab: &Lab) -> Option<String> {
    let ns = lab.ns(3);
    let _ = Command::new("ip")
        .args(["-n", &ns, "neigh", "flush", "dev", "eth0"])
        .status();
    ping_from_client(lab).then(|| client_neigh(lab)).flatten()
}

fn ping_from_client(lab: &Lab) -> bool {
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
            VIP_ADDR,
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn client_neigh(lab: &Lab) -> Option<String> {
    let text = lab::ip(&["-n", &lab.ns(3), "neigh", "show", VIP_ADDR]);
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == "lladdr")
        .and_then(|p| words.get(p + 1))
        .map(|s| s.to_string())
}

fn wait_vip_on(lab: &Lab, host: usize, dev: &str, timeout: Duration) -> bool {
    lab.wait_for(timeout, || {
        vip_dev(lab, host).as_deref() == Some(dev)
            && (1..=2)
                .filter(|&h| h != host)
                .all(|h| vip_dev(lab, h).is_none())
    })
    .is_some()
}

#[test]
fn vmac_answers_arp_moves_with_failover_and_is_cleaned_up() {
    if !lab::available() {
        return;
    }
    let mut lab = Lab::new("vm", 3);
    let p1 = plan(&lab, "v3_100ms_ha1.json", true);
    let p2 = plan(&lab, "v3_100ms_ha2.json", true);
    let c2 = lab.start_vigild(2, &p2, "ha2");
    let c1 = lab.start_vigild(1, &p1, "ha1");
    assert!(
        wait_vip_on(&lab, 1, VMAC, Duration::from_secs(5)),
        "VIP on {:?} / {:?}\n{}",
        vip_dev(&lab, 1),
        vip_dev(&lab, 2),
        lab.log("ha1")
    );
    // Both members have the macvlan, with the RFC's MAC.
    for h in [1, 2] {
        assert_eq!(link_mac(&lab, h, VMAC).as_deref(), Some(MAC), "host {h}");
    }
    let eth0_ha1 = link_mac(&lab, 1, "eth0").unwrap();
    assert_ne!(eth0_ha1, MAC);

    // The client resolves the VIP to the virtual MAC, every time (the
    // parent, which would answer with its own MAC, keeps quiet).
    let cap = lab.start_capture("vmac");
    for _ in 0..3 {
        assert_eq!(resolve_from_client(&lab).as_deref(), Some(MAC));
    }

    // Failover: ha1 loses its link; ha2 takes over. The client's entry,
    // untouched, still points at the right MAC and the VIP answers.
    lab.cut(1);
    assert!(
        wait_vip_on(&lab, 2, VMAC, Duration::from_secs(3))
            || vip_dev(&lab, 2).as_deref() == Some(VMAC),
        "ha2 did not take the VIP onto {VMAC}: {:?}\n{}",
        vip_dev(&lab, 2),
        lab.log("ha2")
    );
    assert_eq!(client_neigh(&lab).as_deref(), Some(MAC));
    assert!(
        lab.wait_for(Duration::from_secs(3), || ping_from_client(&lab))
            .is_some(),
        "the VIP does not answer after the failover"
    );
    assert_eq!(client_neigh(&lab).as_deref(), Some(MAC));
    assert_eq!(resolve_from_client(&lab).as_deref(), Some(MAC));
    let pcap = lab.stop_capture(cap);
    // Adverts and gratuitous ARPs left from the virtual MAC, from both
    // masters in turn; the VIP was never announced with a host's own MAC.
    let adverts = lab::tshark_read(&pcap, &["-Y", "vrrp", "-T", "fields", "-e", "eth.src"]);
    let advert_macs: std::collections::BTreeSet<&str> = adverts.lines().collect();
    assert_eq!(
        advert_macs.into_iter().collect::<Vec<_>>(),
        vec![MAC],
        "advert source MACs"
    );
    let arps = lab::tshark_read(
        &pcap,
        &[
            "-Y",
            &format!("arp.src.proto_ipv4 == {VIP_ADDR}"),
            "-T",
            "fields",
            "-e",
            "arp.opcode",
            "-e",
            "arp.src.hw_mac",
        ],
    );
    assert!(
        arps.lines().any(|l| l.starts_with('2')),
        "no ARP reply for the VIP:\n{arps}"
    );
    for l in arps.lines() {
        assert!(
            l.ends_with(MAC),
            "the VIP announced or answered with another MAC: {l}"
        );
    }
    println!(
        "FIGURE adverts captured: {}, ARP packets for the VIP: {}",
        adverts.lines().count(),
        arps.lines().count()
    );

    // SIGTERM: the VIP and the macvlan go.
    lab.heal(1);
    assert!(
        wait_vip_on(&lab, 1, VMAC, Duration::from_secs(5)),
        "ha1 did not preempt after the heal"
    );
    lab.signal(c1, Signal::SIGTERM);
    let st = lab.wait_exit(c1, Duration::from_secs(5)).expect("SIGTERM");
    assert!(st.success());
    assert_eq!(link_mac(&lab, 1, VMAC), None, "{VMAC} left after SIGTERM");
    assert!(wait_vip_on(&lab, 2, VMAC, Duration::from_secs(3)));

    // kill -9: nothing is cleaned up, the macvlan and the VIP stay.
    lab.signal(c2, Signal::SIGKILL);
    lab.wait_exit(c2, Duration::from_secs(3)).expect("kill -9");
    assert_eq!(link_mac(&lab, 2, VMAC).as_deref(), Some(MAC));
    assert_eq!(vip_dev(&lab, 2).as_deref(), Some(VMAC));
    // Restart with the same plan: the macvlan is reused, the stale VIP on
    // it removed, and the VIP comes back as the lone member takes over.
    let c2 = lab.start_vigild(2, &p2, "ha2");
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab
            .log("ha2")
            .contains(r#""action":"reused""#))
            .is_some(),
        "{}",
        lab.log("ha2")
    );
    assert!(
        lab.wait_for(Duration::from_secs(3), || lab
            .log("ha2")
            .contains(r#""event":"stale_vip_removed""#))
            .is_some(),
        "{}",
        lab.log("ha2")
    );
    assert!(
        wait_vip_on(&lab, 2, VMAC, Duration::from_secs(5)),
        "{}",
        lab.log("ha2")
    );
    assert_eq!(resolve_from_client(&lab).as_deref(), Some(MAC));
    // kill -9 again, then a restart with a plan without vmac: the stale
    // macvlan goes and the VIP moves to eth0.
    lab.signal(c2, Signal::SIGKILL);
    lab.wait_exit(c2, Duration::from_secs(3)).expect("kill -9");
    let plain = plan(&lab, "v3_100ms_ha2.json", false);
    let c2 = lab.start_vigild(2, &plain, "ha2");
    assert!(
        lab.wait_for(Duration::from_secs(3), || link_mac(&lab, 2, VMAC).is_none())
            .is_some(),
        "the stale {VMAC} was not removed:\n{}",
        lab.log("ha2")
    );
    assert!(
        wait_vip_on(&lab, 2, "eth0", Duration::from_secs(5)),
        "{}",
        lab.log("ha2")
    );
    lab.signal(c2, Signal::SIGTERM);
    lab.wait_exit(c2, Duration::from_secs(5)).expect("SIGTERM");
    assert_eq!(vip_dev(&lab, 2), None);
}
