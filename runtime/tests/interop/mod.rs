//! Helpers for running `vigild` next to the real keepalived in the namespace lab.
//!
//! Both sides are configured from one topology compiled by the real compiler
//! (`vigil build`): the vigild host gets its plan, the host marked
//! `runtime = "keepalived"` gets the emitted `keepalived.conf`. So every
//! interop test checks the compiler's keepalived output as well as the
//! runtime's wire behaviour. A test may patch the emitted files afterwards
//! (equal priorities, a wrong password) for cases the compiler refuses to
//! emit on purpose.
//!
//! State is read from both daemons, not guessed from logs alone: vigild's
//! SIGUSR1 dump (one JSON line with every router's state and counters) and
//! keepalived's `(NAME) Entering X STATE` lines, plus VIP placement in the
//! kernel (`ip -o addr`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::lab::Lab;

/// The `vigil` compiler binary: `$VIGIL_BIN`, else the workspace's debug build.
pub fn vigil_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VIGIL_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/vigil")
}

/// `true` when keepalived and the compiler binary are there. Otherwise the
/// test fails with a clear message, or, with `VIGIL_SKIP_NETNS=1`, is
/// skipped (returns `false`).
pub fn tools_available() -> bool {
    let keepalived = Command::new("sh")
        .args(["-c", "command -v keepalived"])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let bin = vigil_bin();
    let missing = if !keepalived {
        Some("`keepalived` is not installed (apt-get install -y keepalived)".to_string())
    } else if !bin.exists() {
        Some(format!(
            "the compiler binary {} is missing: run `cargo build -p vigil` first (or set VIGIL_BIN)",
            bin.display()
        ))
    } else {
        None
    };
    match missing {
        None => true,
        Some(why) if std::env::var("VIGIL_SKIP_NETNS").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: {why} (VIGIL_SKIP_NETNS=1)");
            false
        }
        Some(why) => panic!("{why}; set VIGIL_SKIP_NETNS=1 to skip these tests"),
    }
}

/// Runs `vigil build TOPOLOGY --out DIR`, panicking with its diagnostics on failure.
pub fn vigil_build(topology: &Path, out: &Path) {
    let o = Command::new(vigil_bin())
        .arg("build")
        .arg(topology)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run vigil build");
    assert!(
        o.status.success(),
        "vigil build failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Replaces, inside `vrrp_instance NAME { ... }` of a keepalived.conf, the
/// first line starting with `key` by `new_line` (or appends `new_line` to the
/// block when no line has that key).
pub fn kad_set(conf: &str, instance: &str, key: &str, new_line: &str) -> String {
    let head = format!("vrrp_instance {instance} {{");
    let start = conf
        .find(&head)
        .unwrap_or_else(|| panic!("no vrrp_instance {instance} in\n{conf}"));
    // The instance block ends at the first line that is exactly "}".
    let end = start
        + conf[start..]
            .find("\n}")
            .expect("unterminated vrrp_instance");
    let block = &conf[start..end];
    let mut lines: Vec<String> = block.lines().map(str::to_string).collect();
    match lines
        .iter()
        .position(|l| l.trim_start().starts_with(&format!("{key} ")) || l.trim() == key)
    {
        Some(i) => lines[i] = format!("    {new_line}"),
        None => lines.push(format!("    {new_line}")),
    }
    format!("{}{}{}", &conf[..start], lines.join("\n"), &conf[end..])
}

/// Sets a field of router `name` in a plan (JSON text).
pub fn plan_set(plan: &str, router: &str, field: &str, value: serde_json::Value) -> String {
    let mut v: serde_json::Value = serde_json::from_str(plan).expect("plan JSON");
    let r = v["routers"]
        .as_array_mut()
        .expect("routers")
        .iter_mut()
        .find(|r| r["name"] == router)
        .unwrap_or_else(|| panic!("no router {router} in plan"));
    r[field] = value;
    serde_json::to_string_pretty(&v).unwrap()
}

/// A keepalived started in a lab namespace (`--vrrp` only, own pid files).
pub struct Keepalived {
    pub ns: String,
    pub name: String,
    pub conf: PathBuf,
    pub log: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl Keepalived {
    /// Starts keepalived in `ns` with `conf`; output is appended to `<dir>/<name>.kad.log`.
    pub fn start(ns: &str, name: &str, conf: &Path, dir: &Path) -> Keepalived {
        let log = dir.join(format!("{name}.kad.log"));
        let mut k = Keepalived {
            ns: ns.to_string(),
            name: name.to_string(),
            conf: conf.to_path_buf(),
            log,
            dir: dir.to_path_buf(),
            child: None,
        };
        k.restart();
        k
    }

    fn pidfile(&self, what: &str) -> PathBuf {
        self.dir.join(format!("{}.{what}.pid", self.name))
    }

    /// (Re)starts the daemon after [`Keepalived::stop`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "keepalived {} still runs", self.name);
        let f = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("keepalived log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "keepalived"])
            .args([
                "--dont-fork",
                "--log-console",
                "--log-detail",
                "--no-syslog",
                "--vrrp",
            ])
            .arg("-f")
            .arg(&self.conf)
            .arg("-p")
            .arg(self.pidfile("main"))
            .arg("-r")
            .arg(self.pidfile("vrrp"))
            .arg("-c")
            .arg(self.pidfile("chk"))
            .arg("-b")
            .arg(self.pidfile("bfd"))
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .expect("spawn keepalived");
        self.child = Some(child);
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// Sends SIGTERM (graceful: priority-0 adverts, VIPs removed) without
    /// waiting; [`Keepalived::stop`] reaps it.
    pub fn terminate(&self) {
        if let Some(c) = &self.child {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
    }

    /// SIGTERM (graceful: priority-0 adverts, VIPs removed) and wait for exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `Entering X STATE` of each instance (X = MASTER, BACKUP, FAULT).
    pub fn states(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for line in self.log_text().lines() {
            let Some(i) = line.find(") Entering ") else {
                continue;
            };
            let Some(open) = line[..i].rfind('(') else {
                continue;
            };
            let name = &line[open + 1..i];
            let rest = &line[i + ") Entering ".len()..];
            // "MASTER STATE", "BACKUP STATE (init)", "FAULT STATE"...
            if let Some((state, _)) = rest.split_once(" STATE") {
                m.insert(name.to_string(), state.to_string());
            }
        }
        m
    }

    /// The state of one instance (`""` if it never entered one).
    pub fn state(&self, instance: &str) -> String {
        self.states().remove(instance).unwrap_or_default()
    }

    /// Log lines complaining about a received packet (checksum, invalid, bogus...).
    pub fn complaints(&self, from_line: usize) -> Vec<String> {
        self.log_text()
            .lines()
            .skip(from_line)
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                [
                    "invalid",
                    "bogus",
                    "checksum",
                    "not present in master advert",
                    "wrong version",
                    "mismatch",
                    "received a ",
                    "unknown vrid",
                ]
                .iter()
                .any(|w| l.contains(w))
            })
            .map(str::to_string)
            .collect()
    }

    pub fn line_count(&self) -> usize {
        self.log_text().lines().count()
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // SIGKILL of the parent makes the VRRP child resign on its own; if it
        // is still there (a stopped parent), kill it by its pid file.
        if let Ok(p) = std::fs::read_to_string(self.pidfile("vrrp"))
            && let Ok(pid) = p.trim().parse::<i32>()
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Kills every process still running in a lab's namespaces when dropped
/// (keepalived's VRRP child outlives a killed parent, and a failed test may
/// leave anything behind). Create it right after the lab, so it drops first.
pub struct Cleanup(Vec<String>);

impl Cleanup {
    pub fn new(lab: &Lab) -> Cleanup {
        let mut namespaces: Vec<String> = (1..=lab.hosts).map(|i| lab.ns(i)).collect();
        namespaces.push(lab.bridge_ns());
        Cleanup(namespaces)
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for ns in &self.0 {
            let out = Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for pid in out.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// vigild's state and counters, from a fresh SIGUSR1 dump.
#[derive(Debug, Clone)]
pub struct Dump {
    pub routers: BTreeMap<String, serde_json::Value>,
    pub unattributed: serde_json::Value,
    pub shell: serde_json::Value,
}

impl Dump {
    pub fn state(&self, router: &str) -> String {
        self.routers
            .get(router)
            .and_then(|r| r["state"].as_str())
            .unwrap_or("")
            .to_string()
    }

    pub fn stat(&self, router: &str, counter: &str) -> u64 {
        self.routers
            .get(router)
            .and_then(|r| r["stats"][counter].as_u64())
            .unwrap_or_else(|| panic!("no counter {counter} for {router} in {:?}", self.routers))
    }

    /// Sum of every receive-error counter of a router.
    pub fn rx_errors(&self, router: &str) -> u64 {
        [
            "checksum_errors",
            "version_errors",
            "vrid_errors",
            "invalid_type",
            "interval_errors",
            "ttl_errors",
            "length_errors",
            "address_list_errors",
            "auth_failures",
            "invalid_auth_type",
            "auth_type_mismatch",
            "other_errors",
        ]
        .iter()
        .map(|c| self.stat(router, c))
        .sum()
    }
}

/// The JSON lines of a vigild log.
pub fn log_events(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

/// Sends SIGUSR1 to vigild (lab child `child`, logging as `host`) and parses the new dump line.
pub fn vigild_dump(lab: &Lab, child: usize, host: &str) -> Dump {
    let before = log_events(&lab.log(host))
        .iter()
        .filter(|e| e["event"] == "dump")
        .count();
    lab.signal(child, nix::sys::signal::Signal::SIGUSR1);
    let start = Instant::now();
    loop {
        let dumps: Vec<serde_json::Value> = log_events(&lab.log(host))
            .into_iter()
            .filter(|e| e["event"] == "dump")
            .collect();
        if dumps.len() > before {
            let d = dumps.last().unwrap();
            let routers = d["routers"]
                .as_array()
                .expect("dump routers")
                .iter()
                .map(|r| (r["router"].as_str().unwrap().to_string(), r.clone()))
                .collect();
            return Dump {
                routers,
                unattributed: d["unattributed"].clone(),
                shell: d["shell"].clone(),
            };
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "vigild ({host}) wrote no dump after SIGUSR1:\n{}",
            lab.log(host)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The `state_change` events of vigild for one router, as (from, to, reason).
pub fn vigild_transitions(lab: &Lab, host: &str, router: &str) -> Vec<(String, String, String)> {
    log_events(&lab.log(host))
        .into_iter()
        .filter(|e| e["event"] == "state_change" && e["router"] == router)
        .map(|e| {
            (
                e["from"].as_str().unwrap_or("").to_string(),
                e["to"].as_str().unwrap_or("").to_string(),
                e["reason"].to_string(),
            )
        })
        .collect()
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
