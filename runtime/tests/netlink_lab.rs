//! The rtnetlink layer against a real kernel, in a fresh namespace.

mod lab;

use std::time::Duration;

use vigild::netlink::NlConn;
use vigild::netlink::addr::{self, Change, IfAddr};
use vigild::netlink::link::{self, LinkMonitor};

#[test]
fn vip_add_remove_dump_ipv4_and_ipv6() {
    if !lab::available() {
        return;
    }
    let lab = lab::Lab::new("nla", 1);
    let vip4 = lab.vip(1);
    let dump = lab.in_ns(1, move || {
        let mut nl = NlConn::open().unwrap();
        let eth0 = link::get_by_name(&mut nl, "eth0").unwrap();
        assert_eq!(eth0.name, "eth0");
        let a4 = IfAddr {
            address: vip4.into(),
            prefix_len: 24,
            ifindex: eth0.ifindex,
            label: Some("eth0:vip".into()),
        };
        let a6 = IfAddr {
            address: "fd00:77::100".parse().unwrap(),
            prefix_len: 64,
            ifindex: eth0.ifindex,
            label: None,
        };
        assert_eq!(addr::add(&mut nl, &a4).unwrap(), Change::Done);
        assert_eq!(addr::add(&mut nl, &a4).unwrap(), Change::AlreadyDone);
        assert_eq!(addr::add(&mut nl, &a6).unwrap(), Change::Done);
        assert_eq!(addr::add(&mut nl, &a6).unwrap(), Change::AlreadyDone);
        let d = addr::dump(&mut nl, eth0.ifindex).unwrap();
        (eth0, d)
    });
    let (eth0, dumped) = dump;
    assert_eq!(eth0.mac, lab.mac(1).to_vec());
    let shown = lab.addrs(1);
    assert!(shown.contains(&format!("{vip4}/24")), "{shown}");
    assert!(shown.contains("eth0:vip"), "{shown}");
    assert!(shown.contains("fd00:77::100/64"), "{shown}");
    // The dump sees the host address, both VIPs (with the label) and the link-local.
    assert!(
        dumped
            .iter()
            .any(|a| a.address == std::net::IpAddr::V4(lab.addr(1)) && a.prefix_len == 24)
    );
    assert!(
        dumped
            .iter()
            .any(|a| a.address == std::net::IpAddr::V4(vip4)
                && a.label.as_deref() == Some("eth0:vip"))
    );
    assert!(
        dumped
            .iter()
            .any(|a| a.address.to_string() == "fd00:77::100" && a.prefix_len == 64)
    );
    assert!(
        dumped
            .iter()
            .any(|a| a.address.to_string().starts_with("fe80::"))
    );
    assert!(dumped.iter().all(|a| a.ifindex == eth0.ifindex));

    let ifindex = eth0.ifindex;
    lab.in_ns(1, move || {
        let mut nl = NlConn::open().unwrap();
        let a4 = IfAddr {
            address: vip4.into(),
            prefix_len: 24,
            ifindex,
            label: Some("eth0:vip".into()),
        };
        let a6 = IfAddr {
            address: "fd00:77::100".parse().unwrap(),
            prefix_len: 64,
            ifindex,
            label: None,
        };
        assert_eq!(addr::remove(&mut nl, &a4).unwrap(), Change::Done);
        assert_eq!(addr::remove(&mut nl, &a4).unwrap(), Change::AlreadyDone);
        assert_eq!(addr::remove(&mut nl, &a6).unwrap(), Change::Done);
        assert_eq!(addr::remove(&mut nl, &a6).unwrap(), Change::AlreadyDone);
        // An unknown interface is a real error, not "already done".
        let bogus = IfAddr {
            address: vip4.into(),
            prefix_len: 24,
            ifindex: 9999,
            label: None,
        };
        assert!(addr::add(&mut nl, &bogus).is_err());
        assert!(link::get_by_name(&mut nl, "nosuchif0").is_err());
    });
    let shown = lab.addrs(1);
    assert!(!shown.contains(&format!("{vip4}/")), "{shown}");
    assert!(!shown.contains("fd00:77::100"), "{shown}");
    assert!(shown.contains(&format!("{}/24", lab.addr(1))), "{shown}");
}

#[test]
fn link_monitor_reports_carrier_loss_and_return() {
    if !lab::available() {
        return;
    }
    let lab = lab::Lab::new("nlm", 1);
    let ns = lab.ns(1);
    let br = lab.bridge_ns();
    let events = lab.in_ns(1, move || {
        let mut mon = LinkMonitor::open().unwrap();
        let mut seen = Vec::new();
        lab::ip(&["-n", &br, "link", "set", "p1", "down"]);
        let wait = |mon: &mut LinkMonitor, seen: &mut Vec<_>, want_up: bool| {
            for _ in 0..200 {
                for ev in mon.drain().unwrap() {
                    seen.push(ev);
                }
                if seen
                    .iter()
                    .any(|e: &link::LinkInfo| e.name == "eth0" && e.is_up() == want_up)
                {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!("no eth0 up={want_up} event; saw {seen:?}");
        };
        wait(&mut mon, &mut seen, false);
        seen.clear();
        lab::ip(&["-n", &br, "link", "set", "p1", "up"]);
        wait(&mut mon, &mut seen, true);
        seen
    });
    assert!(
        events
            .iter()
            .any(|e| e.name == "eth0" && e.admin_up && e.lower_up),
        "{events:?} in {ns}"
    );
}
