//! keepalived.conf as input: the reader's robustness, `check --keepalived`
//! on a three-host fleet with the classic mistakes (and the same fleet
//! fixed), and every format pointing into the keepalived.conf files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use vigil::keepalived::fleet::expand_args;
use vigil::keepalived::parse::read_text;
use vigil::keepalived::{HostSource, Options};
use vigil::pipeline::{Analysis, analyse_keepalived};
use vigil::render::{Format, human::Style, render_all};
use vigil::source::SourceMap;

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keepalived")
}

fn fleet(name: &str) -> Analysis {
    let dir = fixtures().join(name);
    let (hosts, failures) = expand_args(&[dir.display().to_string()]);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(hosts.len(), 3);
    analyse_keepalived(&hosts, &Options::default(), Vec::new())
}

/// (code, file relative to the fixture root, line) of every diagnostic.
fn places(a: &Analysis) -> Vec<(String, String, usize)> {
    let root = format!("{}/", fixtures().display());
    a.diagnostics
        .iter()
        .map(|d| {
            let file = a.sources.file(d.primary.span.file);
            let line = file.line_col(d.primary.span.range.start).line;
            (
                d.code.to_string(),
                file.name.trim_start_matches(&root).to_string(),
                line,
            )
        })
        .collect()
}

#[test]
fn every_classic_mistake_is_found_once_at_its_file_and_line() {
    let a = fleet("fleet-bad");
    let mut got = places(&a);
    got.sort();
    let want = |code: &str, file: &str, line: usize| (code.to_string(), file.to_string(), line);
    let mut expected = vec![
        // Asymmetric unicast peers: lb1 does not list lb3.
        want("V0015", "fleet-bad/lb1/conf.d/web.conf", 9),
        // nopreempt with state MASTER on lb1 only.
        want("V0401", "fleet-bad/lb1/conf.d/db.conf", 2),
        // VI_MAIL: two members, nothing against split brain.
        want("V0501", "fleet-bad/lb1/conf.d/mail.conf", 1),
        // lb2's password differs.
        want("V0102", "fleet-bad/lb2/conf.d/web.conf", 15),
        // lb2's priority ties lb1's.
        want("V0302", "fleet-bad/lb2/conf.d/db.conf", 5),
        // lb3's advert interval differs.
        want("V0102", "fleet-bad/lb3/conf.d/web.conf", 7),
        // lb3's VIP list differs.
        want("V0102", "fleet-bad/lb3/conf.d/db.conf", 8),
        // lb3 reuses VRID 51 for another instance on the segment.
        want("V0101", "fleet-bad/lb3/conf.d/api.conf", 4),
    ];
    expected.sort();
    assert_eq!(got, expected);
    let fields: Vec<&str> = a
        .diagnostics
        .iter()
        .filter(|d| d.code == "V0102")
        .map(|d| d.message.split('`').nth(3).unwrap_or(""))
        .collect();
    assert_eq!(fields.len(), 3);
    for f in ["auth", "advert_interval", "vips"] {
        assert!(fields.contains(&f), "{fields:?}");
    }

    let root = format!("{}/", fixtures().display());
    let text = render_all(
        Format::Human,
        &a.diagnostics,
        &a.sources,
        &Style::plain(100),
    )
    .replace(&root, "");
    insta::assert_snapshot!("keepalived_fleet_mistakes", text);
}

#[test]
fn the_fixed_fleet_is_clean() {
    let a = fleet("fleet-good");
    assert!(a.cluster.is_some());
    assert_eq!(places(&a), Vec::new());
    let cluster = a.cluster.unwrap();
    assert_eq!(
        cluster.routers.keys().collect::<Vec<_>>(),
        ["VI_API", "VI_DB", "VI_MAIL", "VI_WEB"]
    );
    assert_eq!(cluster.routers["VI_WEB"].members.len(), 3);
    assert_eq!(cluster.segments.len(), 1);
    // Values keep their place in the included files; lb2 includes
    // `/etc/keepalived/conf.d/*.conf`, found beside its main file.
    assert!(
        std::fs::read_to_string(fixtures().join("fleet-good/lb2/keepalived.conf"))
            .unwrap()
            .contains("include /etc/keepalived/conf.d/*.conf")
    );
    let prio = &cluster.routers["VI_DB"].members["lb2"].priority;
    let file = a.sources.file(prio.span.file);
    assert!(
        file.name.ends_with("fleet-good/lb2/conf.d/db.conf"),
        "{}",
        file.name
    );
    assert_eq!(a.sources.text(&prio.span), "150");
    assert_eq!(file.line_col(prio.span.range.start).line, 5);
}

#[test]
fn every_format_points_into_the_keepalived_files() {
    let dir = fixtures().join("fleet-bad");
    for format in ["json", "github", "sarif"] {
        let out = Command::new(VIGIL)
            .args(["check", "--keepalived"])
            .arg(&dir)
            .args(["--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("lb3/conf.d/api.conf"), "{format}: {text}");
        match format {
            "json" => {
                for line in text.lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    assert!(
                        v["file"].as_str().is_some_and(|f| f.ends_with(".conf")),
                        "{v}"
                    );
                }
            }
            "sarif" => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["runs"][0]["results"].as_array().map(Vec::len), Some(8));
                let errors: Vec<String> = sarif_validator()
                    .iter_errors(&v)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "invalid SARIF:\n{}", errors.join("\n"));
                let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
                for r in v["runs"][0]["results"].as_array().unwrap() {
                    let i = r["ruleIndex"].as_u64().unwrap() as usize;
                    assert_eq!(rules[i]["id"], r["ruleId"]);
                }
            }
            _ => assert!(
                text.lines()
                    .any(|l| l.starts_with("::error file=") && l.contains("api.conf,line=4")),
                "{text}"
            ),
        }
    }
    let good = Command::new(VIGIL)
        .args(["check", "--keepalived"])
        .arg(fixtures().join("fleet-good"))
        .output()
        .unwrap();
    assert_eq!(good.status.code(), Some(0));
    // HOST=FILE works like a directory entry.
    let one = Command::new(VIGIL)
        .args(["check", "--keepalived"])
        .arg(format!(
            "lb1={}",
            fixtures().join("fleet-good/lb1/keepalived.conf").display()
        ))
        .arg(format!(
            "lb2={}",
            fixtures().join("fleet-good/lb2/keepalived.conf").display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        one.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
}

/// The SARIF 2.1.0 schema (see `tests/sarif.rs` for the one repaired pattern).
fn sarif_validator() -> jsonschema::Validator {
    const BROKEN: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    let text = include_str!("sarif/sarif-2.1.0-rtm.5.json")
        .replace(BROKEN, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

// ------------------------------------------------------------ robustness

fn read(text: &[u8]) -> (Vec<vigil::diagnostic::Diagnostic>, SourceMap) {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    read_text("k.conf", text, &mut sources, &mut diags);
    (diags, sources)
}

fn line_of(d: &vigil::diagnostic::Diagnostic, s: &SourceMap) -> usize {
    s.file(d.primary.span.file)
        .line_col(d.primary.span.range.start)
        .line
}

#[test]
fn a_truncated_file_is_an_error_at_the_open_block() {
    let full = std::fs::read(fixtures().join("fleet-good/lb1/conf.d/web.conf")).unwrap();
    // Every prefix: no panic; a cut inside a block names a line of it.
    for cut in 0..full.len() {
        let (diags, sources) = read(&full[..cut]);
        for d in &diags {
            assert!(line_of(d, &sources) >= 1);
        }
    }
    let cut = full.len() / 2;
    let (diags, sources) = read(&full[..cut]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, "V0011");
    assert!(diags[0].message.contains("ends before the block"));
    assert!(line_of(&diags[0], &sources) <= 9);
}

#[test]
fn unbalanced_braces_and_unclosed_quotes_are_located() {
    let (d, s) = read(b"vrrp_instance A {\n  priority 100\n}\n}\n");
    assert_eq!(d.len(), 1);
    assert_eq!(line_of(&d[0], &s), 4);
    assert!(d[0].message.contains("without a matching `{`"));
    let (d, s) = read(b"vrrp_instance A {\n  notify \"/bin/x\n}\n");
    assert_eq!(d.len(), 1);
    assert_eq!(line_of(&d[0], &s), 2);
    let (d, s) = read(b"\n\n{\n a 1\n}\n");
    assert_eq!(d.len(), 1);
    assert_eq!(line_of(&d[0], &s), 3);
}

#[test]
fn binary_garbage_is_one_clear_error() {
    let mut garbage = b"global_defs {\n  router_id x\n}\n".to_vec();
    let mut x: u32 = 12345;
    for _ in 0..100_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        garbage.push((x >> 16) as u8);
    }
    let (d, s) = read(&garbage);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, "V0011");
    assert_eq!(line_of(&d[0], &s), 4);
    // Arbitrary bytes never panic.
    for seed in 0..200u32 {
        let mut y = seed;
        let bytes: Vec<u8> = (0..300)
            .map(|_| {
                y = y.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b"{}\"#! \nab/0\t"[(y >> 16) as usize % 12]
            })
            .collect();
        let _ = read(&bytes);
    }
}

#[test]
fn include_loops_and_missing_includes_are_reported() {
    let dir = std::env::temp_dir().join(format!("vigil-kad-inc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("d")).unwrap();
    std::fs::write(
        dir.join("a.conf"),
        "include d/*.conf\ninclude nothing-*.conf\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("d/b.conf"),
        "vrrp_script s {\n script x\n}\ninclude ../a.conf\n",
    )
    .unwrap();
    let hosts = [HostSource {
        host: "h".into(),
        path: dir.join("a.conf"),
    }];
    let a = analyse_keepalived(&hosts, &Options::default(), Vec::new());
    let codes: Vec<(&str, usize)> = a
        .diagnostics
        .iter()
        .map(|d| (d.code, line_of(d, &a.sources)))
        .collect();
    assert!(codes.contains(&("V0012", 2)), "{codes:?}");
    let looped = a
        .diagnostics
        .iter()
        .find(|d| d.message.starts_with("include loop"))
        .expect("loop reported");
    assert!(
        a.sources
            .file(looped.primary.span.file)
            .name
            .ends_with("b.conf")
    );
    assert_eq!(line_of(looped, &a.sources), 4);
    assert!(a.cluster.is_none(), "an include error stops the check");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reading_is_linear_in_the_file_size() {
    let block = "vrrp_instance VI_X {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    priority 100 # c\n    virtual_ipaddress {\n        10.0.0.100/24 dev eth0\n    }\n}\n";
    let make = |lines: usize| {
        let mut s = String::with_capacity(lines * 30);
        while s.lines().count() < lines {
            for _ in 0..1000 {
                s.push_str(block);
            }
        }
        s
    };
    let small = make(50_000);
    let big = make(100_000);
    let time = |text: &str| {
        let start = Instant::now();
        let (d, _) = read(text.as_bytes());
        assert!(d.is_empty());
        start.elapsed()
    };
    let _ = time(&small);
    let t_small = time(&small);
    let t_big = time(&big);
    assert!(
        t_big.as_secs_f64() < 1.0,
        "100k lines took {t_big:?} (debug build)"
    );
    assert!(
        t_big.as_secs_f64() < 4.0 * t_small.as_secs_f64() + 0.05,
        "50k lines {t_small:?}, 100k lines {t_big:?}: not linear"
    );
}

#[test]
fn random_configurations_never_panic_the_import() {
    // Plausible keepalived.conf soup: real keywords, values of every kind,
    // braces in and out of place; through the reader, the mapping, the
    // lints and the TOML writer.
    let words = [
        "vrrp_instance",
        "VI_1",
        "{",
        "}",
        "\n",
        "state",
        "MASTER",
        "interface",
        "eth0",
        "virtual_router_id",
        "51",
        "300",
        "priority",
        "0",
        "255",
        "advert_int",
        "0.5",
        "x",
        "virtual_ipaddress",
        "10.0.0.1/24",
        "fe80::1/64",
        "10.0.0.2/99",
        "dev",
        "label",
        "unicast_src_ip",
        "unicast_peer",
        "10.0.0.2",
        "track_script",
        "chk",
        "weight",
        "-20",
        "vrrp_script",
        "script",
        "\"/bin/ping -W 1 10.0.0.254\"",
        "virtual_server",
        "fwmark",
        "80",
        "real_server",
        "HTTP_GET",
        "url",
        "path",
        "/",
        "status_code",
        "MISC_CHECK",
        "misc_path",
        "lb_kind",
        "NAT",
        "vrrp_sync_group",
        "group",
        "nopreempt",
        "include",
        "authentication",
        "auth_pass",
        "!",
        "#",
        "@x",
        "global_defs",
        "vrrp_startup_delay",
    ];
    let dir = std::env::temp_dir().join(format!("vigil-kad-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut x: u64 = 7;
    for round in 0..60 {
        let mut hosts = Vec::new();
        for h in 0..2 {
            let mut text = String::new();
            for _ in 0..200 {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.push_str(words[(x >> 33) as usize % words.len()]);
                text.push(' ');
            }
            let path = dir.join(format!("r{round}h{h}.conf"));
            std::fs::write(&path, text).unwrap();
            hosts.push(HostSource {
                host: format!("h{h}"),
                path,
            });
        }
        let a = analyse_keepalived(&hosts, &Options::default(), Vec::new());
        if let Some(c) = &a.cluster {
            let _ = vigil::keepalived::emit::topology_toml(c, &a.diagnostics, &a.sources);
        }
        for d in &a.diagnostics {
            let f = a.sources.file(d.primary.span.file);
            assert!(d.primary.span.range.end <= f.text.len(), "{d:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_password_on_some_peers_only_is_a_conflict_at_the_instance_without() {
    let dir = std::env::temp_dir().join(format!("vigil-kad-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = |prio: u32, auth: &str| {
        format!(
            "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 7\n    priority {prio}\n{auth}    virtual_ipaddress {{\n        10.9.0.100/24 dev eth0 label eth0:vip\n    }}\n}}\n"
        )
    };
    let auth = "    authentication {\n        auth_type PASS\n        auth_pass pw\n    }\n";
    std::fs::write(dir.join("a.conf"), conf(150, auth)).unwrap();
    std::fs::write(dir.join("b.conf"), conf(100, "")).unwrap();
    let (hosts, _) = expand_args(&[dir.display().to_string()]);
    let a = analyse_keepalived(&hosts, &Options::default(), Vec::new());
    let found: Vec<(&str, String, usize)> = a
        .diagnostics
        .iter()
        .map(|d| {
            let f = a.sources.file(d.primary.span.file);
            (
                d.code,
                f.name.rsplit('/').next().unwrap().to_string(),
                line_of(d, &a.sources),
            )
        })
        .collect();
    assert!(found.contains(&("V0102", "b.conf".into(), 1)), "{found:?}");
    // A label other than Vigil's IFNAME:VRID is said not to be carried.
    let label = a
        .diagnostics
        .iter()
        .find(|d| d.code == "V0014" && d.message.contains("label"))
        .expect("label reported");
    assert_eq!(a.sources.text(&label.primary.span), "eth0:vip");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_fixed_fleet_imports_into_a_clean_topology_with_named_segment() {
    let dir = std::env::temp_dir().join(format!("vigil-kad-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("shop.toml");
    let status = Command::new(VIGIL)
        .arg("import")
        .arg(fixtures().join("fleet-good"))
        .args([
            "--segment",
            "front=10.0.0.0/24",
            "--cluster",
            "shop",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let toml = std::fs::read_to_string(&out).unwrap();
    for want in [
        "name = \"shop\"",
        "[segment.front]",
        "[router.VI_WEB.arbitration]",
        "reference_ips = [\"10.0.0.1\"]",
        "[router.VI_WEB.track.chk_nginx]",
        "on_fail = { demote = 60 }",
        "addresses = [\"10.0.0.13/24\"]",
        "preempt = \"never\"",
    ] {
        assert!(toml.contains(want), "{want} missing:\n{toml}");
    }
    let check = Command::new(VIGIL).arg("check").arg(&out).output().unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // The mistakes of the other fleet are listed in the imported file.
    let bad = dir.join("bad.toml");
    let status = Command::new(VIGIL)
        .arg("import")
        .arg(fixtures().join("fleet-bad"))
        .arg("--out")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(status.status.success());
    let toml = std::fs::read_to_string(&bad).unwrap();
    assert!(
        toml.contains("lb3/conf.d/web.conf:7:16: error V0102"),
        "{toml}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_include_inside_a_block_keeps_the_included_file_spans() {
    let dir = std::env::temp_dir().join(format!("vigil-kad-inblock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("main.conf"),
        "vrrp_instance VI_1\n{\n    interface eth0\n    virtual_router_id 9\n    include vips.inc\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("vips.inc"),
        "! the VIPs\nvirtual_ipaddress {\n    10.5.0.100/24\n}\npriority 300\n",
    )
    .unwrap();
    let hosts = [HostSource {
        host: "h".into(),
        path: dir.join("main.conf"),
    }];
    let a = analyse_keepalived(&hosts, &Options::default(), Vec::new());
    let router = &a.cluster.as_ref().expect("read").routers["VI_1"];
    let vip = &router.vips[0];
    assert!(a.sources.file(vip.span.file).name.ends_with("vips.inc"));
    assert_eq!(a.sources.text(&vip.span), "10.5.0.100/24");
    // The bad value in the included file is reported there.
    let bad = a
        .diagnostics
        .iter()
        .find(|d| d.code == "V0013")
        .expect("priority 300 reported");
    assert!(
        a.sources
            .file(bad.primary.span.file)
            .name
            .ends_with("vips.inc")
    );
    assert_eq!(line_of(bad, &a.sources), 5);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn directors_with_different_virtual_servers_are_told_apart() {
    let dir = std::env::temp_dir().join(format!("vigil-kad-vs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = |prio: u32, weight: u32| {
        format!(
            "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 7\n    priority {prio}\n    virtual_ipaddress {{\n        10.9.0.100/24\n    }}\n    track_script {{\n        gw\n    }}\n}}\nvrrp_script gw {{\n    script \"/bin/ping -c 1 -W 1 10.9.0.1\"\n    interval 2\n}}\nvirtual_server 10.9.0.100 80 {{\n    lb_algo rr\n    lb_kind DR\n    real_server 10.9.0.21 80 {{\n        weight {weight}\n        TCP_CHECK {{\n            connect_timeout 2\n        }}\n    }}\n}}\n"
        )
    };
    std::fs::write(dir.join("lb1.conf"), conf(150, 1)).unwrap();
    std::fs::write(dir.join("lb2.conf"), conf(100, 1)).unwrap();
    let (hosts, _) = expand_args(&[dir.display().to_string()]);
    let same = analyse_keepalived(&hosts, &Options::default(), Vec::new());
    assert_eq!(places(&same), Vec::new());
    std::fs::write(dir.join("lb2.conf"), conf(100, 5)).unwrap();
    let differs = analyse_keepalived(&hosts, &Options::default(), Vec::new());
    let got: Vec<(String, usize)> = places(&differs)
        .into_iter()
        .map(|(code, file, line)| (format!("{code} {}", file.rsplit('/').next().unwrap()), line))
        .collect();
    assert_eq!(got, [("V0016 lb2.conf".to_string(), 16)]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hosts_with_different_sync_groups_are_told_apart() {
    let dir = std::env::temp_dir().join(format!("vigil-kad-sg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let inst = |name: &str, vrid: u32, prio: u32| {
        format!(
            "vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id {vrid}\n    priority {prio}\n    virtual_ipaddress {{\n        10.9.0.{vrid}/24\n    }}\n}}\n"
        )
    };
    let lb1 = format!(
        "vrrp_sync_group G {{\n    group {{\n        A\n        B\n    }}\n}}\n{}{}",
        inst("A", 10, 150),
        inst("B", 11, 150)
    );
    let lb2 = format!(
        "vrrp_sync_group G {{\n    group {{\n        A\n    }}\n}}\n{}{}",
        inst("A", 10, 100),
        inst("B", 11, 100)
    );
    std::fs::write(dir.join("lb1.conf"), lb1).unwrap();
    std::fs::write(dir.join("lb2.conf"), lb2).unwrap();
    let (hosts, _) = expand_args(&[dir.display().to_string()]);
    let a = analyse_keepalived(&hosts, &Options::default(), Vec::new());
    let differs: Vec<(String, String, usize)> = places(&a)
        .into_iter()
        .filter(|(code, _, _)| code == "V0016")
        .collect();
    assert_eq!(differs.len(), 1, "{differs:?}");
    assert!(differs[0].1.ends_with("lb2.conf") && differs[0].2 == 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_positive_weight_becomes_a_higher_priority_and_a_demotion() {
    let dir = std::env::temp_dir().join(format!("vigil-kad-pos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("h.conf"),
        "vrrp_script chk {\n    script \"/bin/true\"\n    weight 20\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 7\n    priority 100\n    virtual_ipaddress {\n        10.9.0.100/24\n    }\n    track_script {\n        chk\n    }\n    track_interface {\n        eth1 weight -30\n    }\n}\n",
    )
    .unwrap();
    let hosts = [HostSource {
        host: "h".into(),
        path: dir.join("h.conf"),
    }];
    let a = analyse_keepalived(&hosts, &Options::default(), Vec::new());
    let r = &a.cluster.as_ref().unwrap().routers["VI_1"];
    assert_eq!(r.members["h"].priority.value, 120);
    let demote = |t: &str| match &r.trackers[t].on_fail {
        vigil::model::TrackAction::Demote(w) => w.value,
        other => panic!("{other:?}"),
    };
    assert_eq!(demote("chk"), 20);
    assert_eq!(demote("eth1"), 30);
    let info = a
        .diagnostics
        .iter()
        .find(|d| d.message.contains("raises the priority by 20"))
        .expect("reported");
    assert_eq!(line_of(info, &a.sources), 3);
    let _ = std::fs::remove_dir_all(&dir);
}
