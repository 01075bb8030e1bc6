//! `vigil build` never fails on a topology that `vigil check` accepted:
//! whatever checks without errors compiles to plans and artifacts.

use std::path::{Path, PathBuf};

use vigil::artifacts::Templates;
use vigil::build::outputs;
use vigil::pipeline::{Analysis, analyse_paths, analyse_texts};

fn builds(analysis: &Analysis, what: &str) -> Result<(), String> {
    let cluster = analysis.cluster.as_ref().ok_or("no cluster")?;
    outputs(cluster, &analysis.sources, &Templates::embedded())
        .map(|_| ())
        .map_err(|e| format!("{what}: checked clean but build failed: {e}"))
}

/// Every good fixture and every example that checks without errors builds.
#[test]
fn every_fixture_and_example_that_checks_clean_builds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(root.join("tests/fixtures/lints")).unwrap() {
        let dir = entry.unwrap().path();
        for kind in ["good", "bad"] {
            let file = dir.join(format!("{kind}.toml"));
            let sub = dir.join(kind);
            inputs.extend([file, sub].into_iter().filter(|p| p.exists()));
        }
    }
    for entry in std::fs::read_dir(root.join("../examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            inputs.push(path);
        }
    }
    inputs.sort();
    let mut built = 0;
    let mut failures = Vec::new();
    for input in &inputs {
        let analysis = analyse_paths(std::slice::from_ref(input));
        if analysis.cluster.is_none() || analysis.has_errors() {
            continue;
        }
        match builds(&analysis, &input.display().to_string()) {
            Ok(()) => built += 1,
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // Every lint's good fixture, plus warnings' bad ones and the examples.
    assert!(built > 60, "only {built} inputs built");
}

/// A topology using every integer field; `{field}` markers are replaced.
const BASE: &str = r#"[cluster]
name = "edge"

[segment.front]
subnets = ["10.20.0.0/24"]
reference_ips = ["10.20.0.1"]

[host.web1.interface.eth0]
segment = "front"
addresses = ["10.20.0.11/24"]

[host.web2.interface.eth0]
segment = "front"
addresses = ["10.20.0.12/24"]

[router.www]
segment = "front"
vrid = {vrid}
version = {version}
vips = ["10.20.0.100/24"]
garp = { repeat = {repeat} }

[router.www.arbitration]
attempts = {attempts}
release_after = "3s"

[router.www.member.web1]
priority = {priority}

[router.www.member.web2]
priority = 100

[router.www.track.t]
command = ["/bin/true"]
rise = {trise}
fall = {tfall}
on_fail = { demote = {demote} }

[virtual_server.v]
router = "www"
address = "10.20.0.100"
port = {port}
persistence = "60s"
persistence_prefix = {pprefix}
quorum = {quorum}
hysteresis = {hysteresis}

[[virtual_server.v.real_server]]
address = "10.20.0.21"
weight = {weight}
upper_threshold = {upper}
lower_threshold = {lower}

[[virtual_server.v.real_server]]
address = "10.20.0.22"
weight = 1000

[virtual_server.v.health]
rise = {hrise}
fall = {hfall}
tcp = { port = {tport} }
"#;

const FIELDS: &[(&str, i64)] = &[
    ("vrid", 51),
    ("version", 3),
    ("repeat", 5),
    ("attempts", 3),
    ("priority", 150),
    ("trise", 2),
    ("tfall", 3),
    ("demote", 60),
    ("port", 80),
    ("pprefix", 24),
    ("quorum", 1),
    ("hysteresis", 0),
    ("weight", 100),
    ("upper", 0),
    ("lower", 0),
    ("hrise", 2),
    ("hfall", 3),
    ("tport", 8080),
];

fn topology(field: &str, value: i64) -> String {
    let mut text = BASE.to_string();
    for (name, default) in FIELDS {
        let v = if *name == field { value } else { *default };
        text = text.replace(&format!("{{{name}}}"), &v.to_string());
    }
    text
}

/// Each integer field at the edges of every integer type: either `check`
/// reports an error, or `build` succeeds.
#[test]
fn integers_that_check_clean_build() {
    let base = analyse_texts(&[("t.toml", topology("", 0).as_bytes())]);
    assert!(
        base.diagnostics.is_empty(),
        "the base must be clean: {:?}",
        base.diagnostics
    );
    builds(&base, "base").unwrap();
    let values = [
        i64::MIN,
        -2_147_483_649,
        -1,
        0,
        1,
        127,
        128,
        255,
        256,
        65_535,
        65_536,
        2_147_483_647,
        2_147_483_648,
        4_294_967_295,
        4_294_967_296,
        i64::MAX,
    ];
    let mut failures = Vec::new();
    for (field, _) in FIELDS {
        for value in values {
            let text = topology(field, value);
            let analysis = analyse_texts(&[("t.toml", text.as_bytes())]);
            if analysis.cluster.is_none() || analysis.has_errors() {
                continue;
            }
            if let Err(e) = builds(&analysis, &format!("{field} = {value}")) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
