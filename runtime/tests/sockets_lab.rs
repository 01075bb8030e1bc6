//! The raw sockets between two namespaces: VRRP adverts (IPv4 multicast and
//! unicast, IPv6 multicast), gratuitous ARP and unsolicited NA, each checked
//! on the receiving host and, for adverts, dissected by tshark.

mod lab;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use vigil_schema::plan::Family;
use vigild::net::arp_socket::ArpSocket;
use vigild::net::na_socket::NaSocket;
use vigild::net::vrrp_socket::{RecvMeta, VRRP_GROUP_V4, VRRP_GROUP_V6, VrrpSocket};
use vigild::netlink::{NlConn, link};
use vigild::wire::vrrp::{Auth, Centis, Repr, Version};
use vigild::wire::{IpMeta, MacAddr, arp, ndisc};

fn ifindex() -> u32 {
    link::get_by_name(&mut NlConn::open().unwrap(), "eth0")
        .unwrap()
        .ifindex
}

/// Receives on `sock` until a datagram arrives or 2 s pass.
fn recv_one(sock: &VrrpSocket) -> (RecvMeta, Vec<u8>) {
    let mut buf = vec![0u8; 2048];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if let Some(r) = sock.recv(&mut buf).unwrap() {
            let m = r.unwrap();
            return (m, buf[m.offset..m.offset + m.len].to_vec());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("no VRRP packet received");
}

fn advert(version: Version, vip: IpAddr) -> Repr {
    Repr {
        version,
        vrid: 42,
        priority: 150,
        advert_interval: Centis(100),
        addresses: vec![vip],
        auth: Auth::None,
    }
}

#[test]
fn vrrp_adverts_cross_namespaces_and_dissect_as_vrrp() {
    if !lab::available() {
        return;
    }
    let mut lab = lab::Lab::new("sov", 2);
    let cap = lab.start_capture("adverts");
    let (a1, a2, vip) = (lab.addr(1), lab.addr(2), lab.vip(1));

    // IPv4 multicast (v2 and v3) and unicast (v3).
    let rx = lab.in_ns(2, || {
        VrrpSocket::open(Family::Ipv4, "eth0", ifindex(), true).unwrap()
    });
    let ns1 = lab.ns(1);
    let sent: Vec<(Repr, IpAddr)> = vec![
        (advert(Version::V2, vip.into()), VRRP_GROUP_V4.into()),
        (advert(Version::V3, vip.into()), VRRP_GROUP_V4.into()),
        (advert(Version::V3, vip.into()), a2.into()),
    ];
    let to_send = sent.clone();
    lab::run_in_netns(&ns1, move || {
        let sock = VrrpSocket::open(Family::Ipv4, "eth0", ifindex(), true).unwrap();
        for (r, dst) in &to_send {
            sock.send(&r.to_bytes(a1.into(), *dst).unwrap(), a1.into(), *dst)
                .unwrap();
        }
    });
    for (r, dst) in &sent {
        let (m, bytes) = recv_one(&rx);
        assert_eq!((m.src, m.dst, m.ttl), (IpAddr::V4(a1), *dst, 255));
        let meta = IpMeta {
            src: m.src,
            dst: m.dst,
            ttl: m.ttl,
        };
        assert_eq!(&Repr::parse_bytes(&meta, &bytes).unwrap(), r);
    }

    // IPv6 multicast from link-local to ff02::12; the kernel fills the checksum.
    let (ll1, ll2) = (lab.link_local(1), lab.link_local(2));
    let vip6: Ipv6Addr = "fd00:42::100".parse().unwrap();
    let rx6 = lab.in_ns(2, || {
        VrrpSocket::open(Family::Ipv6, "eth0", ifindex(), true).unwrap()
    });
    let r6 = advert(Version::V3, vip6.into());
    let r6c = r6.clone();
    lab::run_in_netns(&ns1, move || {
        let sock = VrrpSocket::open(Family::Ipv6, "eth0", ifindex(), true).unwrap();
        let mut bytes = r6c.to_bytes(ll1.into(), VRRP_GROUP_V6.into()).unwrap();
        bytes[6] = 0; // the kernel computes it (IPV6_CHECKSUM)
        bytes[7] = 0;
        sock.send(&bytes, ll1.into(), VRRP_GROUP_V6.into()).unwrap();
    });
    let (m, bytes) = recv_one(&rx6);
    assert_eq!(
        (m.src, m.dst, m.ttl),
        (IpAddr::V6(ll1), IpAddr::V6(VRRP_GROUP_V6), 255)
    );
    assert_ne!(ll1, ll2);
    let meta = IpMeta {
        src: m.src,
        dst: m.dst,
        ttl: m.ttl,
    };
    assert_eq!(Repr::parse_bytes(&meta, &bytes).unwrap(), r6);

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
            "ipv6.src",
            "-e",
            "vrrp.version",
            "-e",
            "vrrp.checksum.status",
            "-e",
            "ip.ttl",
            "-e",
            "ipv6.hlim",
            "-e",
            "ip.dsfield",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "tshark saw:\n{out}");
    // Every advert: VRRP, checksum Good (status 1), TTL/hop limit 255.
    for l in &lines {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f[3], "1", "checksum not good: {l}");
        assert!(f[4] == "255" || f[5] == "255", "ttl: {l}");
    }
    assert!(
        lines
            .iter()
            .filter(|l| l.split('\t').nth(2) == Some("2"))
            .count()
            == 1,
        "{out}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.split('\t').nth(2) == Some("3"))
            .count()
            == 3,
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&a1.to_string()) && l.contains("0xc0")),
        "{out}"
    );
}

#[test]
fn gratuitous_arp_and_unsolicited_na_reach_the_other_host() {
    if !lab::available() {
        return;
    }
    let lab = lab::Lab::new("sog", 2);
    let vip = lab.vip(1);
    let mac1 = MacAddr(lab.mac(1));
    let arp_rx = lab.in_ns(2, || ArpSocket::listener(ifindex()).unwrap());
    let vip6: Ipv6Addr = "fd00:43::100".parse().unwrap();
    let na_rx = lab.in_ns(2, || {
        let s = socket2::Socket::new(
            socket2::Domain::IPV6,
            socket2::Type::RAW,
            Some(socket2::Protocol::ICMPV6),
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s
    });
    lab.in_ns(1, move || {
        let idx = ifindex();
        let garp = arp::Repr {
            operation: arp::Operation::Request,
            mac: mac1,
            address: vip,
        };
        ArpSocket::sender(idx)
            .unwrap()
            .send_broadcast(&garp.to_bytes())
            .unwrap();
        // The NA source must be an address of the interface: add the VIP first.
        let mut nl = NlConn::open().unwrap();
        vigild::netlink::addr::add(
            &mut nl,
            &vigild::netlink::addr::IfAddr {
                address: vip6.into(),
                prefix_len: 64,
                ifindex: idx,
                label: None,
            },
        )
        .unwrap();
        let na = ndisc::Repr::unsolicited(vip6, mac1, false);
        let mut bytes = na.to_bytes(vip6, "ff02::1".parse().unwrap());
        bytes[2] = 0;
        bytes[3] = 0;
        NaSocket::open("eth0", idx)
            .unwrap()
            .send_all_nodes(&bytes, vip6)
            .unwrap();
    });

    // ARP: the frame parses as a gratuitous request for the VIP from host 1's MAC.
    let mut buf = [0u8; 128];
    let start = Instant::now();
    let mut got = None;
    while start.elapsed() < Duration::from_secs(2) && got.is_none() {
        if let Some((n, from)) = arp_rx.recv(&mut buf).unwrap() {
            if let Ok(r) = arp::Repr::parse(&arp::Packet::new_unchecked(&buf[..n])) {
                if r.address == vip {
                    got = Some((r, from));
                }
            }
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let (r, from) = got.expect("gratuitous ARP not received");
    assert_eq!(r.mac, mac1);
    assert_eq!(from, lab.mac(1));
    assert_eq!(r.operation, arp::Operation::Request);
    assert_ne!(vip, Ipv4Addr::UNSPECIFIED);

    // NA: a neighbour advertisement (type 136) for the VIP with the override flag.
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 256];
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut found = false;
    while Instant::now() < deadline && !found {
        let (n, _) = na_rx.recv_from(&mut buf).expect("NA not received");
        // SAFETY: recv_from initialised the first n bytes.
        let data: Vec<u8> = buf[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        if data[0] == 136 && data[8..24] == vip6.octets() {
            assert_eq!(data[4] & 0x20, 0x20, "override flag");
            found = true;
        }
    }
    assert!(found, "unsolicited NA not received");
}
