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
        &[
            (
                "subnets = [\"10.20.0.0/24\"]",
                "subnets = [\"10.20.0.0/24\", \"fe80::/64\"]",
            ),
            (
                "addresses = [\"10.20.0.11/24\"]",
                "addresses = [\"10.20.0.11/24\", \"fe80::11/64\"]",
            ),
            (
                "addresses = [\"10.20.0.12/24\"]",
                "addresses = [\"10.20.0.12/24\", \"fe80::12/64\"]",
            ),
        ],
        "\n[router.www6]\nsegment = \"front\"\nvrid = 51\nvips = [\"fe80::51/64\"]\n\n[router.www6.arbitration]\n\n[router.www6.member.web1]\npriority = 150\n\n[router.www6.member.web2]\npriority = 100\n",
    );
    assert_eq!(diagnostics(&v6), []);
}

/// BASE with `www` sending adverts over segment `back` too.
fn with_heartbeat(extra: &str) -> String {
    edit(
        &[("vrid = 51", "vrid = 51\nheartbeat_paths = [\"back\"]")],
        &format!(
            "\n[host.web2.interface.eth1]\nsegment = \"back\"\naddresses = [\"10.30.0.12/24\"]\n{extra}"
        ),
    )
}

#[test]
fn heartbeat_vrid_collides_with_native_routers_paths_and_reservations() {
    assert_eq!(diagnostics(&with_heartbeat("")), []);
    let native = with_heartbeat(
        "\n[router.db]\nsegment = \"back\"\nvrid = 51\nvips = [\"10.30.0.100/24\"]\naccept_split_brain = \"test\"\nmember.web1 = { priority = 100 }\n",
    );
    assert_only(&native, "V0109", "which router `db` uses natively");
    // Two routers native to different segments whose heartbeat paths share
    // a third one, with the same VRID: reported once, at the later path.
    let paths = edit(
        &[("vrid = 51", "vrid = 51\nheartbeat_paths = [\"hb\"]")],
        "\n[segment.hb]\nsubnets = [\"10.99.0.0/24\"]\n\n[host.web1.interface.eth2]\nsegment = \"hb\"\naddresses = [\"10.99.0.11/24\"]\n\n[host.web2.interface.eth2]\nsegment = \"hb\"\naddresses = [\"10.99.0.12/24\"]\n\n[router.db]\nsegment = \"back\"\nvrid = 51\nvips = [\"10.30.0.100/24\"]\nheartbeat_paths = [\"hb\"]\nmember.web1 = { priority = 100 }\n",
    );
    let found = diagnostics(&paths);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "V0109");
    assert!(
        found[0]
            .1
            .contains("router `www` sends its adverts over heartbeat path `hb`")
            && found[0].1.contains("router `db` also sends there"),
        "{found:?}"
    );
    let reserved = with_heartbeat("").replace(
        "[segment.back]\nsubnets = [\"10.30.0.0/24\"]",
        "[segment.back]\nsubnets = [\"10.30.0.0/24\"]\nreserved_vrids = [{ vrid = 51, owner = \"the switches\" }]",
    );
    assert_only(&reserved, "V0109", "reserves for the switches");
}

#[test]
fn vip_prefix_host_prefixes_pass_and_longer_ones_are_reported() {
    let host = edit(&[("10.20.0.100/24", "10.20.0.100/32")], "");
    assert_eq!(diagnostics(&host), []);
    let narrow = edit(&[("10.20.0.100/24", "10.20.0.100/26")], "");
    assert_only(&narrow, "V0607", "another netmask");
    let wide = edit(&[("10.20.0.100/24", "10.20.0.100/8")], "");
    assert_only(&wide, "V0607", "route all of 10.0.0.0/8");
}

#[test]
fn arbitration_with_zero_timing_or_huge_attempts() {
    let zero = edit(
        &[(
            "[router.www.arbitration]\n",
            "[router.www.arbitration]\ninterval = \"0s\"\n",
        )],
        "",
    );
    assert_only(&zero, "V0503", "probes every 0s");
    let timeout = edit(
        &[(
            "[router.www.arbitration]\n",
            "[router.www.arbitration]\ntimeout = \"0ms\"\n",
        )],
        "",
    );
    assert_only(&timeout, "V0503", "every probe would fail");
    let attempts = edit(
        &[(
            "[router.www.arbitration]\n",
            "[router.www.arbitration]\nattempts = 4294967296\nrelease_after = \"3s\"\n",
        )],
        "",
    );
    assert_only(&attempts, "V0503", "a plan cannot carry it");
}

#[test]
fn garp_repeat_negative_or_huge() {
    for (value, needle) in [("-1", "announce nothing"), ("4294967296", "cannot carry")] {
        let text = edit(
            &[(
                "vrid = 51",
                &format!("vrid = 51\ngarp = {{ repeat = {value} }}"),
            )],
            "",
        );
        assert_only(&text, "V0207", needle);
    }
}

#[test]
fn tracker_timing_applies_to_command_trackers_only() {
    let interface = edit(
        &[],
        "\n[router.www.track.link]\ninterface = \"eth0\"\ninterval = \"0s\"\nrise = 0\non_fail = \"fault\"\n",
    );
    assert_eq!(diagnostics(&interface), []);
    let timeout = edit(
        &[],
        "\n[router.www.track.t]\ncommand = [\"/bin/true\"]\ntimeout = \"0s\"\non_fail = \"fault\"\n",
    );
    // Zero timeout is tracker-timing's alone, not also tracker-timeout-too-long's.
    assert_only(&timeout, "V0309", "killed at once");
}

#[test]
fn http_status_and_digest_forms() {
    let vs = |http: &str| {
        edit(
            &[],
            &format!(
                "\n[virtual_server.http]\nrouter = \"www\"\naddress = \"10.20.0.100\"\nport = 80\n\n[virtual_server.http.health]\nhttp = {http}\n"
            ),
        )
    };
    assert_eq!(diagnostics(&vs("{ status = \"204\" }")), []);
    for status in ["20x", "200-700", "99", "", "200-"] {
        assert_only(
            &vs(&format!("{{ status = \"{status}\" }}")),
            "V0911",
            "neither a code nor a range",
        );
    }
    let digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g";
    assert_only(
        &vs(&format!("{{ body_sha256 = \"{digest}\" }}")),
        "V0912",
        "`g` is not a hexadecimal digit",
    );
}

#[test]
fn dr_real_servers_per_director_tun_and_unknown_segments() {
    // web1 is on `back` (10.30.0.0/24), web2 is not.
    let vs = |method: &str, address: &str| {
        edit(
            &[],
            &format!(
                "\n[virtual_server.http]\nrouter = \"www\"\naddress = \"10.20.0.100\"\nport = 80\nmethod = \"{method}\"\nreal_server = [{{ address = \"{address}\" }}]\nsorry_server = \"10.20.0.50:80\"\n"
            ),
        )
    };
    assert_eq!(diagnostics(&vs("dr", "10.20.0.21")), []);
    assert_only(
        &vs("dr", "10.30.0.21"),
        "V0913",
        "where director `web2` has no interface",
    );
    // TUN reaches real servers over IP; an address on no segment is not judged.
    assert_eq!(diagnostics(&vs("tun", "10.30.0.21")), []);
    assert_eq!(diagnostics(&vs("dr", "192.0.2.21")), []);
    let sorry = vs("dr", "10.20.0.21").replace("10.20.0.50:80", "10.30.0.50:80");
    assert_only(&sorry, "V0913", "sorry server 10.30.0.50");
}

#[test]
fn conflicting_passwords_say_what_happens() {
    let a = "[segment.front]\nsubnets = [\"10.20.0.0/24\"]\nreference_ips = [\"10.20.0.1\"]\n\n[host.web1.interface.eth0]\nsegment = \"front\"\naddresses = [\"10.20.0.11/24\"]\n\n[router.legacy]\nsegment = \"front\"\nvrid = 9\nversion = 2\nvips = [\"10.20.0.9/24\"]\naccept_split_brain = \"test\"\nauth = { type = \"pass\", password = \"one\" }\nmember.web1 = { priority = 100 }\n";
    let b = "[router.legacy]\nsegment = \"front\"\nvrid = 9\nauth = { type = \"pass\", password = \"two\" }\n";
    let found: Vec<_> = analyse_texts(&[("a.toml", a.as_bytes()), ("b.toml", b.as_bytes())])
        .diagnostics
        .into_iter()
        .map(|d| (d.code, d.message))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "V0102");
    assert!(
        found[0].1.contains("rejects the other's adverts"),
        "{found:?}"
    );
}

#[test]
fn a_virtual_server_on_another_routers_vip_names_that_router() {
    let text = edit(
        &[],
        "\n[router.api]\nsegment = \"front\"\nvrid = 52\nvips = [\"10.20.0.101/24\"]\naccept_split_brain = \"test\"\nmember.web1 = { priority = 100 }\n\n[virtual_server.http]\nrouter = \"www\"\naddress = \"10.20.0.101\"\nport = 80\n",
    );
    let analysis = analyse_texts(&[("t.toml", text.as_bytes())]);
    assert_eq!(analysis.diagnostics.len(), 1, "{:?}", analysis.diagnostics);
    let d = &analysis.diagnostics[0];
    assert_eq!(d.code, "V0901");
    let help = d.help.as_deref().unwrap();
    assert!(
        help.contains("belongs to router `api`: set `router = \"api\"`"),
        "{help}"
    );
    assert!(
        d.secondary
            .iter()
            .any(|l| l.message.as_deref() == Some("10.20.0.101 is a VIP of router `api`"))
    );
}

#[test]
fn empty_vips_point_at_the_empty_list() {
    let text = edit(&[("vips = [\"10.20.0.100/24\"]", "vips = []")], "");
    let analysis = analyse_texts(&[("t.toml", text.as_bytes())]);
    let d = analysis
        .diagnostics
        .iter()
        .find(|d| d.code == "V0605")
        .expect("no-vips");
    assert_eq!(analysis.sources.text(&d.primary.span), "[]");
    // Left out entirely: the router's table.
    let text = edit(&[("vips = [\"10.20.0.100/24\"]\n", "")], "");
    let analysis = analyse_texts(&[("t.toml", text.as_bytes())]);
    let d = analysis
        .diagnostics
        .iter()
        .find(|d| d.code == "V0605")
        .expect("no-vips");
    assert!(
        analysis
            .sources
            .text(&d.primary.span)
            .starts_with("[router.www]")
    );
}

#[test]
fn unsafe_text_in_every_kind_of_command_and_http_values() {
    let cases = [
        "\n[router.www.track.t]\ncommand = [\"/bin/check\", \"a\\\"b\"]\non_fail = \"fault\"\n",
        "\n[router.www.notify]\nany = [\"/bin/n\\u001b[2J\"]\n",
        "\n[virtual_server.http]\nrouter = \"www\"\naddress = \"10.20.0.100\"\nport = 80\n\n[virtual_server.http.health]\nhttp = { path = \"/health check\" }\n",
        "\n[virtual_server.http]\nrouter = \"www\"\naddress = \"10.20.0.100\"\nport = 80\n\n[virtual_server.http.health]\nhttp = { host = \"a\\nb\" }\n",
    ];
    for extra in cases {
        assert_only(
            &edit(&[], extra),
            "V0110",
            "generated keepalived.conf cannot carry it",
        );
    }
    // Spaces and single quotes in command words are quoted correctly.
    let fine = edit(
        &[],
        "\n[router.www.track.t]\ncommand = [\"/bin/sh\", \"-c\", \"test -e '/run/x y'\"]\non_fail = \"fault\"\n",
    );
    assert_eq!(diagnostics(&fine), []);
    let program = edit(
        &[],
        "\n[router.www.track.t]\ncommand = [\"\", \"x\"]\non_fail = \"fault\"\n",
    );
    assert_only(&program, "V0111", "names no program");
}
