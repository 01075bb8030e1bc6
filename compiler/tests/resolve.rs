//! The resolved model: defaults remember they were not written, objects
//! with one name in several files merge, disagreements become conflicts.

use vigil::model::{Cluster, ObjectKind, TrackAction};
use vigil::pipeline::analyse_texts;
use vigil_schema::topology::Preempt;

fn resolve(files: &[(&str, &str)]) -> (Cluster, vigil::source::SourceMap) {
    let bytes: Vec<(&str, &[u8])> = files.iter().map(|(n, t)| (*n, t.as_bytes())).collect();
    let analysis = analyse_texts(&bytes);
    assert!(analysis.io_failures.is_empty());
    (analysis.cluster.expect("files load"), analysis.sources)
}

const A: &str = r#"[segment.front]
subnets = ["10.20.0.0/24"]
reference_ips = ["10.20.0.1"]

[host.web1.interface.eth0]
segment = "front"
addresses = ["10.20.0.11/24"]

[router.www]
segment = "front"
vrid = 51
vips = ["10.20.0.100/24"]
preempt = "always"

[router.www.arbitration]
attempts = 4

[router.www.member.web1]
priority = 150

[router.www.track.nginx]
command = ["/bin/true"]
on_fail = { demote = 60 }
"#;

const B: &str = r#"[segment.front]
subnets = ["10.20.0.0/24"]
reference_ips = ["10.20.0.2"]

[host.web2.interface.eth0]
segment = "front"
addresses = ["10.20.0.12/24"]

[router.www]
segment = "front"
vrid = 51
advert_interval = "500ms"

[router.www.member.web2]
priority = 100
"#;

#[test]
fn defaults_are_applied_and_marked_as_defaults() {
    let (cluster, sources) = resolve(&[("a.toml", A)]);
    let www = &cluster.routers["www"];
    assert_eq!(www.version.value, 3);
    assert!(!www.version.is_explicit());
    assert_eq!(www.advert_interval.value.as_millis(), 1000);
    assert!(www.accept.value && !www.accept.is_explicit());
    assert!(!www.unicast.value);
    assert_eq!(www.preempt.value, Preempt::Always);
    assert_eq!(
        sources.text(www.preempt.span.as_ref().unwrap()),
        "\"always\""
    );
    let arb = www.arbitration.as_ref().unwrap();
    assert_eq!(arb.interval.value.as_millis(), 1000);
    assert_eq!(arb.timeout.value.as_millis(), 500);
    assert_eq!(arb.attempts.value, 4);
    assert!(arb.attempts.is_explicit());
    // release_after defaults to interval × attempts.
    assert_eq!(arb.release_after.value.as_millis(), 4000);
    assert!(!arb.release_after.is_explicit());
    assert_eq!(www.garp.repeat.value, 5);
    let nginx = &www.trackers["nginx"];
    assert_eq!((nginx.rise.value, nginx.fall.value), (2, 3));
    let TrackAction::Demote(w) = &nginx.on_fail else {
        panic!()
    };
    assert_eq!(sources.text(&w.span), "60");
    assert_eq!(cluster.reference_ips(www).len(), 1);
    let iface = cluster.member_interface(www, &www.members["web1"]).unwrap();
    assert_eq!(iface.name, "eth0");
}

#[test]
fn routers_and_segments_merge_across_files() {
    let (cluster, sources) = resolve(&[("a.toml", A), ("b.toml", B)]);
    assert!(cluster.conflicts.is_empty(), "{:?}", cluster.conflicts);
    let www = &cluster.routers["www"];
    assert_eq!(www.definitions.len(), 2);
    assert_eq!(www.members.keys().collect::<Vec<_>>(), ["web1", "web2"]);
    // b.toml states the interval a.toml left out: adopted, with b's span.
    assert_eq!(www.advert_interval.value.as_millis(), 500);
    let span = www.advert_interval.span.as_ref().unwrap();
    assert_eq!(sources.file(span.file).name, "b.toml");
    // a.toml's VIPs and arbitration stay.
    assert_eq!(www.vips.len(), 1);
    assert!(www.arbitration.is_some());
    // Reference IPs are united.
    assert_eq!(cluster.segments["front"].reference_ips.len(), 2);
    assert_eq!(cluster.hosts.len(), 2);
}

#[test]
fn disagreements_become_conflicts_pointing_at_both_values() {
    let b = B
        .replace("vrid = 51", "vrid = 52")
        .replace("[router.www.member.web2]", "[router.www.member.web1]");
    let (cluster, sources) = resolve(&[("a.toml", A), ("b.toml", &b)]);
    let fields: Vec<_> = cluster
        .conflicts
        .iter()
        .map(|c| (c.kind, c.field.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        fields,
        [
            (ObjectKind::Router, "vrid".to_string()),
            (ObjectKind::Router, "member.web1.priority".to_string())
        ]
    );
    let vrid = &cluster.conflicts[0];
    assert_eq!(
        (vrid.kept.value.as_str(), vrid.other.value.as_str()),
        ("51", "52")
    );
    assert_eq!(sources.text(&vrid.kept.span), "51");
    assert_eq!(sources.file(vrid.other.span.file).name, "b.toml");
    // The first definition wins.
    assert_eq!(cluster.routers["www"].vrid.value, 51);
}

#[test]
fn hosts_may_be_defined_once() {
    let (cluster, _) = resolve(&[
        ("a.toml", A),
        (
            "b.toml",
            &A[A.find("[host").unwrap()..A.find("[router").unwrap()],
        ),
    ]);
    let dup: Vec<_> = cluster
        .conflicts
        .iter()
        .filter(|c| c.field.is_none())
        .collect();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].kind, ObjectKind::Host);
    assert_eq!(dup[0].name, "web1");
}
