//! The cases of multi-case lints that the bad/good fixtures do not cover.

use vigil::pipeline::analyse_texts;

const BASE: &str = r#"[segment.front]
subnets = ["10.20.0.0/24"]
reference_ips = ["10.20.0.1"]

[segment.back]
subnets = ["10.30.0.0/24"]

[host.web1.interface.eth0]
segment = "front"
addresses = ["10.20.0.11/24"]

[host.web1.interface.eth1]
segment = "back"
addresses = ["10.30.0.11/24"]

[host.web2.interface.eth0]
segment = "front"
addresses = ["10.20.0.12/24"]

[router.www]
segment = "front"
vrid = 51
vips = ["10.20.0.100/24"]

[router.www.arbitration]

[router.www.member.web1]
priority = 150

[router.www.member.web2]
priority = 100
"#;

/// `(code, message)` of every diagnostic of `text`.
fn diagnostics(text: &str) -> Vec<(&'static str, String)> {
    analyse_texts(&[("t.toml", text.as_bytes())])
        .diagnostics
        .into_iter()
        .map(|d| (d.code, d.message))
        .collect()
}

fn edit(pairs: &[(&str, &str)], extra: &str) -> String {
    let mut text = BASE.to_string();
    for (old, new) in pairs {
        assert!(text.contains(old), "{old}");
        text = text.replacen(old, new, 1);
    }
    text + extra
}

fn assert_only(text: &str, code: &str, needle: &str) {
    let found = diagnostics(text);
    assert!(!found.is_empty(), "nothing found");
    for (c, message) in &found {
        assert_eq!(*c, code, "{found:?}");
        assert!(message.contains(needle), "{message}");
    }
}

#[test]
fn base_is_clean() {
    assert_eq!(diagnostics(BASE), []);
}

#[test]
fn preempt_never_with_an_owner_or_only_demote_trackers() {
    let owner = edit(
        &[
            ("vrid = 51", "vrid = 51\npreempt = \"never\""),
            ("priority = 150", "priority = 255"),
            (
                "addresses = [\"10.20.0.11/24\"]",
                "addresses = [\"10.20.0.11/24\", \"10.20.0.100/24\"]",
            ),
        ],
        "",
    );
    assert_only(&owner, "V0401", "always preempts");
    let demote = edit(
        &[("vrid = 51", "vrid = 51\npreempt = \"never\"")],
        "\n[router.www.track.nginx]\ncommand = [\"/bin/true\"]\non_fail = { demote = 60 }\n",
    );
    assert_only(&demote, "V0401", "only demote");
    // One fault tracker is enough to move the VIPs.
    let mixed = demote + "\n[router.www.track.link]\ninterface = \"eth0\"\non_fail = \"fault\"\n";
    assert_eq!(diagnostics(&mixed), []);
}

#[test]
fn reference_ip_off_the_segment_or_on_a_member() {
    let off = edit(
        &[(
            "reference_ips = [\"10.20.0.1\"]",
            "reference_ips = [\"10.99.0.1\"]",
        )],
        "",
    );
    assert_only(&off, "V0502", "outside every subnet");
    let member = edit(
        &[(
            "reference_ips = [\"10.20.0.1\"]",
            "reference_ips = [\"10.20.0.12\"]",
        )],
        "",
    );
    assert_only(&member, "V0502", "address of host `web2`");
    let own = edit(
        &[(
            "[router.www.arbitration]\n",
            "[router.www.arbitration]\nreference_ips = [\"10.20.0.100\"]\n",
        )],
        "",
    );
    assert_only(&own, "V0502", "is a VIP");
}

#[test]
fn vip_equal_to_a_host_address() {
    let text = edit(
        &[("vips = [\"10.20.0.100/24\"]", "vips = [\"10.20.0.12/24\"]")],
        "",
    );
    assert_only(&text, "V0601", "also an address of host `web2`");
}

#[test]
fn member_interface_on_another_segment_or_no_interface() {
    let wrong = edit(
        &[("priority = 150", "priority = 150\ninterface = \"eth1\"")],
        "",
    );
    assert_only(&wrong, "V0802", "on segment `back`");
    let none = edit(
        &[(
            "[host.web2.interface.eth0]\nsegment = \"front\"",
            "[host.web2.interface.eth0]\nsegment = \"back\"",
        )],
        "",
    );
    assert_only(&none, "V0803", "no interface on segment `front`");
}

#[test]
fn tracker_on_an_owner_cannot_demote() {
    let text = edit(
        &[
            ("priority = 150", "priority = 255"),
            (
                "addresses = [\"10.20.0.11/24\"]",
                "addresses = [\"10.20.0.11/24\", \"10.20.0.100/24\"]",
            ),
        ],
        "\n[router.www.track.nginx]\ncommand = [\"/bin/true\"]\non_fail = { demote = 60 }\n",
    );
    assert_only(&text, "V0304", "cannot be lowered");
}

#[test]
fn tracker_with_both_kinds_and_health_with_two_kinds() {
    let both = edit(
        &[],
        "\n[router.www.track.x]\ninterface = \"eth0\"\ncommand = [\"/bin/true\"]\non_fail = \"fault\"\n",
    );
    assert_only(&both, "V0305", "both");
    let vs = "\n[virtual_server.http]\nrouter = \"www\"\naddress = \"10.20.0.100\"\nport = 80\n\n[virtual_server.http.health]\ntcp = {}\ncommand = [\"/bin/true\"]\n";
    assert_only(&edit(&[], vs), "V0903", "both `tcp` and `command`");
}

#[test]
fn unknown_router_of_a_virtual_server_and_duplicate_fwmark() {
    let vs = "\n[virtual_server.http]\nrouter = \"wwx\"\naddress = \"10.20.0.100\"\nport = 80\n";
    assert_only(&edit(&[], vs), "V0901", "not defined");
    let marks = "\n[virtual_server.a]\nrouter = \"www\"\nfwmark = 7\n\n[virtual_server.b]\nrouter = \"www\"\nfwmark = 7\n";
    assert_only(&edit(&[], marks), "V0902", "fwmark 7");
}

#[test]
fn collision_only_within_one_family() {
    // An IPv6 router may reuse an IPv4 router's VRID on the same segment.
    let v6 = edit(
        &[(
            "subnets = [\"10.20.0.0/24\"]",
            "subnets = [\"10.20.0.0/24\", \"fe80::/64\"]",
        )],
        "\n[router.www6]\nsegment = \"front\"\nvrid = 51\nvips = [\"fe80::51/64\"]\n\n[router.www6.arbitration]\n\n[router.www6.member.web1]\npriority = 150\n\n[router.www6.member.web2]\npriority = 100\n",
    );
    assert_eq!(diagnostics(&v6), []);
}
