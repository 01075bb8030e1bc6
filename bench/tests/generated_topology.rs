//! The generated topology deserialises into the shared model and keeps the
//! invariants that make it clean: unique VRIDs per segment (none reserved),
//! distinct priorities, VIPs inside the segment and distinct from every host
//! address and reference IP, arbitration everywhere, and demotions that move
//! the VIP without pushing a priority below 1.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use vigil_bench::{MAX_ROUTERS_PER_SEGMENT, Shape, generate};
use vigil_schema::topology::{OnFail, Topology};

fn parse(shape: Shape) -> Topology {
    let text = generate(shape).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{shape:?} does not parse: {e}"))
}

fn check_invariants(shape: Shape) {
    let topo = parse(shape);
    assert_eq!(topo.host.len(), shape.hosts);
    assert_eq!(topo.router.len(), shape.routers);
    assert_eq!(topo.segment.len(), shape.segments());

    let mut host_addrs: BTreeSet<IpAddr> = BTreeSet::new();
    let mut host_segment: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, host) in &topo.host {
        assert_eq!(host.interface.len(), 1);
        let iface = &host.interface["eth0"];
        host_segment.insert(name, iface.segment.as_str());
        for a in &iface.addresses {
            assert!(host_addrs.insert(a.addr), "{} used twice", a.addr);
        }
    }
    let reference: BTreeSet<IpAddr> = topo
        .segment
        .values()
        .flat_map(|s| s.reference_ips.iter().map(|ip| **ip))
        .collect();

    let mut vrids: BTreeSet<(&str, i64)> = BTreeSet::new();
    let mut vips: BTreeSet<IpAddr> = BTreeSet::new();
    for (name, router) in &topo.router {
        let segment = &topo.segment[router.segment.as_str()];
        let reserved: Vec<i64> = segment.reserved_vrids.iter().map(|r| *r.vrid).collect();
        assert!(
            !reserved.contains(&router.vrid),
            "{name} uses a reserved VRID"
        );
        assert!((1..=255).contains(&*router.vrid));
        assert!(
            vrids.insert((router.segment.as_str(), *router.vrid)),
            "{name}: VRID collision"
        );
        assert!(router.arbitration.is_some(), "{name} has no arbitration");

        for vip in router.vips.iter() {
            assert!(
                segment.subnets.iter().any(|net| net.contains(vip.addr)),
                "{name}: VIP outside"
            );
            assert!(!host_addrs.contains(&vip.addr) && !reference.contains(&vip.addr));
            assert!(vips.insert(vip.addr), "{name}: VIP {} used twice", vip.addr);
        }
        for ip in &segment.reference_ips {
            assert!(segment.subnets.iter().any(|net| net.contains(**ip)));
        }

        assert!(
            (2..=3).contains(&router.member.len()),
            "{name}: member count"
        );
        let mut priorities: Vec<i64> = router.member.values().map(|m| *m.priority).collect();
        for host in router.member.keys() {
            assert_eq!(host_segment[host.as_str()], router.segment.as_str());
        }
        priorities.sort_unstable_by(|a, b| b.cmp(a));
        priorities.dedup();
        assert_eq!(
            priorities.len(),
            router.member.len(),
            "{name}: priority tie"
        );

        assert_eq!(router.track.len(), 1);
        for tracker in router.track.values() {
            if let OnFail::Demote(weight) = &tracker.on_fail.value {
                // The master must fall below the next member; nobody below 1.
                assert!(
                    priorities[0] - **weight < priorities[1],
                    "{name}: demotion too small"
                );
                assert!(priorities.last().unwrap() - **weight >= 1, "{name}: clamps");
            }
        }
    }
}

#[test]
fn small_shapes_keep_the_invariants() {
    for (hosts, routers) in [(2, 1), (3, 3), (10, 25), (7, 201), (50, 450)] {
        check_invariants(Shape { hosts, routers });
    }
}

#[test]
fn the_benchmark_shape_keeps_the_invariants() {
    let shape = Shape {
        hosts: 1000,
        routers: 2000,
    };
    assert_eq!(shape.segments(), 2000 / MAX_ROUTERS_PER_SEGMENT);
    check_invariants(shape);
}

#[test]
fn too_few_hosts_are_refused_with_a_reason() {
    let err = generate(Shape {
        hosts: 3,
        routers: 400,
    })
    .unwrap_err();
    assert!(err.contains("at least 4 hosts"), "{err}");
}

#[test]
fn output_is_deterministic() {
    let shape = Shape {
        hosts: 20,
        routers: 30,
    };
    assert_eq!(generate(shape).unwrap(), generate(shape).unwrap());
}
