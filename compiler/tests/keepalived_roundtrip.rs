//! Round trip on every example: topology → `vigil build` (keepalived.conf
//! per host) → `vigil import` → topology → `vigil build`, and the plans of
//! both builds are equal on everything keepalived.conf carries; a second
//! import of the rebuilt files gives the same topology text (fixed point).
//!
//! What keepalived.conf cannot carry is listed in
//! docs/migrating-from-keepalived.md ("What a round trip keeps") and is
//! erased from both plans by [`comparable`] before comparing, field by
//! field, so any other difference fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vigil-rt-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new(VIGIL).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "vigil {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// Every host's plan in a build directory, by host name.
fn plans(dir: &Path) -> std::collections::BTreeMap<String, Value> {
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let plan = p.join("plan.json");
        if plan.is_file() {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
            out.insert(p.file_name().unwrap().to_string_lossy().into_owned(), v);
        }
    }
    out
}

/// The plan without what keepalived.conf does not carry (documented in
/// docs/migrating-from-keepalived.md).
fn comparable(mut plan: Value) -> Value {
    let o = plan.as_object_mut().unwrap();
    // Derived from the topology text, which differs by construction.
    o.remove("topology_hash");
    for r in o["routers"].as_array_mut().unwrap() {
        let r = r.as_object_mut().unwrap();
        let interface = r["interface"].clone();
        // keepalived.conf gets a ping of the first reference IP with a
        // whole-second wait; the rest of the arbitration has no equivalent.
        if let Some(a) = r["arbitration"].as_object_mut() {
            a["reference_ips"].as_array_mut().unwrap().truncate(1);
            for k in ["timeout_ms", "release_after_ms", "fence", "self_fence"] {
                a.remove(k);
            }
        }
        // Extra heartbeat segments and the hook timeout have no keyword.
        r.remove("heartbeat_paths");
        r["notify"].as_object_mut().unwrap().remove("timeout_ms");
        r["garp"].as_object_mut().unwrap().remove("interval_ms");
        // keepalived always tracks the instance's own interface, so the
        // build leaves that tracker out.
        r["trackers"]
            .as_array_mut()
            .unwrap()
            .retain(|t| t["kind"]["interface"]["interface"] != interface || interface.is_null());
    }
    for vs in o["virtual_servers"].as_array_mut().unwrap() {
        let vs = vs.as_object_mut().unwrap();
        // Names are the topology's; keepalived knows address and port.
        vs.remove("name");
        if let Some(h) = vs["health"].as_object_mut() {
            // keepalived has no rise count and no warm-up.
            h.remove("rise");
            h.remove("warmup_ms");
            if let Some(http) = h["check"]["http"].as_object_mut() {
                // MD5 digest there, SHA-256 here; the Host header is written
                // per real server there and not by the build.
                http.remove("body_sha256");
                http.remove("host");
            }
        }
    }
    o["virtual_servers"]
        .as_array_mut()
        .unwrap()
        .sort_by_key(|v| v.to_string());
    plan
}

#[test]
fn every_example_survives_keepalived_conf_and_back() {
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 4);
    for example in examples {
        let tag = example.file_stem().unwrap().to_string_lossy().into_owned();
        let scratch = Scratch::new(&tag);
        let s = |p: &str| scratch.0.join(p).display().to_string();
        run(&["build", &example.display().to_string(), "--out", &s("a")]);
        run(&["import", &s("a"), "--out", &s("imported.toml")]);
        let imported = std::fs::read_to_string(scratch.0.join("imported.toml")).unwrap();
        run(&["build", &s("imported.toml"), "--out", &s("b")]);
        let (a, b) = (plans(&scratch.0.join("a")), plans(&scratch.0.join("b")));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{tag}: hosts"
        );
        for (host, plan) in &a {
            let (x, y) = (comparable(plan.clone()), comparable(b[host].clone()));
            assert_eq!(
                x,
                y,
                "{tag}/{host}: plans differ\nimported topology:\n{imported}\nleft: {}\nright: {}",
                serde_json::to_string_pretty(&x).unwrap(),
                serde_json::to_string_pretty(&y).unwrap()
            );
        }
        // The regenerated keepalived.conf files say the same to keepalived:
        // equal but for comments and the order of top-level blocks (virtual
        // servers are ordered by their topology names).
        for host in a.keys() {
            let conf = |d: &str| {
                blocks(
                    &std::fs::read_to_string(scratch.0.join(d).join(host).join("keepalived.conf"))
                        .unwrap(),
                )
            };
            assert_eq!(
                conf("a"),
                conf("b"),
                "{tag}/{host}: keepalived.conf differs"
            );
        }
        // Fixed point: importing the rebuilt files gives the same topology.
        run(&["import", &s("b"), "--out", &s("again.toml")]);
        let again = std::fs::read_to_string(scratch.0.join("again.toml")).unwrap();
        let body = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(body(&imported), body(&again), "{tag}: not a fixed point");
    }
}

/// A keepalived.conf's top-level blocks without comment lines, sorted.
fn blocks(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with([' ', '\t', '}']) || out.is_empty() {
            out.push(String::new());
        }
        let last = out.last_mut().unwrap();
        last.push_str(line);
        last.push('\n');
    }
    out.sort();
    out
}
